// The SQL behind `durable-sessions cleanup --dry-run` and its progress display: how many sessions are expired.
// Read-only; the deletion itself is the cleanup workflow's (src/postgres/expiry.ts, activities/cleanup.ts).
import { query, type Queryable } from './snapshots';

const COUNT_EXPIRED = `
SELECT count(*)::bigint AS expired FROM conversation_context WHERE updated_at < $1::bigint`;

/** Sessions whose snapshot has `updated_at` strictly below `cutoff` (Unix seconds): what a cleanup would delete. */
export async function countExpired(db: Queryable, cutoff: number): Promise<number> {
  const result = await query<{ expired: string | number }>(db, 'count expired sessions', COUNT_EXPIRED, [
    cutoff,
  ]);
  return Number(result.rows[0]?.expired ?? 0);
}
