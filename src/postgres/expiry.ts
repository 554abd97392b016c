// The SQL of retention: expire a batch of cold sessions in one statement, re-checking the cutoff.
// Used by the cleanup activities (activities/cleanup.ts); the per-session forms live in snapshots.ts.
import { query, type Queryable } from './snapshots';

const DELETE_EXPIRED_AMONG = `
DELETE FROM conversation_context
WHERE session_id = ANY($1::text[]) AND updated_at < $2::bigint
RETURNING session_id`;

/**
 * Deletes those of `sessionIds` whose `updated_at` is still strictly below `cutoff` (a session written since it
 * was selected is kept) and returns the ids it deleted. One statement for a whole batch.
 */
export async function deleteExpiredAmong(
  db: Queryable,
  sessionIds: string[],
  cutoff: number,
): Promise<string[]> {
  if (sessionIds.length === 0) return [];
  const result = await query<{ session_id: string }>(db, 'delete expired sessions', DELETE_EXPIRED_AMONG, [
    sessionIds,
    cutoff,
  ]);
  return result.rows.map((r) => r.session_id);
}
