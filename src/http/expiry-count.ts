// The SQL behind `POST /v1/cleanup {dry_run: true}`: how many sessions retention would delete now.
// Used by the cleanup route only; the deleting side is the cleanup workflow's (src/postgres/expiry.ts).
import { query, type Queryable } from '../postgres/snapshots';

const COUNT_EXPIRED = `SELECT count(*)::integer AS n FROM conversation_context WHERE updated_at < $1::bigint`;

/** Sessions whose snapshot has `updated_at < cutoff` (strictly), as the cleanup workflow selects them. */
export async function countExpired(db: Queryable, cutoff: number): Promise<number> {
  const result = await query<{ n: number }>(db, 'count expired sessions', COUNT_EXPIRED, [cutoff]);
  return result.rows[0]?.n ?? 0;
}
