// PostgresSessionStore: the reference's NewSessionStore(db, cache) — a direct Postgres store with an optional cache.
// Exported from the package root; also the baseline the benchmark compares the Temporal actor against.
import type pg from 'pg';
import { SessionConflictError, SessionNotFoundError } from '../errors';
import type { ForkOptions, SessionService } from '../service';
import {
  applyCommand,
  applyWindow,
  expiryCutoff,
  normaliseSettings,
  nowSeconds,
  validateCommand,
  validateRetentionDays,
  validateSessionId,
  validateUserId,
} from '../session-rules';
import {
  copyContext,
  copyMessage,
  type CommandResult,
  type ConversationContext,
  type ListOptions,
  type SessionPage,
  type SessionSummary,
  type TranscriptOptions,
  type TranscriptPage,
} from '../types';
import type { SessionCache } from './cache';
import { wrapPgError } from './errors';
import {
  deleteExpiredBatch,
  deleteSessionRow,
  listSummaries,
  loadSnapshot,
  query,
  saveOwnedRow,
} from './snapshots';
import { type CacheLogger, StoreCache } from './store-cache';
import { insertTranscript, readTranscript } from './transcript';

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
    const settings = normaliseSettings(ctx.settings);
    const row: ConversationContext = {
      sessionId,
      userId: ctx.userId,
      agentType: ctx.agentType ?? '',
      messages: applyWindow((ctx.messages ?? []).map(copyMessage), settings),
      metadata: ctx.metadata ?? {},
      createdAt: ctx.createdAt,
      updatedAt: now,
      ...(settings ? { settings } : {}),
    };
    const op = this.cache?.begin(sessionId);
    let saved: Awaited<ReturnType<typeof saveOwnedRow>>;
    try {
      saved = settings?.transcript
        ? await this.transaction([sessionId], (db) => saveTranscribed(db, row, now))
        : await saveOwnedRow(this.pool, row);
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

  /**
   * Creates `targetId` as a copy of `sourceId` (messages, metadata, agent type, settings) for the same owner, in one
   * transaction; the source is unchanged. SessionExistsError when `targetId` is a session already (another user's:
   * SessionConflictError), SessionNotFoundError when the source is missing or not `expectedUserId`'s.
   */
  async forkSession(sourceId: string, targetId: string, options: ForkOptions = {}): Promise<CommandResult> {
    validateSessionId(sourceId);
    validateSessionId(targetId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const op = this.cache?.begin(targetId);
    try {
      const result = await this.transaction([sourceId, targetId], async (db) => {
        const source = await loadSnapshot(db, sourceId);
        if (
          !source ||
          (options.expectedUserId !== undefined && source.context.userId !== options.expectedUserId)
        )
          throw new SessionNotFoundError(sourceId);
        const target = await loadSnapshot(db, targetId);
        const command = {
          type: 'fork' as const,
          from: { sessionId: sourceId, version: source.version },
          context: source.context,
          expectedUserId: source.context.userId,
        };
        validateCommand(command);
        const applied = applyCommand(targetId, target, command, nowSeconds(this.now()));
        const context = applied.snapshot.context;
        await saveOwnedRow(db, context);
        await insertTranscript(db, targetId, applied.snapshot.version, applied.transcribed ?? []);
        return { context, version: applied.snapshot.version };
      });
      await this.cache?.finishWrite(targetId, op, copyContext(result.context));
      return { context: copyContext(result.context), version: result.version };
    } catch (err) {
      if (op) this.cache?.cancel(targetId, op);
      throw err;
    }
  }

  /** A page of the session's transcript (sessions saved with `settings.transcript`), oldest first. */
  getTranscript(sessionId: string, options?: TranscriptOptions): Promise<TranscriptPage> {
    validateSessionId(sessionId);
    return readTranscript(this.pool, sessionId, options);
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

  /** Runs `work` in one transaction holding the per-session locks of `sessionIds` (taken in a fixed order). */
  private async transaction<T>(sessionIds: string[], work: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw wrapPgError(err, 'connect');
    }
    try {
      await query(client, 'begin', 'BEGIN', []);
      for (const id of [...new Set(sessionIds)].sort())
        await query(client, 'lock session', 'SELECT ds_lock_session($1::text)', [id]);
      const result = await work(client);
      await query(client, 'commit', 'COMMIT', []);
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async cleanupExpired(retentionDays: number): Promise<number> {
    validateRetentionDays(retentionDays);
    const cutoff = expiryCutoff(this.now(), retentionDays);
    let deleted = 0;
    let from: number | undefined;
    for (;;) {
      const { ids, reached } = await deleteExpiredBatch(this.pool, cutoff, CLEANUP_BATCH_SIZE, from);
      from = reached;
      deleted += ids.length;
      // The reference leaves expired sessions in the cache for up to 30 minutes; drop them.
      for (const id of ids) await this.cache?.finishWrite(id, undefined, null);
      if (ids.length < CLEANUP_BATCH_SIZE) return deleted;
    }
  }
}

/**
 * The save of a session that keeps a transcript: under the session's lock, the stored row decides (through the
 * rules) which messages enter the transcript; they are written with the row's new version. Null: another user's.
 */
async function saveTranscribed(
  db: pg.PoolClient,
  row: ConversationContext,
  now: number,
): Promise<{ createdAt: number; version: number } | null> {
  const prev = await loadSnapshot(db, row.sessionId);
  if (prev && prev.context.userId !== row.userId) return null;
  const { transcribed } = applyCommand(row.sessionId, prev, { type: 'save', context: row }, now);
  const saved = await saveOwnedRow(db, row);
  if (saved) await insertTranscript(db, row.sessionId, saved.version, transcribed ?? []);
  return saved;
}
