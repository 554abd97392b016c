// TemporalSessionService: the product. Every change is one command to the session's actor (update-with-start);
// reads ask the running actor and fall back to the Postgres snapshot; lists and transcripts read Postgres; watchers
// long-poll the actor (change-polls.ts). Calls to the actor: actor-client.ts; durable turns: durable-turns.ts.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { sealedKeysOf } from '../codec/session-key-codec';
import type { ActorConfig } from '../config';
import { listSummaries, loadSnapshot } from '../postgres/snapshots';
import { readTranscript } from '../postgres/transcript';
import { SessionNotFoundError, ValidationError } from '../errors';
import {
  type ChangesAnswer,
  type ChangesOptions,
  type CommandCapableService,
  type CommandOptions,
  type DeleteOptions,
  type ForkCapable,
  type ForkOptions,
  type TranscriptCapable,
  type Watchable,
  type WatchOptions,
  withExpectedOwner,
} from '../service';
import type { SessionChange } from '../session-changes';
import { watchChanges } from '../watch';
import {
  SessionCommand,
  recentMessages,
  validateCommand,
  validateRetentionDays,
  validateSessionId,
  validateTurnId,
  validateUserId,
} from '../session-rules';
import {
  CommandResult,
  CommandVersion,
  ConversationContext,
  ListOptions,
  Message,
  SessionPage,
  SessionSummary,
  TranscriptOptions,
  TranscriptPage,
  copyContext,
  fromWireContext,
  fromWireMessage,
} from '../types';
import {
  EPHEMERAL_UPDATE_ID_PREFIX,
  type CommandAck,
  TurnOutcome,
  contextQuery,
  deleteSessionUpdate,
  recentMessagesQuery,
  sessionWorkflowId,
  snapshotQuery,
} from '../../workflows/messages';
import type { CleanupConfig, CleanupScheduler } from '../retention/job';
import { runCleanup } from '../retention/schedule';
import { toWireUpdate } from '../../workflows/wire-commands';
import { eraseRunsThrough, eraseWorkflowHistories } from '../retention/erasure';
import { destroyOnceClosed } from '../retention/retired-keys';
import { SessionActorClient } from './actor-client';
import { pollChanges } from './change-polls';
import { scheduledCleanup } from './cleanup-scheduler';
import { type DurableTurnOptions, durableTurnStatus, submitDurableTurn } from './durable-turns';
import { toSessionError } from './failures';

export interface TemporalSessionServiceOptions {
  client: Client;
  /** Postgres holding the snapshots (the worker's activities write them). */
  pool: Pool;
  taskQueue: string;
  actor?: Partial<ActorConfig>;
}

export class TemporalSessionService
  implements CommandCapableService, ForkCapable, TranscriptCapable, Watchable
{
  private readonly client: Client;
  private readonly pool: Pool;
  private readonly taskQueue: string;
  /** The sessions' actors: queries, retried commands and their start (actor-client.ts). */
  private readonly actors: SessionActorClient;

  constructor(options: TemporalSessionServiceOptions) {
    this.client = options.client;
    this.pool = options.pool;
    this.taskQueue = options.taskQueue;
    this.actors = new SessionActorClient(options.client, options.taskQueue, options.actor ?? {});
  }

  /** Applies one command in the session's actor and answers once it is applied (the "applied" acknowledgement). */
  async execute(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions = {},
  ): Promise<CommandResult> {
    const ack = await this.applied(sessionId, command, options, false);
    if (!ack.context) throw new Error(`session actor ${sessionId} answered without the session`);
    return { version: ack.version, context: fromWireContext(ack.context) };
  }

  /**
   * Like execute, answering with the version only: the session after the command does not travel back (the
   * update's completion in the history holds a few bytes instead of the whole window).
   */
  async commit(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions = {},
  ): Promise<CommandVersion> {
    return { version: (await this.applied(sessionId, command, options, true)).version };
  }

  private async applied(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions,
    versionOnly: boolean,
  ): Promise<CommandAck> {
    validateSessionId(sessionId);
    const owned = withExpectedOwner(command, options);
    validateCommand(owned);
    if (options.turnId !== undefined) validateTurnId(options.turnId);
    // The turn id travels in the arguments, and the update id is ephemeral (kept out of the turn id memory): the
    // actor remembers applied turn ids only, while Temporal would answer a retry with the same update id in the same
    // run with its first outcome, even a "not found" that a re-created session has since made wrong.
    const updateId = `${EPHEMERAL_UPDATE_ID_PREFIX}${randomUUID()}`;
    const [update, args] = toWireUpdate(owned, options.turnId, versionOnly);
    // One key lookup for the whole call (keys per session): the start's input and the update's arguments alike.
    const { result } = await sealedKeysOf(() =>
      this.actors.retryingActor(sessionId, () =>
        this.client.workflow.executeUpdateWithStart(update, {
          args: [args as never],
          updateId,
          startWorkflowOperation: this.actors.startOperation(sessionId),
        }),
      ),
    );
    return result;
  }

  /**
   * The "durable" acknowledgement: resolves once Temporal has persisted the turn (signal-with-start); the actor
   * applies it once by turn id. Validated here with the same rules, so a turn that resolves will be applied,
   * except on a missing session without `userId` (see `turnStatus`).
   */
  submitTurn(
    sessionId: string,
    user: string,
    assistant: string,
    options: DurableTurnOptions = {},
  ): Promise<string> {
    return submitDurableTurn(this.actors, sessionId, user, assistant, options);
  }

  /** What became of a turn id in the running actor ('unknown' once it has completed or forgotten it). */
  turnStatus(sessionId: string, turnId: string): Promise<TurnOutcome | { status: 'unknown' }> {
    return durableTurnStatus(this.actors, sessionId, turnId);
  }

  async saveContext(sessionId: string, ctx: ConversationContext): Promise<void> {
    const { context } = await this.execute(sessionId, { type: 'save', context: ctx });
    ctx.sessionId = sessionId;
    ctx.createdAt = context.createdAt;
    ctx.updatedAt = context.updatedAt;
  }

  async loadContext(sessionId: string): Promise<ConversationContext | null> {
    validateSessionId(sessionId);
    const live = await this.actors.askActor(sessionId, (h) => h.query(contextQuery));
    if (live !== undefined) return live ? fromWireContext(live) : null;
    const stored = await loadSnapshot(this.pool, sessionId);
    return stored ? copyContext(stored.context) : null;
  }

  /** The session and its version, from its actor when one runs (else from Postgres); null when there is none. */
  async getSnapshot(sessionId: string): Promise<CommandResult | null> {
    validateSessionId(sessionId);
    const live = await this.actors.askActor(sessionId, (h) => h.query(snapshotQuery));
    if (live !== undefined) return live && { version: live.version, context: fromWireContext(live.context) };
    const stored = await loadSnapshot(this.pool, sessionId);
    return stored && { version: stored.version, context: copyContext(stored.context) };
  }

  /**
   * The last n messages (all when n <= 0 or n >= length), within `maxBytes` of text when given; a tool call and its
   * results come whole or not at all. Null when the session does not exist.
   */
  async getRecentMessages(
    sessionId: string,
    n: number,
    options: { maxBytes?: number } = {},
  ): Promise<Message[] | null> {
    validateSessionId(sessionId);
    const { maxBytes } = options;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 0))
      throw new ValidationError('max_bytes', 'must be a non-negative integer');
    const args: [number, number?] = maxBytes === undefined ? [n] : [n, maxBytes];
    const live = await this.actors.askActor(sessionId, (h) => h.query(recentMessagesQuery, ...args));
    if (live !== undefined) return live && live.map(fromWireMessage);
    const stored = await loadSnapshot(this.pool, sessionId);
    return stored ? recentMessages(stored.context.messages, n, maxBytes) : null;
  }

  /**
   * A new session `targetId` with the state of `sourceId` at its current version, in one command of the target's
   * actor (update-with-start); the source is read, never changed. See ForkCapable.
   */
  async forkSession(sourceId: string, targetId: string, options: ForkOptions = {}): Promise<CommandResult> {
    validateSessionId(sourceId);
    validateSessionId(targetId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const source = await this.getSnapshot(sourceId);
    if (!source || (options.expectedUserId !== undefined && source.context.userId !== options.expectedUserId))
      throw new SessionNotFoundError(sourceId);
    const owner = source.context.userId;
    return this.execute(targetId, {
      type: 'fork',
      from: { sessionId: sourceId, version: source.version },
      context: source.context,
      expectedUserId: owner,
    });
  }

  /** A page of the session's transcript, from Postgres: it trails acknowledged writes like lists do. */
  getTranscript(sessionId: string, options?: TranscriptOptions): Promise<TranscriptPage> {
    validateSessionId(sessionId);
    return readTranscript(this.pool, sessionId, options);
  }

  /**
   * One long-poll of the session's actor (the `awaitChanges` update). A session that lives only in Postgres gets its
   * actor started for it; a missing one is a SessionNotFoundError, and no actor is started for it.
   */
  changes(sessionId: string, options: ChangesOptions = {}): Promise<ChangesAnswer> {
    return pollChanges(this.actors, this.pool, sessionId, options);
  }

  /** Every change of the session, in order, from its actor (see Watchable and src/watch.ts). */
  watch(sessionId: string, options: WatchOptions = {}): AsyncIterable<SessionChange> {
    validateSessionId(sessionId);
    return watchChanges((o) => this.changes(sessionId, o), options);
  }

  async listSessions(userId: number, limit: number, options?: ListOptions): Promise<SessionSummary[]> {
    return (await this.listSessionsPage(userId, limit, options)).sessions;
  }

  listSessionsPage(userId: number, limit: number, options?: ListOptions): Promise<SessionPage> {
    return listSummaries(this.pool, userId, limit, options);
  }

  /**
   * Deletes through the single writer, always: the running actor, or one started for the purpose (it loads the
   * session, deletes it with a tombstone that fences every write still in flight, and completes). Then the runs
   * that existed at that moment are erased; a session written again after the delete lives in a later run and stays.
   * With `expectedUserId`, another user's session is a SessionConflictError and is left untouched.
   */
  async deleteSession(sessionId: string, options: DeleteOptions = {}): Promise<void> {
    validateSessionId(sessionId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const args = options.expectedUserId === undefined ? {} : { expected_user_id: options.expectedUserId };
    const ack = await this.actors.retryingActor(sessionId, () =>
      this.client.workflow.executeUpdateWithStart(deleteSessionUpdate, {
        args: [args],
        updateId: `${EPHEMERAL_UPDATE_ID_PREFIX}${randomUUID()}`,
        startWorkflowOperation: this.actors.startOperation(sessionId),
      }),
    );
    // The removing run has answered, so no task of it runs again: the key its delete retired (with
    // DS_CODEC_SESSION_KEYS) is destroyed now, and this process's caches drop it.
    await destroyOnceClosed(this.pool, this.client, [{ sessionId, removedAt: 'answered' }]);
    const workflowId = sessionWorkflowId(sessionId);
    try {
      // A run recorded before the lifecycle machine does not name itself: every run of the id goes, as it used to.
      await (ack.run_id
        ? eraseRunsThrough(this.client, workflowId, ack.run_id)
        : eraseWorkflowHistories(this.client, workflowId));
    } catch (err) {
      throw toSessionError(err, sessionId);
    }
  }

  /** Runs the cleanup workflow (a unique `cleanup/manual/<uuid>` id) and returns how many sessions it deleted. */
  async cleanupExpired(retentionDays: number): Promise<number> {
    validateRetentionDays(retentionDays);
    return (await runCleanup(this.client, this.taskQueue, { retention_days: retentionDays })).deleted;
  }

  /**
   * SessionCleanupJob's scheduler on Temporal: a Schedule (one per task queue, see cleanupScheduleId) that starts
   * the cleanup workflow every interval. start() creates or updates it, unpauses it and runs one cleanup now;
   * stop() pauses it; runOnce() runs the cleanup workflow and waits for its count.
   */
  cleanupScheduler(config: CleanupConfig): CleanupScheduler {
    return scheduledCleanup(this.client, this.taskQueue, config, () =>
      this.cleanupExpired(config.retentionDays),
    );
  }
}
