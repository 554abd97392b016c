// Creates the pg.Pool every Postgres module uses: named connections, a statement timeout, bigint as number.
// Used by the runtime, the worker's activities, the benchmark and the test support.
import pg from 'pg';

/** OID of int8 (bigint). */
const INT8_OID = 20;

export interface PoolOptions {
  /** Maximum connections (default 10). */
  max?: number;
  /** Shown in pg_stat_activity (default 'durable-sessions'). */
  applicationName?: string;
  /** Server-side statement timeout in ms (default 15 s); a stuck query becomes a retryable error. */
  statementTimeoutMs?: number;
}

// bigint columns here hold Unix seconds and snapshot versions, far below 2^53, so a JS number is exact.
// A per-pool type parser, so other users of `pg` in the same process keep the default (string) parsing.
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPool(url: string, max?: number, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: max ?? options.max ?? 10,
    application_name: options.applicationName ?? 'durable-sessions',
    statement_timeout: options.statementTimeoutMs ?? 15_000,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener Node would crash.
  pool.on('error', (err) => {
    console.warn(`durable-sessions: idle Postgres client error: ${err.message}`);
  });
  return pool;
}
