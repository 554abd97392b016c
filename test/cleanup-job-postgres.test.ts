// SessionCleanupJob on PostgresSessionStore (the in-process timer) against a real Postgres test database.
// start runs once at once and then every interval, a second start is a no-op, stop is immediate and idempotent.
import { SessionCleanupJob, type CleanupLogger } from '../src/retention/job';
import { createPool, insertSnapshotsRaw, loadSnapshot, PostgresSessionStore } from '../src/postgres';
import type pg from 'pg';
import { eventually, makeContext, nowSec, uniqueIds } from './support/contract';
import { createTestDatabase, type TestDatabase } from './support/stack';

const silent: CleanupLogger = { info: () => undefined, error: () => undefined };

describe('SessionCleanupJob on PostgresSessionStore', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: PostgresSessionStore;

  beforeAll(async () => {
    db = await createTestDatabase('cleanup_job_pg');
    pool = createPool(db.url, 4);
    store = new PostgresSessionStore(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function seed(count: number, ageDays: number): Promise<string[]> {
    const ids = uniqueIds();
    const t = nowSec() - ageDays * 86_400;
    const contexts = Array.from({ length: count }, () =>
      makeContext(ids.sessionId(), ids.userId(), { createdAt: t, updatedAt: t }),
    );
    await insertSnapshotsRaw(pool, contexts);
    return contexts.map((c) => c.sessionId);
  }

  test('start runs once at once and then every interval; a second start is a no-op; stop is at once', async () => {
    const expired = await seed(4, 31);
    const fresh = await seed(2, 29);
    const spy = jest.spyOn(store, 'cleanupExpired');
    const job = new SessionCleanupJob(
      store,
      { retentionDays: 30, cleanupIntervalMs: 300 },
      { logger: silent },
    );
    await job.start();
    await job.start();
    expect(job.isRunning()).toBe(true);
    await eventually(async () => {
      for (const id of expired) expect(await loadSnapshot(pool, id)).toBeNull();
    });
    for (const id of fresh) expect(await loadSnapshot(pool, id)).not.toBeNull();
    // One timer, not two: after ~3 intervals, about 4 runs (one at once + one per tick), never ~8.
    await new Promise((r) => setTimeout(r, 1_000));
    const calls = spy.mock.calls.length;
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(5);
    expect(spy).toHaveBeenCalledWith(30);

    const stopping = job.stop();
    expect(job.isRunning()).toBe(false);
    await stopping;
    await job.stop();
    const atStop = spy.mock.calls.length;
    await new Promise((r) => setTimeout(r, 700));
    expect(spy.mock.calls.length).toBe(atStop);
    spy.mockRestore();
  });

  test('runOnce returns the count, running or not; non-positive config falls back to 30 days', async () => {
    const job = new SessionCleanupJob(store, { retentionDays: 0, cleanupIntervalMs: -1 }, { logger: silent });
    expect(job.config).toEqual({ retentionDays: 30, cleanupIntervalMs: 24 * 3_600_000 });
    await seed(3, 31);
    const keep = await seed(1, 29);
    expect(await job.runOnce()).toBe(3);
    expect(await job.runOnce()).toBe(0);
    expect(await loadSnapshot(pool, keep[0])).not.toBeNull();
    expect(job.isRunning()).toBe(false);
  });

  test('aborting the signal stops the job', async () => {
    const job = new SessionCleanupJob(store, { cleanupIntervalMs: 60_000 }, { logger: silent });
    const controller = new AbortController();
    await job.start(controller.signal);
    expect(job.isRunning()).toBe(true);
    controller.abort();
    expect(job.isRunning()).toBe(false);
  });
});
