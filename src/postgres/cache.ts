// The reference's cache interface (get/set/invalidate) and its in-process LRU implementation.
// Used by PostgresSessionStore; any shared cache (Redis, ...) can implement SessionCache instead.
import { LRUCache } from 'lru-cache';

type MaybePromise<T> = T | Promise<T>;

export interface SessionCache {
  /** The value, or undefined when absent or expired. A hit does not refresh the TTL. */
  get(key: string): MaybePromise<string | undefined>;
  /** Stores `value` for `ttlMs` (a non-positive ttl means the cache's default TTL). */
  set(key: string, value: string, ttlMs: number): MaybePromise<void>;
  /**
   * The reference's rule: a pattern containing `*` anywhere is a prefix match on the pattern with one
   * trailing `*` removed (so `session:*` drops every session); any other pattern removes that exact key.
   */
  invalidate(pattern: string): MaybePromise<void>;
}

export const LRU_DEFAULT_CAPACITY = 1000;
export const LRU_DEFAULT_TTL_MS = 5 * 60 * 1000;

/** The reference's cache.Service: in-process LRU, capacity 1000, default TTL 5 min. */
export class LruSessionCache implements SessionCache {
  private readonly lru: LRUCache<string, string>;
  private readonly defaultTtlMs: number;

  constructor(options: { capacity?: number; defaultTtlMs?: number } = {}) {
    this.defaultTtlMs = options.defaultTtlMs ?? LRU_DEFAULT_TTL_MS;
    this.lru = new LRUCache<string, string>({
      max: options.capacity ?? LRU_DEFAULT_CAPACITY,
      ttl: this.defaultTtlMs,
      updateAgeOnGet: false,
    });
  }

  get(key: string): string | undefined {
    return this.lru.get(key);
  }

  set(key: string, value: string, ttlMs: number): void {
    this.lru.set(key, value, { ttl: ttlMs > 0 ? ttlMs : this.defaultTtlMs });
  }

  invalidate(pattern: string): void {
    if (!pattern.includes('*')) {
      this.lru.delete(pattern);
      return;
    }
    const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
    for (const key of [...this.lru.keys()]) if (key.startsWith(prefix)) this.lru.delete(key);
  }

  /** Live entries (expired ones may still be counted until touched). */
  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}
