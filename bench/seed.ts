// Bulk seeding of conversation_context through insertSnapshotsRaw (one unnest statement per chunk).
// Used by the listSessions and cleanup workloads.
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
  o: { prefix: string; count: number; firstUser: number; perUser: number; newest: number; spreadSeconds: number },
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
    onChunk?.(rows.length);
  }
}
