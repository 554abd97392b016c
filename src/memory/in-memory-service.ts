// InMemorySessionService: the reference's MockSessionService, a SessionService kept in a Map, with forks,
// transcripts and watching. Used by tests, demos and the contract suite; every change goes through the session rules.
import { SessionConflictError, SessionNotFoundError, ValidationError } from '../errors';
import { decodeTranscriptCursor, encodeTranscriptCursor } from '../postgres/cursor';
import type {
  ChangesAnswer,
  ChangesOptions,
  CommandCapableService,
  CommandOptions,
  DeleteOptions,
  ForkCapable,
  ForkOptions,
  TranscriptCapable,
  Watchable,
  WatchOptions,
} from '../service';
import { withExpectedOwner } from '../service';
import { ChangeLog, type SessionChange, changeOf } from '../session-changes';
import { transcriptLimit } from '../postgres/transcript';
import { watchChanges } from '../watch';
import {
  SessionCommand,
  SessionSnapshot,
  applyCommand,
  expiryCutoff,
  lastMessage,
  normaliseLimit,
  nowSeconds,
  validateAgentType,
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
  SessionPage,
  SessionSummary,
  TranscriptEntry,
  TranscriptOptions,
  TranscriptPage,
  copyContext,
  copyMessage,
} from '../types';
import { sampleSessions } from './sample-data';

export interface InMemorySessionServiceOptions {
  /** Seed the reference's four sample sessions (default true, like NewMockSessionService). */
  sampleData?: boolean;
  /** Millisecond clock; tests pass a fixed one to put timestamps and expiry where they want. */
  now?: () => number;
  /** How many recent turn ids each session remembers for deduplication (default 256, like the actor). */
  rememberTurnIds?: number;
}

/** The position after which a page starts: the last row of the previous page. */
interface CursorKey {
  updatedAt: number;
  sessionId: string;
}

/** How many deleted sessions keep their last changes for watchers that are behind. */
const KEPT_DELETED = 1000;

/** What the in-memory service keeps of a session besides its snapshot: its incarnation, changes and transcript. */
interface SessionRecord {
  born: number;
  changes: ChangeLog;
  transcript: (TranscriptEntry & { seq: number })[];
  /** The version at which this incarnation was deleted: its watchers still get its last changes, then `deleted`. */
  deleted?: number;
}

export class InMemorySessionService
  implements CommandCapableService, ForkCapable, TranscriptCapable, Watchable
{
  private sessions = new Map<string, SessionSnapshot>();
  private records = new Map<string, SessionRecord>();
  /** Ids of deleted sessions whose records are kept, oldest first. */
  private deleted = new Set<string>();
  /** Pollers waiting for a change of a session. */
  private waiters = new Map<string, Set<() => void>>();
  /** Per session, turn id → the first result, in insertion order so the oldest is dropped first. */
  private turns = new Map<string, Map<string, CommandResult>>();
  /** Per deleted session, its last version: a session created again continues from it (versions never go back). */
  private floors = new Map<string, number>();
  private readonly now: () => number;
  private readonly rememberTurnIds: number;

  constructor(options: InMemorySessionServiceOptions = {}) {
    this.now = options.now ?? Date.now;
    this.rememberTurnIds = options.rememberTurnIds ?? 256;
    if (options.sampleData ?? true) {
      for (const ctx of sampleSessions(nowSeconds(this.now()))) this.setSessionDirectly(ctx.sessionId, ctx);
    }
  }

  async saveContext(sessionId: string, ctx: ConversationContext): Promise<void> {
    const { context } = this.apply(sessionId, { type: 'save', context: ctx });
    // The reference mutates the caller's struct; we report what was stored (an existing session keeps createdAt).
    ctx.sessionId = context.sessionId;
    ctx.createdAt = context.createdAt;
    ctx.updatedAt = context.updatedAt;
  }

  async loadContext(sessionId: string): Promise<ConversationContext | null> {
    validateSessionId(sessionId);
    const snapshot = this.sessions.get(sessionId);
    return snapshot ? copyContext(snapshot.context) : null;
  }

  async getSnapshot(sessionId: string): Promise<CommandResult | null> {
    validateSessionId(sessionId);
    const snapshot = this.sessions.get(sessionId);
    return snapshot ? { version: snapshot.version, context: copyContext(snapshot.context) } : null;
  }

  async listSessions(userId: number, limit: number, options?: ListOptions): Promise<SessionSummary[]> {
    return (await this.listSessionsPage(userId, limit, options)).sessions;
  }

  async listSessionsPage(userId: number, limit: number, options: ListOptions = {}): Promise<SessionPage> {
    validateUserId(userId);
    const pageSize = normaliseLimit(limit);
    if (options.agentType !== undefined) validateAgentType(options.agentType);
    const after = options.cursor !== undefined ? decodeListCursor(options.cursor) : undefined;

    const rows = [...this.sessions.values()]
      .map((s) => s.context)
      .filter((c) => c.userId === userId)
      .filter((c) => options.agentType === undefined || c.agentType === options.agentType)
      .filter((c) => after === undefined || compareNewestFirst(c, after) > 0)
      .sort(compareNewestFirst);

    const page = rows.slice(0, pageSize);
    const sessions = page.map((c) => ({
      sessionId: c.sessionId,
      agentType: c.agentType,
      lastMessage: lastMessage(c.messages),
      updatedAt: c.updatedAt,
    }));
    const last = page[page.length - 1];
    return rows.length > pageSize && last ? { sessions, nextCursor: encodeListCursor(last) } : { sessions };
  }

  async deleteSession(sessionId: string, options: DeleteOptions = {}): Promise<void> {
    validateSessionId(sessionId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const owner = this.sessions.get(sessionId)?.context.userId;
    if (options.expectedUserId !== undefined && owner !== undefined && owner !== options.expectedUserId)
      throw new SessionConflictError(sessionId);
    this.forget(sessionId);
  }

  /** Removes a session, remembering its last version. */
  private forget(sessionId: string): void {
    const version = this.sessions.get(sessionId)?.version;
    if (version !== undefined) this.floors.set(sessionId, version);
    this.sessions.delete(sessionId);
    this.turns.delete(sessionId);
    const record = this.records.get(sessionId);
    if (record && version !== undefined) {
      record.deleted = version;
      record.transcript = [];
      // Deleted sessions' last changes are kept for watchers behind, a bounded number of them (oldest go first).
      this.deleted.delete(sessionId);
      this.deleted.add(sessionId);
      for (const id of this.deleted) {
        if (this.deleted.size <= KEPT_DELETED) break;
        this.deleted.delete(id);
        if (this.records.get(id)?.deleted !== undefined) this.records.delete(id);
      }
    }
    this.wake(sessionId);
  }

  async cleanupExpired(retentionDays: number): Promise<number> {
    validateRetentionDays(retentionDays);
    const cutoff = expiryCutoff(this.now(), retentionDays);
    let deleted = 0;
    for (const [id, snapshot] of this.sessions) {
      if (snapshot.context.updatedAt < cutoff) {
        this.forget(id);
        deleted++;
      }
    }
    return deleted;
  }

  /**
   * Applies one command atomically: nothing else runs between reading and writing the map. A turn id seen
   * before on this session returns the first result and applies nothing.
   */
  async execute(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions = {},
  ): Promise<CommandResult> {
    if (options.turnId !== undefined) validateTurnId(options.turnId);
    const seen = options.turnId !== undefined ? this.turns.get(sessionId)?.get(options.turnId) : undefined;
    if (seen) return { context: copyContext(seen.context), version: seen.version };
    const result = this.apply(sessionId, withExpectedOwner(command, options));
    if (options.turnId !== undefined) this.rememberTurn(sessionId, options.turnId, result);
    return { context: copyContext(result.context), version: result.version };
  }

  /** Like execute, answering with the version only. */
  async commit(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions = {},
  ): Promise<CommandVersion> {
    return { version: (await this.execute(sessionId, command, options)).version };
  }

  async forkSession(sourceId: string, targetId: string, options: ForkOptions = {}): Promise<CommandResult> {
    validateSessionId(sourceId);
    validateSessionId(targetId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const source = this.sessions.get(sourceId);
    if (!source || (options.expectedUserId !== undefined && source.context.userId !== options.expectedUserId))
      throw new SessionNotFoundError(sourceId);
    const command: SessionCommand = {
      type: 'fork',
      from: { sessionId: sourceId, version: source.version },
      context: source.context,
      expectedUserId: source.context.userId,
    };
    return this.apply(targetId, command);
  }

  async getTranscript(sessionId: string, options: TranscriptOptions = {}): Promise<TranscriptPage> {
    validateSessionId(sessionId);
    const limit = transcriptLimit(options.limit);
    const after =
      options.cursor !== undefined ? decodeTranscriptCursor(options.cursor) : { version: -1, seq: -1 };
    const rows = (this.records.get(sessionId)?.transcript ?? []).filter(
      (e) => e.version > after.version || (e.version === after.version && e.seq > after.seq),
    );
    const page = rows.slice(0, limit);
    const entries = page.map((e) => ({ version: e.version, message: copyMessage(e.message) }));
    const last = page[page.length - 1];
    return rows.length > limit && last
      ? { entries, nextCursor: encodeTranscriptCursor({ version: last.version, seq: last.seq }) }
      : { entries };
  }

  async changes(sessionId: string, options: ChangesOptions = {}): Promise<ChangesAnswer> {
    validateSessionId(sessionId);
    const { afterVersion: after, waitMs = 30_000, expectedUserId } = options;
    if (after !== undefined && (!Number.isSafeInteger(after) || after < 0))
      throw new ValidationError('after_version', 'must be a non-negative integer');
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > 60_000)
      throw new ValidationError('wait_ms', 'must be an integer 0..60000');
    if (expectedUserId !== undefined) validateUserId(expectedUserId);
    const moved = () => after === undefined || (this.sessions.get(sessionId)?.version ?? Infinity) > after;
    if (!moved() && waitMs > 0) await this.waitForChange(sessionId, waitMs, options.signal);
    options.signal?.throwIfAborted();
    const snapshot = this.sessions.get(sessionId);
    const record = this.records.get(sessionId);
    if (record?.deleted !== undefined && after !== undefined) {
      const before = record.changes.since(after, record.deleted) ?? [];
      const deleted: SessionChange = { type: 'deleted', version: record.deleted };
      return { version: record.deleted, bornVersion: record.born, changes: [...before, deleted] };
    }
    if (!snapshot || !record || record.deleted !== undefined) throw new SessionNotFoundError(sessionId);
    if (expectedUserId !== undefined && snapshot.context.userId !== expectedUserId)
      throw new SessionConflictError(sessionId);
    const logged = after === undefined ? null : record.changes.since(after, snapshot.version);
    const whole: SessionChange = {
      type: 'session',
      version: snapshot.version,
      session: copyContext(snapshot.context),
    };
    return { version: snapshot.version, bornVersion: record.born, changes: logged ?? [whole] };
  }

  watch(sessionId: string, options: WatchOptions = {}): AsyncIterable<SessionChange> {
    validateSessionId(sessionId);
    return watchChanges((o) => this.changes(sessionId, o), options);
  }

  /** Removes every session (the reference's Clear). */
  clear(): void {
    for (const id of this.sessions.keys()) this.wake(id);
    this.sessions = new Map();
    this.records = new Map();
    this.deleted = new Set();
    this.turns = new Map();
    this.floors = new Map();
  }

  /**
   * Stores a session exactly as given (no validation, no timestamp changes) — for tests that back-date.
   * Sets `ctx.sessionId` like the reference, but stores a copy where the reference kept the caller's
   * pointer, so a caller changing its object later cannot change the store behind the rules' back.
   */
  setSessionDirectly(sessionId: string, ctx: ConversationContext): void {
    ctx.sessionId = sessionId;
    const version = (this.sessions.get(sessionId)?.version ?? 0) + 1;
    const context = copyContext({ ...ctx, messages: ctx.messages ?? [], metadata: ctx.metadata ?? {} });
    this.sessions.set(sessionId, { context, version });
    const record = this.recordOf(sessionId, version);
    record.changes.record({ type: 'session', version, session: copyContext(context) });
    this.wake(sessionId);
  }

  private apply(sessionId: string, command: SessionCommand): CommandResult {
    validateSessionId(sessionId);
    validateCommand(command);
    const prev = this.sessions.get(sessionId) ?? null;
    const floor = this.floors.get(sessionId) ?? 0;
    const { snapshot, changed, transcribed } = applyCommand(
      sessionId,
      prev,
      command,
      nowSeconds(this.now()),
      floor,
    );
    if (changed) {
      this.sessions.set(sessionId, snapshot);
      const record = this.recordOf(sessionId, snapshot.version);
      record.changes.record(changeOf(command, snapshot));
      (transcribed ?? []).forEach((message, seq) =>
        record.transcript.push({ version: snapshot.version, seq, message: copyMessage(message) }),
      );
      this.wake(sessionId);
    }
    // The snapshot may share arrays with the stored state; callers only ever see copies.
    return { context: copyContext(snapshot.context), version: snapshot.version };
  }

  /** The session's record; a new one (a new incarnation, born at `version`) when it has none. */
  private recordOf(sessionId: string, version: number): SessionRecord {
    let record = this.records.get(sessionId);
    if (!record || record.deleted !== undefined)
      this.records.set(sessionId, (record = { born: version, changes: new ChangeLog(), transcript: [] }));
    return record;
  }

  /** Resolves at the session's next change, after `ms`, or when `signal` aborts, whichever comes first. */
  private waitForChange(sessionId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let waiting = this.waiters.get(sessionId);
      if (!waiting) this.waiters.set(sessionId, (waiting = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.get(sessionId)?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      waiting.add(done);
    });
  }

  private wake(sessionId: string): void {
    for (const done of [...(this.waiters.get(sessionId) ?? [])]) done();
    this.waiters.delete(sessionId);
  }

  private rememberTurn(sessionId: string, turnId: string, result: CommandResult): void {
    let turns = this.turns.get(sessionId);
    if (!turns) this.turns.set(sessionId, (turns = new Map()));
    turns.set(turnId, result);
    while (turns.size > this.rememberTurnIds) {
      const oldest = turns.keys().next().value;
      if (oldest === undefined) break;
      turns.delete(oldest);
    }
  }
}

/** Newest first; ties by session id descending. Negative when `a` comes before `b`. */
function compareNewestFirst(a: CursorKey, b: CursorKey): number {
  if (a.updatedAt !== b.updatedAt) return b.updatedAt - a.updatedAt;
  return a.sessionId < b.sessionId ? 1 : a.sessionId > b.sessionId ? -1 : 0;
}

/** The opaque keyset cursor: base64url of JSON `[updatedAt, sessionId]` of the last row of a page. */
export function encodeListCursor(last: CursorKey): string {
  return Buffer.from(JSON.stringify([last.updatedAt, last.sessionId]), 'utf8').toString('base64url');
}

/** Reads a cursor of encodeListCursor; anything else is a ValidationError on `cursor`. */
export function decodeListCursor(cursor: string): CursorKey {
  let parsed: unknown;
  try {
    if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('cursor', 'is not a cursor returned by listSessionsPage');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== 'string'
  )
    throw new ValidationError('cursor', 'is not a cursor returned by listSessionsPage');
  return { updatedAt: parsed[0] as number, sessionId: parsed[1] };
}
