// The Postgres side of durable-sessions: pool, migrations, snapshot SQL, error classification, cache, direct store.
// Imported by the package root, the runtime, the worker's activities, the benchmark and the tests.
export { createPool, type PoolOptions } from './pool';
export { migrate, migrationsDir } from './migrate';
export { classifyPgError, isRetryablePgError, wrapPgError, type PgErrorKind } from './errors';
export { decodeCursor, encodeCursor, type ListCursor } from './cursor';
export {
  deleteExpiredBatch,
  deleteIfExpired,
  deleteSessionRow,
  insertSnapshotsRaw,
  listSummaries,
  loadSnapshot,
  type Queryable,
} from './snapshots';
export { LruSessionCache, type SessionCache } from './cache';
export { CACHE_PREFIX, CACHE_TTL_MS, type CacheLogger } from './store-cache';
export { PostgresSessionStore, type PostgresSessionStoreOptions } from './store';
