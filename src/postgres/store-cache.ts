// PostgresSessionStore's use of a SessionCache: keys, logging of cache errors, and keeping the cache in step with
// Postgres when reads and writes of one session overlap in this process (the reference lets them race).
import { toWireContext, fromWireContext, type ConversationContext, type WireContext } from '../types';
import type { SessionCache } from './cache';

export const CACHE_PREFIX = 'session:';
export const CACHE_TTL_MS = 30 * 60 * 1000;

export type CacheLogger = (message: string, err: unknown) => void;

const defaultLogger: CacheLogger = (message, err) =>
  console.warn(`durable-sessions: ${message}: ${err instanceof Error ? err.message : String(err)}`);

/** One load or write of a session that has not yet updated the cache. */
interface Operation {
  /** Another write of the same session reached Postgres while this one was in flight. */
  overlapped: boolean;
}

/**
 * Rule: when operations on one session overlap, whichever reaches the cache second cannot know whether its
 * value is the newest, so a write invalidates instead of setting and a load skips filling. Stores sharing one
 * cache object share this registry; a cache shared across processes can still be stale for up to its TTL.
 */
const registries = new WeakMap<SessionCache, Map<string, Set<Operation>>>();

export class StoreCache {
  private readonly inFlight: Map<string, Set<Operation>>;

  constructor(
    private readonly cache: SessionCache,
    private readonly log: CacheLogger = defaultLogger,
  ) {
    let registry = registries.get(cache);
    if (!registry) registries.set(cache, (registry = new Map()));
    this.inFlight = registry;
  }

  /** A cached copy, or undefined on a miss, an unreadable entry or a cache error (all logged, never thrown). */
  async get(sessionId: string): Promise<ConversationContext | undefined> {
    let raw: string | undefined;
    try {
      raw = await this.cache.get(cacheKey(sessionId));
    } catch (err) {
      this.log('cache get failed', err);
      return undefined;
    }
    if (raw === undefined) return undefined;
    try {
      return fromWireContext(JSON.parse(raw) as WireContext);
    } catch (err) {
      this.log(`cached session ${sessionId} is unreadable, reading Postgres`, err);
      return undefined;
    }
  }

  /** Call before reading or writing Postgres; the returned operation is passed to one finish* call. */
  begin(sessionId: string): Operation {
    const op: Operation = { overlapped: false };
    let ops = this.inFlight.get(sessionId);
    if (!ops) this.inFlight.set(sessionId, (ops = new Set()));
    ops.add(op);
    return op;
  }

  /** After a load from Postgres: fill the cache unless a write overlapped it. */
  async finishLoad(sessionId: string, op: Operation, loaded: ConversationContext | null): Promise<void> {
    this.end(sessionId, op);
    if (loaded && !op.overlapped) await this.set(sessionId, loaded);
  }

  /**
   * After a write reached Postgres, or failed (it may still have committed): set the stored value, or drop the
   * key when `stored` is null or another operation overlapped this one.
   */
  async finishWrite(
    sessionId: string,
    op: Operation | undefined,
    stored: ConversationContext | null,
  ): Promise<void> {
    if (op) this.end(sessionId, op);
    for (const other of this.inFlight.get(sessionId) ?? []) other.overlapped = true;
    if (stored && op && !op.overlapped) await this.set(sessionId, stored);
    else await this.invalidate(sessionId);
  }

  /** Drops the entry of one session (its id can never be a wildcard: see cacheKey). */
  async invalidate(sessionId: string): Promise<void> {
    try {
      await this.cache.invalidate(cacheKey(sessionId));
    } catch (err) {
      this.log('cache invalidate failed', err);
    }
  }

  /** An operation that changed nothing in Postgres (a failed load, a rejected save): forget it, cache untouched. */
  cancel(sessionId: string, op: Operation): void {
    this.end(sessionId, op);
  }

  private async set(sessionId: string, context: ConversationContext): Promise<void> {
    try {
      await this.cache.set(cacheKey(sessionId), JSON.stringify(toWireContext(context)), CACHE_TTL_MS);
    } catch (err) {
      this.log('cache set failed', err);
    }
  }

  private end(sessionId: string, op: Operation): void {
    const ops = this.inFlight.get(sessionId);
    ops?.delete(op);
    if (ops?.size === 0) this.inFlight.delete(sessionId);
  }
}

/** `session:<id>`. Ids are validated before they get here; a `*` would turn invalidation into a prefix match. */
export function cacheKey(sessionId: string): string {
  if (sessionId.includes('*')) throw new Error(`session id may not contain '*': ${sessionId}`);
  return CACHE_PREFIX + sessionId;
}
