// PostgresSessionStore: the reference's NewSessionStore(db, cache) — a direct Postgres store with an optional cache.
// Exported from the package root; also the baseline the benchmark compares the Temporal actor against.
import type pg from 'pg';
import { SessionConflictError } from '../errors';
import type { SessionService } from '../service';
import {
  applyWindow,
  expiryCutoff,
  nowSeconds,
  validateCommand,
  validateRetentionDays,
  validateSessionId,
} from '../session-rules';
import {
  copyContext,
  type ConversationContext,
  type ListOptions,
  type SessionPage,
  type SessionSummary,
} from '../types';
import type { SessionCache } from './cache';
import { deleteExpiredBatch, deleteSessionRow, listSummaries, loadSnapshot, saveOwnedRow } from './snapshots';
import { type CacheLogger, StoreCache } from './store-cache';

/** Rows deleted per statement by cleanupExpired, so one cleanup never holds a long lock on a big table. */
const CLEANUP_BATCH_SIZE = 1000;

export interface PostgresSessionStoreOptions {
  /** Where cache errors are reported (they are never returned); console.warn by default. */
  cacheLogger?: CacheLogger;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/**
 * It deliberately has no `execute`: SessionRecovery does load-modify-save on it, like the reference, and the
 * benchmark shows the lost updates that follow under concurrent appends.
 */
export class PostgresSessionStore implements SessionService {
  private readonly cache?: StoreCache;
  private readonly now: () => number;

  constructor(
    private readonly pool: pg.Pool,
    cache?: SessionCache,
    options: PostgresSessionStoreOptions = {},
  ) {
    this.cache = cache ? new StoreCache(cache, options.cacheLogger) : undefined;
    this.now = options.now ?? Date.now;
  }

  async saveContext(sessionId: string, ctx: ConversationContext): Promise<void> {
    validateSessionId(sessionId);
    validateCommand({ type: 'save', context: ctx });
    // The reference's contract: the caller's object is updated, only once the input is known to be good.
    const now = nowSeconds(this.now());
    if (!ctx.createdAt) ctx.createdAt = now;
    ctx.updatedAt = now;
    ctx.sessionId = sessionId;
    const row: ConversationContext = {
      sessionId,
      userId: ctx.userId,
      agentType: ctx.agentType ?? '',
      messages: applyWindow((ctx.messages ?? []).map((m) => ({ role: m.role, content: m.content }))),
      metadata: ctx.metadata ?? {},
      createdAt: ctx.createdAt,
      updatedAt: now,
    };
    const op = this.cache?.begin(sessionId);
    let saved: Awaited<ReturnType<typeof saveOwnedRow>>;
    try {
      saved = await saveOwnedRow(this.pool, row);
    } catch (err) {
      await this.cache?.finishWrite(sessionId, op, null);
      throw err;
    }
    if (!saved) {
      if (op) this.cache?.cancel(sessionId, op);
      throw new SessionConflictError(sessionId);
    }
    // Cache what Postgres holds: an existing session keeps its creation time, whatever the caller sent.
    await this.cache?.finishWrite(sessionId, op, copyContext({ ...row, createdAt: saved.createdAt }));
  }

  async loadContext(sessionId: string): Promise<ConversationContext | null> {
    validateSessionId(sessionId);
    const cached = await this.cache?.get(sessionId);
    if (cached) return cached;
    const op = this.cache?.begin(sessionId);
    let context: ConversationContext | null;
    try {
      context = (await loadSnapshot(this.pool, sessionId))?.context ?? null;
    } catch (err) {
      if (op) this.cache?.cancel(sessionId, op);
      throw err;
    }
    if (op) await this.cache?.finishLoad(sessionId, op, context);
    return context ? copyContext(context) : null;
  }

  async listSessions(userId: number, limit: number, options?: ListOptions): Promise<SessionSummary[]> {
    return (await this.listSessionsPage(userId, limit, options)).sessions;
  }

  listSessionsPage(userId: number, limit: number, options?: ListOptions): Promise<SessionPage> {
    // Like the reference, listing never reads the cache: Postgres has every session of the user.
    return listSummaries(this.pool, userId, limit, options);
  }

  async deleteSession(sessionId: string): Promise<void> {
    validateSessionId(sessionId);
    const op = this.cache?.begin(sessionId);
    try {
      await deleteSessionRow(this.pool, sessionId);
    } finally {
      await this.cache?.finishWrite(sessionId, op, null);
    }
  }

  async cleanupExpired(retentionDays: number): Promise<number> {
    validateRetentionDays(retentionDays);
    const cutoff = expiryCutoff(this.now(), retentionDays);
    let deleted = 0;
    for (;;) {
      const ids = await deleteExpiredBatch(this.pool, cutoff, CLEANUP_BATCH_SIZE);
      deleted += ids.length;
      // The reference leaves expired sessions in the cache for up to 30 minutes; drop them.
      for (const id of ids) await this.cache?.finishWrite(id, undefined, null);
      if (ids.length < CLEANUP_BATCH_SIZE) return deleted;
    }
  }
}
