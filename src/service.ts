// The SessionService contract every implementation keeps (one contract test suite runs against all).
// Also the optional command interface that lets SessionRecovery apply a change atomically instead of load-modify-save.
import type { SessionChange } from './session-changes';
import type { SessionCommand } from './session-rules';
import type {
  CommandResult,
  CommandVersion,
  ConversationContext,
  ListOptions,
  SessionPage,
  SessionSummary,
  TranscriptOptions,
  TranscriptPage,
} from './types';

export interface SessionService {
  /**
   * Upserts a session. Sets `ctx.createdAt` when 0, always sets `ctx.updatedAt` (Unix seconds) and forces
   * `ctx.sessionId = sessionId` on the caller's object. An existing session keeps its owner and creation time;
   * saving another user's session id is a SessionConflictError. Messages beyond the window are dropped.
   */
  saveContext(sessionId: string, ctx: ConversationContext): Promise<void>;

  /** The session, or null when there is none. Always a copy the caller may change freely. */
  loadContext(sessionId: string): Promise<ConversationContext | null>;

  /**
   * Summaries of one user's sessions, newest `updatedAt` first (ties by session id, descending).
   * `limit <= 0` means the default (20); capped at 200. With `options`, filter by agent type and page
   * with the opaque cursor of `listSessionsPage`.
   */
  listSessions(userId: number, limit: number, options?: ListOptions): Promise<SessionSummary[]>;

  /** Like listSessions, and returns the cursor of the next page (absent on the last page). */
  listSessionsPage(userId: number, limit: number, options?: ListOptions): Promise<SessionPage>;

  /** Removes a session everywhere it lives. Idempotent: an unknown id is not an error. */
  deleteSession(sessionId: string): Promise<void>;

  /**
   * Deletes sessions with `updatedAt < now - retentionDays` (strictly less) and returns how many.
   * `retentionDays < 0` is a ValidationError.
   */
  cleanupExpired(retentionDays: number): Promise<number>;
}

export interface CommandOptions {
  /** Client turn id: a command with a turn id already applied is answered without applying it again. */
  turnId?: string;
  /**
   * The owner the caller acts for: the command is refused (SessionConflictError) when the session belongs to
   * another user. Checked where the command is applied, so nothing can come between the check and the change.
   */
  expectedUserId?: number;
  /**
   * The version the caller read: the command is refused (VersionMismatchError, nothing changed) when the session
   * is at another one by the time it is applied; 0 means it must not exist yet. For read-modify-write changes.
   */
  expectedVersion?: number;
}

export interface DeleteOptions {
  /** Delete only if the session is this user's (or missing); another user's is a SessionConflictError. */
  expectedUserId?: number;
}

/** The command with the caller's expected owner and version from `options`, when given there. */
export function withExpectedOwner(command: SessionCommand, options?: CommandOptions): SessionCommand {
  return {
    ...command,
    ...(options?.expectedUserId === undefined ? {} : { expectedUserId: options.expectedUserId }),
    ...(options?.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }),
  };
}

/** Services that can apply a command as one atomic step (the actor, the in-memory map). */
export interface CommandCapableService extends SessionService {
  execute(sessionId: string, command: SessionCommand, options?: CommandOptions): Promise<CommandResult>;
  /**
   * Applies a command like `execute` and answers with its version only. For callers that do not read the session
   * from the answer: on the actor, the session does not travel back through Temporal's history with every turn.
   */
  commit(sessionId: string, command: SessionCommand, options?: CommandOptions): Promise<CommandVersion>;
  /**
   * The session with its version (null when there is none): what a read-modify-write passes back as
   * `expectedVersion`, so that a write landing in between is refused instead of overwritten.
   */
  getSnapshot(sessionId: string): Promise<CommandResult | null>;
}

export function isCommandCapable(service: SessionService): service is CommandCapableService {
  return typeof (service as Partial<CommandCapableService>).execute === 'function';
}

// ---- beyond the reference (issue 16): fork, transcripts, watching ---------------------------------------------

export interface ForkOptions {
  /** Fork only a session of this user (another user's, or none: SessionNotFoundError). */
  expectedUserId?: number;
}

/** Services that fork a session in one step: all three implementations. */
export interface ForkCapable {
  /**
   * Creates `targetId` for the source's owner with the source's state (messages, metadata, agent type, settings) at
   * its current version; the source is unchanged. SessionExistsError when `targetId` exists (another user's:
   * SessionConflictError); SessionNotFoundError when the source does not (or is not `expectedUserId`'s).
   */
  forkSession(sourceId: string, targetId: string, options?: ForkOptions): Promise<CommandResult>;
}

/** Services that keep transcripts (sessions with `settings.transcript`): all three implementations. */
export interface TranscriptCapable {
  /** A page of the transcript, oldest first; empty for a session without one (or no session). */
  getTranscript(sessionId: string, options?: TranscriptOptions): Promise<TranscriptPage>;
}

export interface ChangesOptions {
  /** The last version the caller has; absent: the answer is the whole session at its version, at once. */
  afterVersion?: number;
  /** How long to wait for a change when there is none yet (0..60000 ms, default 30000). */
  waitMs?: number;
  /** The owner the caller acts for (another user's session: SessionConflictError). */
  expectedUserId?: number;
  /** Gives up waiting (the call fails; the actor answers its watch when its wait ends). */
  signal?: AbortSignal;
}

export interface ChangesAnswer {
  /** The session's version now. */
  version: number;
  /** The version this incarnation was created at (greater than what a watcher saw: that one was deleted). */
  bornVersion: number;
  changes: SessionChange[];
  /** Ask again at once (the actor's run is ending). */
  reconnect?: boolean;
}

export interface WatchOptions {
  /** Changes after this version; absent: first the whole session at its current version, then every change. */
  fromVersion?: number;
  expectedUserId?: number;
  /** Stops the watch (the iterator ends). */
  signal?: AbortSignal;
  /** How long each poll waits (default 30 s). */
  waitMs?: number;
}

/** Services a session can be watched on: the actor and the in-memory service (the direct store has no single writer). */
export interface Watchable {
  /** One poll: the changes after `afterVersion`, waiting up to `waitMs` for one. */
  changes(sessionId: string, options?: ChangesOptions): Promise<ChangesAnswer>;
  /** Every change in version order, ending with a `deleted` change when the session is deleted or expired. */
  watch(sessionId: string, options?: WatchOptions): AsyncIterable<SessionChange>;
}
