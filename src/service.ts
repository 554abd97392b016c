// The SessionService contract every implementation keeps (one contract test suite runs against all).
// Also the optional command interface that lets SessionRecovery apply a change atomically instead of load-modify-save.
import type { SessionCommand } from './session-rules';
import type { CommandResult, ConversationContext, ListOptions, SessionPage, SessionSummary } from './types';

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
}

export interface DeleteOptions {
  /** Delete only if the session is this user's (or missing); another user's is a SessionConflictError. */
  expectedUserId?: number;
}

/** The command with the caller's expected owner from `options`, when one is given there. */
export function withExpectedOwner(command: SessionCommand, options?: CommandOptions): SessionCommand {
  return options?.expectedUserId === undefined
    ? command
    : { ...command, expectedUserId: options.expectedUserId };
}

/** Services that can apply a command as one atomic step (the actor, the in-memory map). */
export interface CommandCapableService extends SessionService {
  execute(sessionId: string, command: SessionCommand, options?: CommandOptions): Promise<CommandResult>;
}

export function isCommandCapable(service: SessionService): service is CommandCapableService {
  return typeof (service as Partial<CommandCapableService>).execute === 'function';
}
