// What a deletion of rows costs as the tables grow: each deleted session's data key and transcript must be found by
// index, never by reading session_key or session_transcript whole. A statement trigger joins the deleted rows
// (a transition table the planner knows nothing about) to those tables; left to the planner, that join read the whole
// table once per batch, so a cleanup of N sessions cost N² / batch (the 1 M cleanup with keys per session: 37 s, its
// bare SQL path 73 s). Counted in the transaction's own table statistics (pg_stat_xact_user_tables), not timed.
import type pg from 'pg';
import { insertSnapshotsRaw } from '../src/postgres';
import { makeContext, nowSec } from './support/contract';
import { createTestDatabase, type TestDatabase } from './support/stack';

const SESSIONS = 20_000;
const BATCH = 500;

let db: TestDatabase;
let pool: pg.Pool;
let ids: string[];

beforeAll(async () => {
  db = await createTestDatabase('cleanup_statements');
  pool = db.pool;
  const old = nowSec() - 40 * 86_400;
  ids = Array.from({ length: SESSIONS }, (_, i) => `cs-${String(i).padStart(6, '0')}`);
  for (let i = 0; i < SESSIONS; i += 5_000) {
    await insertSnapshotsRaw(
      pool,
      ids.slice(i, i + 5_000).map((id, j) => makeContext(id, 7_000 + ((i + j) % 50), { createdAt: old, updatedAt: old })),
    );
  }
  // A live key for every session (keys per session are the default) and a transcript of 4 messages for one in 4.
  await pool.query(
    `INSERT INTO session_key (key_id, session_id, wrapped, master_key_id)
     SELECT 'k-' || s, s, '\\x00'::bytea, 'test' FROM unnest($1::text[]) AS s`,
    [ids],
  );
  await pool.query(
    `INSERT INTO session_transcript (session_id, version, seq, message)
     SELECT s, v, 0, '{"role":"user","content":"hi"}'::jsonb
     FROM unnest($1::text[]) WITH ORDINALITY AS u(s, n), generate_series(1, 4) AS v WHERE u.n % 4 = 0`,
    [ids],
  );
  // Sessions deleted before: tombstones of other ids, as any database that has run for a while holds.
  await pool.query(
    `INSERT INTO session_tombstone (session_id, version, deleted_at)
     SELECT 'gone-' || n, 3, $1 FROM generate_series(1, $2::int) AS n`,
    [old, SESSIONS],
  );
  await pool.query('VACUUM (ANALYZE) conversation_context, session_key, session_transcript, session_tombstone');
}, 120_000);
afterAll(async () => {
  await db?.drop();
});

/**
 * Runs `statement` in a transaction and returns the sequential scans it made of each table, then rolls back. The
 * backend's pending counters (pg_stat_xact_user_tables) may still hold earlier statements of the same connection,
 * so the scans are counted as the difference across the statement.
 */
async function seqScansOf(statement: (c: pg.PoolClient) => Promise<unknown>): Promise<Record<string, number>> {
  const c = await pool.connect();
  const scans = async () => {
    const { rows } = await c.query<{ relname: string; seq_scan: string }>(
      `SELECT relname, seq_scan::text FROM pg_stat_xact_user_tables
       WHERE relname IN ('session_key', 'session_transcript', 'session_tombstone')`,
    );
    return new Map(rows.map((r) => [r.relname, Number(r.seq_scan)]));
  };
  try {
    await c.query('BEGIN');
    const before = await scans();
    await statement(c);
    const after = await scans();
    const left = await c.query<{ keys: string; transcript: string }>(
      `SELECT (SELECT count(*) FROM session_key WHERE session_id = ANY ($1))::text AS keys,
              (SELECT count(*) FROM session_transcript WHERE session_id = ANY ($1))::text AS transcript`,
      [ids.slice(0, BATCH)],
    );
    // The statement did delete: the batch's keys and transcripts are gone with its rows.
    expect(left.rows[0]).toEqual({ keys: '0', transcript: '0' });
    return Object.fromEntries(
      ['session_key', 'session_transcript', 'session_tombstone'].map((t) => [t, (after.get(t) ?? 0) - (before.get(t) ?? 0)]),
    );
  } finally {
    await c.query('ROLLBACK');
    c.release();
  }
}

describe('deleting sessions finds their keys and transcripts by index', () => {
  test(`the cleanup's batch (ds_expire_batch) of ${BATCH} among ${SESSIONS.toLocaleString('en')} sessions`, async () => {
    const batch = ids.slice(0, BATCH);
    const scans = await seqScansOf((c) =>
      c.query(`SELECT ds_expire_batch('test', $1, $2, $3, $4, 0, 0)`, [
        nowSec() - 30 * 86_400,
        batch,
        batch.map(() => null),
        batch[batch.length - 1],
      ]),
    );
    expect(scans).toEqual({ session_key: 0, session_transcript: 0, session_tombstone: 0 });
  });

  test(`a plain DELETE of ${BATCH} rows (the direct store's retention)`, async () => {
    const scans = await seqScansOf((c) =>
      c.query('DELETE FROM conversation_context WHERE session_id = ANY ($1)', [ids.slice(0, BATCH)]),
    );
    expect(scans).toMatchObject({ session_key: 0, session_transcript: 0 });
  });
});
