// The actor's fenced SQL (migrations/2_session_fence.sql, src/postgres/fence.ts) against a real Postgres: a deletion's
// tombstone refuses every later write of the deleted incarnation, concurrent writes and deletes serialise on the
// per-session lock, a new incarnation continues the versions, and retention by SQL spares what an actor loaded since.
import type pg from 'pg';
import {
  expireBatchRecorded,
  expireIdleSessions,
  purgeCleanupProgress,
  purgeTombstones,
  readCleanupProgress,
  selectExpiryCandidates,
} from '../src/retention/sql';
import { claimSession, deleteSessionFenced, persistSession } from '../src/postgres/fence';
import {
  deleteExpiredBatch,
  deleteIfExpired,
  deleteSessionRow,
  insertSnapshotsRaw,
  loadSnapshot,
} from '../src/postgres/snapshots';
import type { SessionSnapshot } from '../src/session-rules';
import { createTestDatabase } from './support/stack';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('pg_fence');
  pool = db.pool;
});
afterAll(async () => {
  await db.drop();
});

const NOW = 1_800_000_000;
function snap(sessionId: string, version: number, content = `v${version}`): SessionSnapshot {
  return {
    version,
    context: {
      sessionId,
      userId: 7,
      agentType: '',
      messages: [{ role: 'user', content }],
      metadata: {},
      createdAt: NOW,
      updatedAt: NOW,
    },
  };
}

test('a write of a deleted incarnation is refused, with the tombstone it met; a new incarnation continues after it', async () => {
  expect(await persistSession(pool, snap('f1', 3), 1, 'chain-a')).toEqual({ outcome: 'written' });
  expect(await deleteSessionFenced(pool, 'f1', 5)).toBe(5); // the actor was at v5, Postgres at v3
  expect(await loadSnapshot(pool, 'f1')).toBeNull();
  // A write of the deleted incarnation (born at 1) still in flight, whatever its version:
  expect(await persistSession(pool, snap('f1', 4), 1, 'chain-a')).toEqual({
    outcome: 'fenced',
    tombstoneVersion: 5,
  });
  expect(await persistSession(pool, snap('f1', 9), 1, 'chain-a')).toEqual({
    outcome: 'fenced',
    tombstoneVersion: 5,
  });
  expect(await loadSnapshot(pool, 'f1')).toBeNull();
  // The next actor finds the tombstone; its session is born after it.
  expect(await claimSession(pool, 'f1', 'chain-b')).toEqual({ kind: 'missing', floorVersion: 5 });
  expect(await persistSession(pool, snap('f1', 6, 'new'), 6, 'chain-b')).toEqual({ outcome: 'written' });
  const claimed = await claimSession(pool, 'f1', 'chain-c');
  expect(claimed).toMatchObject({ kind: 'found', bornVersion: 6, snapshot: { version: 6 } });
  // A second delete keeps the highest version.
  expect(await deleteSessionFenced(pool, 'f1', 0)).toBe(6);
  expect(await deleteSessionFenced(pool, 'missing-one', 0)).toBe(0);
  const { rowCount } = await pool.query('SELECT 1 FROM session_tombstone WHERE session_id = $1', [
    'missing-one',
  ]);
  expect(rowCount).toBe(0);
});

test('a slow write and a delete serialise on the session lock: the row never comes back', async () => {
  await persistSession(pool, snap('f2', 1), 1, 'chain-a');
  const slow = await pool.connect();
  try {
    // The "write" holds the session's lock (as a statement stuck inside ds_persist_session would) ...
    await slow.query('BEGIN');
    await slow.query('SELECT ds_lock_session($1)', ['f2']);
    const deleting = deleteSessionFenced(pool, 'f2', 1);
    await new Promise((r) => setTimeout(r, 200));
    // ... and commits its row; the delete, waiting on the lock, then removes it and leaves the fence.
    await slow.query(
      `UPDATE conversation_context SET version = 2, context_data = '{"messages":[],"metadata":{}}' WHERE session_id = $1`,
      ['f2'],
    );
    await slow.query('COMMIT');
    expect(await deleting).toBe(2);
  } finally {
    slow.release();
  }
  expect(await loadSnapshot(pool, 'f2')).toBeNull();
  expect((await persistSession(pool, snap('f2', 3), 1, 'chain-a')).outcome).toBe('fenced');
});

test('a corrupt row is reported with what is known of it, never as an empty session', async () => {
  await insertSnapshotsRaw(pool, [snap('f3', 1).context]);
  await pool.query(`UPDATE conversation_context SET context_data = '{"messages": 5}' WHERE session_id = $1`, [
    'f3',
  ]);
  expect(await claimSession(pool, 'f3', 'chain-a')).toMatchObject({
    kind: 'corrupt',
    userId: 7,
    version: 1,
    updatedAt: NOW,
  });
});

test('retention by SQL deletes only what is still expired and still held by the holder it saw', async () => {
  const old = NOW - 40 * 86400;
  const aged = (id: string) => ({ ...snap(id, 1).context, createdAt: old, updatedAt: old });
  await insertSnapshotsRaw(pool, [aged('e1'), aged('e2'), aged('e3')]);
  await claimSession(pool, 'e2', 'chain-old');
  await claimSession(pool, 'e3', 'chain-old');
  const candidates = (await selectExpiryCandidates(pool, NOW - 30 * 86400, null, 10)).filter((c) =>
    c.sessionId.startsWith('e'),
  );
  expect(candidates.map((c) => [c.sessionId, c.holder])).toEqual([
    ['e1', null],
    ['e2', 'chain-old'],
    ['e3', 'chain-old'],
  ]);
  // An actor loads e3 after it was selected: it is spared.
  await claimSession(pool, 'e3', 'chain-new');
  expect((await expireIdleSessions(pool, candidates, NOW - 30 * 86400)).sort()).toEqual(['e1', 'e2']);
  expect(await loadSnapshot(pool, 'e3')).not.toBeNull();
  // The expired ones left tombstones: a write of their incarnation in flight is refused.
  expect((await persistSession(pool, snap('e2', 2), 1, 'chain-old')).outcome).toBe('fenced');
  // Tombstones older than the retention are purged; newer ones stay.
  await pool.query(`UPDATE session_tombstone SET deleted_at = $2 WHERE session_id = $1`, [
    'e1',
    1_000_000_000,
  ]);
  const retentionCutoff = Math.floor(Date.now() / 1000) - 30 * 86400; // Postgres' clock stamps tombstones
  expect(await purgeTombstones(pool, retentionCutoff)).toBeGreaterThanOrEqual(1);
  const left = await pool.query<{ session_id: string }>('SELECT session_id FROM session_tombstone');
  expect(left.rows.map((r) => r.session_id)).not.toContain('e1');
  expect(left.rows.map((r) => r.session_id)).toContain('e2');
});

test("a cleanup's batch deletes set-wise under the same guard and records the cleanup's progress with it", async () => {
  const old = NOW - 40 * 86400;
  const cutoff = NOW - 30 * 86400;
  const aged = (id: string) => ({ ...snap(id, 1).context, createdAt: old, updatedAt: old });
  await insertSnapshotsRaw(pool, [aged('r1'), aged('r2'), aged('r3'), aged('r4')]);
  await claimSession(pool, 'r3', 'chain-old');
  const candidates = (await selectExpiryCandidates(pool, cutoff, null, 10)).filter((c) =>
    c.sessionId.startsWith('r'),
  );
  // After selection: an actor loads r3 (new holder) and r4 is written (no longer expired). Both are spared.
  await claimSession(pool, 'r3', 'chain-new');
  await pool.query('UPDATE conversation_context SET updated_at = $2 WHERE session_id = $1', ['r4', NOW]);
  const first = candidates.slice(0, 2);
  const second = candidates.slice(2);
  expect(
    await expireBatchRecorded(pool, {
      cleanupId: 'c1',
      cutoff,
      cold: first,
      last: 'r2',
      expiredByActor: 5,
      keptByActor: 1,
    }),
  ).toEqual(expect.arrayContaining(['r1', 'r2']));
  expect(await readCleanupProgress(pool, 'c1')).toEqual({ after: 'r2', deleted: 7, kept: 1, batches: 1 });
  expect(
    await expireBatchRecorded(pool, {
      cleanupId: 'c1',
      cutoff,
      cold: second,
      last: 'r4',
      expiredByActor: 0,
      keptByActor: 0,
    }),
  ).toEqual([]);
  expect(await readCleanupProgress(pool, 'c1')).toEqual({ after: 'r4', deleted: 7, kept: 3, batches: 2 });
  expect(await loadSnapshot(pool, 'r1')).toBeNull();
  expect(await loadSnapshot(pool, 'r3')).not.toBeNull();
  expect(await loadSnapshot(pool, 'r4')).not.toBeNull();
  // Tombstones fence the deleted incarnations, as with every other deletion.
  expect((await persistSession(pool, snap('r2', 2), 1, 'chain-x')).outcome).toBe('fenced');
  // An empty batch (every session of it held by an actor) still advances the progress.
  await expireBatchRecorded(pool, {
    cleanupId: 'c1',
    cutoff,
    cold: [],
    last: 'r9',
    expiredByActor: 2,
    keptByActor: 0,
  });
  expect(await readCleanupProgress(pool, 'c1')).toEqual({ after: 'r9', deleted: 9, kept: 3, batches: 3 });
  // A cleanup nobody recorded starts at the beginning; old progress is purged like tombstones.
  expect(await readCleanupProgress(pool, 'c-none')).toEqual({ after: null, deleted: 0, kept: 0, batches: 0 });
  expect(await purgeCleanupProgress(pool, Math.floor(Date.now() / 1000) + 10)).toBeGreaterThanOrEqual(1);
  expect((await readCleanupProgress(pool, 'c1')).batches).toBe(0);
});

test("every deletion takes the session's transcript in the same statement; a cleanup's batch raises a tombstone a session had and lays the rest", async () => {
  const lines = (version: number) => [
    { version, messages: [{ role: 'user' as const, content: `t${version}` }] },
  ];
  const transcriptOf = async (ids: string[]) =>
    (
      await pool.query<{ session_id: string }>(
        'SELECT DISTINCT session_id FROM session_transcript WHERE session_id = ANY($1::text[]) ORDER BY 1',
        [ids],
      )
    ).rows.map((r) => r.session_id);
  const tombstone = async (id: string) =>
    (
      await pool.query<{ version: string }>('SELECT version FROM session_tombstone WHERE session_id = $1', [
        id,
      ])
    ).rows.map((r) => Number(r.version))[0];
  // tx1 was deleted once at version 3 and lives again (born 4) at version 6; tx2..tx6 were never deleted.
  await persistSession(pool, snap('tx1', 3), 1, 'chain-1', lines(3));
  await deleteSessionFenced(pool, 'tx1', 3);
  const ids = ['tx1', 'tx2', 'tx3', 'tx4', 'tx5', 'tx6', 'tx7'];
  await persistSession(pool, snap('tx1', 6), 4, 'chain-2', lines(6));
  for (const id of ids.slice(1)) await persistSession(pool, snap(id, 2), 1, `chain-${id}`, lines(2));
  expect(await transcriptOf(ids)).toEqual(ids);

  // A cleanup's batch (ds_expire_batch): everything is expired at NOW + 1.
  const cutoff = NOW + 1;
  const batch = (await selectExpiryCandidates(pool, cutoff, 'tx0', 100)).filter((c) =>
    ['tx1', 'tx2'].includes(c.sessionId),
  );
  expect(
    (
      await expireBatchRecorded(pool, {
        cleanupId: 'c-tx',
        cutoff,
        cold: batch,
        last: 'tx2',
        expiredByActor: 0,
        keptByActor: 0,
      })
    ).sort(),
  ).toEqual(['tx1', 'tx2']);
  expect(await readCleanupProgress(pool, 'c-tx')).toEqual({ after: 'tx2', deleted: 2, kept: 0, batches: 1 });
  expect(await tombstone('tx1')).toBe(6); // raised from 3
  expect(await tombstone('tx2')).toBe(2); // laid
  expect((await persistSession(pool, snap('tx1', 7), 4, 'chain-2')).outcome).toBe('fenced');
  expect(await transcriptOf(ids)).toEqual(ids.slice(2));

  // The actor's fenced delete, retention by SQL one by one, the direct store's deletes.
  await deleteSessionFenced(pool, 'tx3', 2);
  const tx4 = (await selectExpiryCandidates(pool, cutoff, 'tx3', 100)).filter((c) => c.sessionId === 'tx4');
  expect(await expireIdleSessions(pool, tx4, cutoff)).toEqual(['tx4']);
  expect(await deleteSessionRow(pool, 'tx5')).toBe(true);
  expect(await deleteIfExpired(pool, 'tx6', cutoff)).toBe(true);
  expect(await transcriptOf(ids)).toEqual(['tx7']);
  await deleteExpiredBatch(pool, cutoff, 10_000);
  expect(await transcriptOf(ids)).toEqual([]);
  for (const id of ids) expect(await loadSnapshot(pool, id)).toBeNull();
});
