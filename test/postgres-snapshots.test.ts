// Snapshot SQL against a real Postgres: migrations, monotonic upsert, corrupt rows, list pages, expiry, seeding.
// Each file gets its own database from the test support.
import type pg from 'pg';
import { StorageError, ValidationError } from '../src/errors';
import type { SessionSnapshot } from '../src/session-rules';
import type { ConversationContext } from '../src/types';
import {
  decodeCursor,
  deleteExpiredBatch,
  deleteIfExpired,
  deleteSessionRow,
  encodeCursor,
  insertSnapshotsRaw,
  listSummaries,
  loadSnapshot,
  migrate,
} from '../src/postgres';
import { persistSession } from '../src/postgres/fence';
import { createTestDatabase } from './support/stack';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('pg_snapshots');
  pool = db.pool;
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await pool.query('TRUNCATE conversation_context, session_transcript'); // transcripts go with rows on DELETE, not TRUNCATE
});

function ctx(sessionId: string, over: Partial<ConversationContext> = {}): ConversationContext {
  return {
    sessionId,
    userId: 1,
    agentType: 'memo',
    messages: [{ role: 'user', content: `hello ${sessionId}` }],
    metadata: { topic: 't', count: 42 },
    createdAt: 1_700_000_000,
    updatedAt: 1_700_000_000,
    ...over,
  };
}

function snap(sessionId: string, version: number, over: Partial<ConversationContext> = {}): SessionSnapshot {
  return { context: ctx(sessionId, { metadata: { v: version }, ...over }), version };
}

describe('migrate', () => {
  it('is a no-op the second time', async () => {
    await migrate(pool);
    await migrate(pool);
    const { rows } = await pool.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual([
      'create-migrations-table',
      'create_conversation_context',
      'session_fence',
      'session_transcript',
      'session_keys',
      'cleanup_progress',
      'cleanup_per_statement',
      'session_key_retire',
      'cleanup_by_index',
    ]);
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
  });

  it('creates the keyset and cleanup indexes', async () => {
    const { rows } = await pool.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE tablename = 'conversation_context'`,
    );
    const defs = rows.map((r) => r.indexdef).join('\n');
    expect(defs).toContain('(user_id, updated_at DESC, session_id DESC)');
    expect(defs).toContain('(updated_at)');
  });
});

/** The actor's snapshot write (fenced by tombstones, see test/postgres-fence.test.ts): true when it wrote. */
async function upsertSnapshot(db: pg.Pool, snapshot: SessionSnapshot): Promise<boolean> {
  return (await persistSession(db, snapshot, 1, 'test-holder')).outcome === 'written';
}

describe('persistSession / loadSnapshot', () => {
  it('writes and reads back a snapshot, numbers staying numbers', async () => {
    expect(
      await upsertSnapshot(pool, snap('s1', 1, { metadata: { count: 42, nested: { a: [1, 'x'] } } })),
    ).toBe(true);
    const loaded = await loadSnapshot(pool, 's1');
    expect(loaded).toEqual(snap('s1', 1, { metadata: { count: 42, nested: { a: [1, 'x'] } } }));
    expect(typeof loaded?.context.createdAt).toBe('number');
  });

  it('returns null for a missing session', async () => {
    expect(await loadSnapshot(pool, 'nope')).toBeNull();
  });

  it('never goes back in version', async () => {
    expect(await upsertSnapshot(pool, snap('s1', 5))).toBe(true);
    expect(await upsertSnapshot(pool, snap('s1', 3))).toBe(false);
    expect(await upsertSnapshot(pool, snap('s1', 5))).toBe(false);
    expect((await loadSnapshot(pool, 's1'))?.context.metadata).toEqual({ v: 5 });
    expect(await upsertSnapshot(pool, snap('s1', 6, { userId: 9, createdAt: 1 }))).toBe(true);
    const loaded = await loadSnapshot(pool, 's1');
    // The actor is authoritative: every column is written.
    expect(loaded?.version).toBe(6);
    expect(loaded?.context.userId).toBe(9);
    expect(loaded?.context.createdAt).toBe(1);
  });

  it('ends at the highest version whatever order concurrent upserts arrive in', async () => {
    const versions = Array.from({ length: 50 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    const written = await Promise.all(versions.map((v) => upsertSnapshot(pool, snap('race', v))));
    expect(written.some(Boolean)).toBe(true);
    const loaded = await loadSnapshot(pool, 'race');
    expect(loaded?.version).toBe(50);
    expect(loaded?.context.metadata).toEqual({ v: 50 });
  });

  it.each([
    ['a string', `'"garbage"'`],
    ['an array', `'[1,2]'`],
    ['messages not an array', `'{"metadata":{},"messages":"x"}'`],
    ['a message with a bad role', `'{"metadata":{},"messages":[{"role":"robot","content":"x"}]}'`],
    ['metadata not an object', `'{"metadata":[1],"messages":[]}'`],
  ])('treats context_data that is %s as a corrupt row (StorageError)', async (_what, literal) => {
    await upsertSnapshot(pool, snap('bad', 1));
    await pool.query(
      `UPDATE conversation_context SET context_data = ${literal}::jsonb WHERE session_id = $1`,
      ['bad'],
    );
    await expect(loadSnapshot(pool, 'bad')).rejects.toThrow(StorageError);
    await expect(loadSnapshot(pool, 'bad')).rejects.toThrow(/corrupt/);
  });

  it('reads null metadata/messages (what the reference writes for nil) as empty', async () => {
    await upsertSnapshot(pool, snap('nil', 1));
    await pool.query(
      `UPDATE conversation_context SET context_data = '{"metadata":null,"messages":null}'::jsonb WHERE session_id = $1`,
      ['nil'],
    );
    const loaded = await loadSnapshot(pool, 'nil');
    expect(loaded?.context.messages).toEqual([]);
    expect(loaded?.context.metadata).toEqual({});
  });

  it('wraps a caller-caused Postgres error with its cause', async () => {
    const err = (await upsertSnapshot(pool, snap('nul', 1, { metadata: { k: 'a\u0000b' } })).catch(
      (e: unknown) => e,
    )) as Error & { code?: string; cause?: { code?: string } };
    expect(err.code).toBe('invalid_argument');
    expect(err.cause?.code).toBe('22P05');
  });
});

describe('listSummaries', () => {
  beforeEach(async () => {
    await insertSnapshotsRaw(pool, [
      ctx('a', { updatedAt: 100, agentType: 'memo', messages: [] }),
      ctx('b', {
        updatedAt: 300,
        agentType: 'schedule',
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'last one' },
        ],
      }),
      ctx('c', { updatedAt: 200, agentType: 'memo' }),
      ctx('d', { updatedAt: 200, agentType: 'memo' }),
      ctx('e', { updatedAt: 999, userId: 2 }),
    ]);
  });

  it('orders newest first, ties by session id descending, only the given user', async () => {
    const page = await listSummaries(pool, 1, 0);
    expect(page.sessions).toEqual([
      { sessionId: 'b', agentType: 'schedule', lastMessage: 'last one', updatedAt: 300 },
      { sessionId: 'd', agentType: 'memo', lastMessage: 'hello d', updatedAt: 200 },
      { sessionId: 'c', agentType: 'memo', lastMessage: 'hello c', updatedAt: 200 },
      { sessionId: 'a', agentType: 'memo', lastMessage: '', updatedAt: 100 },
    ]);
    expect(page.nextCursor).toBeUndefined();
    expect((await listSummaries(pool, 3, 10)).sessions).toEqual([]);
  });

  it('filters by agent type; an empty agent type means no filter', async () => {
    expect(
      (await listSummaries(pool, 1, 10, { agentType: 'memo' })).sessions.map((s) => s.sessionId),
    ).toEqual(['d', 'c', 'a']);
    expect((await listSummaries(pool, 1, 10, { agentType: '' })).sessions).toHaveLength(4);
    await expect(listSummaries(pool, 1, 10, { agentType: 'no spaces' })).rejects.toThrow(ValidationError);
  });

  it('defaults a non-positive limit to 20 and caps at 200', async () => {
    await pool.query('TRUNCATE conversation_context, session_transcript'); // transcripts go with rows on DELETE, not TRUNCATE
    await insertSnapshotsRaw(
      pool,
      Array.from({ length: 250 }, (_, i) => ctx(`s${String(i).padStart(3, '0')}`, { updatedAt: 1000 + i })),
    );
    expect((await listSummaries(pool, 1, 0)).sessions).toHaveLength(20);
    expect((await listSummaries(pool, 1, -5)).sessions).toHaveLength(20);
    expect((await listSummaries(pool, 1, 7)).sessions).toHaveLength(7);
    const capped = await listSummaries(pool, 1, 1000);
    expect(capped.sessions).toHaveLength(200);
    expect(capped.nextCursor).toBeDefined();
    await expect(listSummaries(pool, 1, 1.5)).rejects.toThrow(ValidationError);
  });

  it('pages with the cursor cover every row exactly once, in order', async () => {
    await pool.query('TRUNCATE conversation_context, session_transcript'); // transcripts go with rows on DELETE, not TRUNCATE
    // Many ties on updated_at, so pages split inside a run of equal timestamps.
    const all = Array.from({ length: 137 }, (_, i) => ctx(`p-${i}`, { updatedAt: 5000 + (i % 9) }));
    await insertSnapshotsRaw(pool, all);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listSummaries(pool, 1, 10, cursor ? { cursor } : {});
      seen.push(...page.sessions.map((s) => s.sessionId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(14);
    expect(seen).toHaveLength(137);
    expect(new Set(seen).size).toBe(137);
    const whole = (await listSummaries(pool, 1, 200)).sessions.map((s) => s.sessionId);
    expect(seen).toEqual(whole);
  });

  it('a page of exactly the remaining rows has no next cursor', async () => {
    const first = await listSummaries(pool, 1, 2);
    expect(first.nextCursor).toBeDefined();
    const second = await listSummaries(pool, 1, 2, { cursor: first.nextCursor });
    expect(second.sessions.map((s) => s.sessionId)).toEqual(['c', 'a']);
    expect(second.nextCursor).toBeUndefined();
  });

  it.each([
    ['garbage', 'not a cursor!'],
    ['base64 of non-JSON', Buffer.from('hello').toString('base64url')],
    ['an unknown version', Buffer.from(JSON.stringify({ v: 2, u: 1, s: 'a' })).toString('base64url')],
    ['a bad session id', Buffer.from(JSON.stringify({ v: 1, u: 1, s: 'a b' })).toString('base64url')],
    ['a non-integer time', Buffer.from(JSON.stringify({ v: 1, u: '1', s: 'a' })).toString('base64url')],
    ['an empty string', ''],
  ])('rejects a cursor that is %s with ValidationError(cursor)', async (_what, cursor) => {
    const err = (await listSummaries(pool, 1, 10, { cursor }).catch((e: unknown) => e)) as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.field).toBe('cursor');
  });

  it('cursors round-trip', () => {
    expect(decodeCursor(encodeCursor({ updatedAt: 123, sessionId: 'x:y' }))).toEqual({
      updatedAt: 123,
      sessionId: 'x:y',
    });
  });
});

describe('deletion and expiry', () => {
  beforeEach(async () => {
    await insertSnapshotsRaw(pool, [
      ctx('old1', { updatedAt: 10 }),
      ctx('old2', { updatedAt: 20 }),
      ctx('edge', { updatedAt: 50 }),
      ctx('new', { updatedAt: 90 }),
    ]);
  });

  it('deleteSessionRow reports whether a row went', async () => {
    expect(await deleteSessionRow(pool, 'old1')).toBe(true);
    expect(await deleteSessionRow(pool, 'old1')).toBe(false);
  });

  it('deleteExpiredBatch is strict: a row exactly at the cutoff is kept', async () => {
    expect((await deleteExpiredBatch(pool, 50, 100)).ids.sort()).toEqual(['old1', 'old2']);
    expect(await loadSnapshot(pool, 'edge')).not.toBeNull();
    expect((await deleteExpiredBatch(pool, 50, 100)).ids).toEqual([]);
  });

  it('deleteExpiredBatch deletes at most batchSize, oldest first, and says where the next batch starts', async () => {
    const first = await deleteExpiredBatch(pool, 100, 1);
    expect(first).toEqual({ ids: ['old1'], reached: 10 });
    expect(await deleteExpiredBatch(pool, 100, 2, first.reached)).toEqual({ ids: ['old2', 'edge'], reached: 50 });
    // Nothing before `from` is read: a row older than it is left for a later cleanup.
    await insertSnapshotsRaw(pool, [ctx('older', { createdAt: 5, updatedAt: 5 })]);
    expect((await deleteExpiredBatch(pool, 60, 10, 50)).ids).toEqual([]);
    expect((await deleteExpiredBatch(pool, 60, 10)).ids).toEqual(['older']);
  });

  it('deleteIfExpired re-checks the cutoff', async () => {
    expect(await deleteIfExpired(pool, 'edge', 50)).toBe(false);
    expect(await deleteIfExpired(pool, 'edge', 51)).toBe(true);
    expect(await deleteIfExpired(pool, 'missing', 51)).toBe(false);
  });
});

describe('insertSnapshotsRaw', () => {
  it('seeds 10,000 rows with exact timestamps in one statement', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) =>
      ctx(`seed-${i}`, {
        userId: i % 7,
        createdAt: 1_000 + i,
        updatedAt: 2_000 + i,
        messages: [{ role: 'assistant', content: `quote " and \\ backslash ${i}` }],
      }),
    );
    const spy = jest.spyOn(pool, 'query');
    expect(await insertSnapshotsRaw(pool, rows)).toBe(10_000);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    const { rows: count } = await pool.query<{ n: number; v: number }>(
      'SELECT count(*)::int AS n, max(version)::int AS v FROM conversation_context',
    );
    expect(count[0]).toEqual({ n: 10_000, v: 1 });
    const one = await loadSnapshot(pool, 'seed-4321');
    expect(one?.context).toEqual(rows[4321]);
  });

  it('inserts nothing for an empty list', async () => {
    expect(await insertSnapshotsRaw(pool, [])).toBe(0);
  });
});
