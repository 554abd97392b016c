// Applies the numbered migrations in <root>/migrations with postgres-migrations (advisory lock, one transaction per file).
// Called by the runtime at start-up and by the test support before each test database is used; idempotent.
import path from 'node:path';
import type pg from 'pg';
import { migrate as runMigrations } from 'postgres-migrations';
import { findRoot } from '../config';
import { wrapPgError } from './errors';

/** Where the .sql files live: the project root's migrations/ (works from src/ and from dist/src/). */
export function migrationsDir(rootDir: string = findRoot()): string {
  return path.join(rootDir, 'migrations');
}

export async function migrate(pool: pg.Pool, dir: string = migrationsDir()): Promise<void> {
  // One checked-out client: the advisory lock and each migration's transaction must share a connection,
  // which a Pool passed straight to postgres-migrations would not guarantee.
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw wrapPgError(err, 'connect for migrations');
  }
  try {
    await runMigrations({ client }, dir);
  } catch (err) {
    // postgres-migrations re-wraps the driver error; keep its message and the original as cause.
    throw wrapPgError(err, 'run migrations');
  } finally {
    client.release();
  }
}
