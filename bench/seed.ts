// Bulk seeding of conversation_context through insertSnapshotsRaw (one unnest statement per chunk).
// Used by the listSessions and cleanup workloads.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { insertSnapshotsRaw } from '../src/postgres/snapshots';
import type { ConversationContext } from '../src/types';

const CHUNK = 10_000;

/**
 * Seeds `count` sessions `${prefix}-${i}` owned by users `firstUser + floor(i / perUser)`, with updated_at spread
 * over [newest - spreadSeconds, newest]. Calls onChunk with the rows written after each statement.
 */
export async function seedSessions(
  pool: pg.Pool,
  o: {
    prefix: string;
    count: number;
    firstUser: number;
    perUser: number;
    newest: number;
    spreadSeconds: number;
    /** Also a live data key per session, as keys per session (the default) leave them. */
    keys?: boolean;
  },
  onChunk?: (rows: number) => void,
): Promise<void> {
  for (let start = 0; start < o.count; start += CHUNK) {
    const rows: ConversationContext[] = [];
    for (let i = start; i < Math.min(o.count, start + CHUNK); i++) {
      const updatedAt = o.newest - Math.floor(((i * 7919) % 1_000_003) / 1_000_003 * o.spreadSeconds);
      rows.push({
        sessionId: `${o.prefix}-${i}`,
        userId: o.firstUser + Math.floor(i / o.perUser),
        agentType: i % 3 === 0 ? 'memo' : 'assistant',
        messages: [
          { role: 'user', content: `question ${i}` },
          { role: 'assistant', content: `answer ${i}` },
        ],
        metadata: { seeded: true },
        createdAt: updatedAt - 60,
        updatedAt,
      });
    }
    await insertSnapshotsRaw(pool, rows);
    if (o.keys) await seedKeys(pool, rows.map((r) => r.sessionId));
    onChunk?.(rows.length);
  }
}

/** One live key row per session: random bytes of a wrapped key's size (the cleanup only destroys them). */
async function seedKeys(pool: pg.Pool, sessionIds: string[]): Promise<void> {
  const wrapped = randomBytes(60);
  await pool.query(
    `INSERT INTO session_key (key_id, session_id, wrapped, master_key_id)
     SELECT 'seed-' || s, s, $2::bytea, 'bench-seed' FROM unnest($1::text[]) AS s`,
    [sessionIds, wrapped],
  );
}

/**
 * Leaves freshly seeded tables as long-lived ones are: vacuumed, analysed and checkpointed. Sessions idle for 30 days
 * were written, vacuumed and checkpointed long ago; right after a bulk seed, autovacuum and the checkpoint the seed's
 * WAL calls for would otherwise run during the measured workload and bill it for the seeding.
 */
export async function settleSeeded(pool: pg.Pool): Promise<void> {
  await pool.query('VACUUM (ANALYZE) conversation_context, session_key, session_tombstone, session_transcript');
  await pool.query('CHECKPOINT');
}
