// The package root: the contract (types, constants, errors, SessionService), its three implementations,
// SessionRecovery and SessionCleanupJob, the session rules, and the runtime entry points.
export * from './types';
export * from './errors';
export type {
  SessionService,
  CommandCapableService,
  CommandOptions,
  ForkCapable,
  ForkOptions,
  TranscriptCapable,
  Watchable,
  WatchOptions,
  ChangesOptions,
  ChangesAnswer,
} from './service';
export type { SessionChange, WireSessionChange } from './session-changes';
export { isCommandCapable } from './service';
export {
  applyCommand,
  applyWindow,
  checkToolPairing,
  messageBytes,
  validateMessage,
  recentMessages,
  lastMessage,
  validateCommand,
  validateSessionId,
  validateUserId,
  expiryCutoff,
} from './session-rules';
export type { SessionCommand, SessionSnapshot, CommandType } from './session-rules';
export { SessionRecovery } from './recovery';
export type { AppendOptions } from './recovery';
export { SessionCleanupJob } from './retention/job';
export type { CleanupConfig, CleanupScheduler, CleanupLogger } from './retention/job';
export { InMemorySessionService } from './memory/in-memory-service';
export type { InMemorySessionServiceOptions } from './memory/in-memory-service';
export { PostgresSessionStore } from './postgres/store';
export type { SessionCache } from './postgres/cache';
export { LruSessionCache } from './postgres/cache';
export { createPool } from './postgres/pool';
export { migrate } from './postgres/migrate';
export { TemporalSessionService } from './temporal/service';
export type { TemporalSessionServiceOptions } from './temporal/service';
export type { DurableTurnOptions } from './temporal/durable-turns';
export { createSessionWorker } from './temporal/worker';
export { loadConfig } from './config';
export { createLogger } from './logger';
export type { Config, ActorConfig } from './config';
export { startStack } from './runtime/stack';
export { connectToStack } from './runtime/connect';
export type { Stack } from './runtime/stack';
export type { StackConnection } from './runtime/connect';
export * as actorProtocol from '../workflows/messages';
export { AesGcmCodec, parseKeyRing, encryptingDataConverter } from './codec';
export type { KeyRing, CodecKey } from './codec';
export {
  ensureCleanupSchedule,
  pauseCleanupSchedule,
  unpauseCleanupSchedule,
  triggerCleanupSchedule,
  cleanupScheduleId,
} from './retention/schedule';
export { buildApp, startApi } from './http';
export { createMetrics, SessionMetrics } from './metrics';
