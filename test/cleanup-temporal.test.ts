// The cleanup workflow on a real dev server and Postgres: 1,000 expired among 1,000 fresh, running actors decide
// on their own state, a turn racing the expiry of its own session, validation and dry runs.
import { SessionNotFoundError, ValidationError } from '../src/errors';
import { insertSnapshotsRaw, loadSnapshot } from '../src/postgres/snapshots';
import { SessionRecovery } from '../src/recovery';
import { CLEANUP_WORKFLOW_TYPE, runCleanup } from '../src/retention/schedule';
import type { ConversationContext } from '../src/types';
import { sessionCleanup } from '../workflows/cleanup';
import { sessionWorkflowId } from '../workflows/messages';
import { eventually, makeContext, nowSec, uniqueIds } from './support/contract';
import { startTemporalHarness, TemporalHarness } from './support/temporal-harness';

const DAY = 86_400;

function aged(sessionId: string, userId: number, ageSeconds: number, content = 'old'): ConversationContext {
  const t = nowSec() - ageSeconds;
  return makeContext(sessionId, userId, {
    messages: [{ role: 'user', content }],
    metadata: { seeded: true },
    createdAt: t,
    updatedAt: t,
  });
}

async function rowCount(h: TemporalHarness, prefix: string): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM conversation_context WHERE session_id LIKE $1',
    [`${prefix}%`],
  );
  return Number(rows[0].n);
}

async function backdate(h: TemporalHarness, sessionId: string, ageSeconds: number): Promise<void> {
  await h.pool.query('UPDATE conversation_context SET updated_at = $2 WHERE session_id = $1', [
    sessionId,
    nowSec() - ageSeconds,
  ]);
}

describe('cleanup workflow', () => {
  let h: TemporalHarness;
  let recovery: SessionRecovery;

  beforeAll(async () => {
    h = await startTemporalHarness('cleanup_wf', { idleTimeoutMs: 60_000 });
    recovery = new SessionRecovery(h.service);
  });
  afterAll(async () => {
    await h?.close();
  });

  test('the workflow type constant is the workflow function', () => {
    expect(sessionCleanup.name).toBe(CLEANUP_WORKFLOW_TYPE);
  });

  test('negative or fractional retention is a ValidationError before anything is sent', async () => {
    await expect(h.service.cleanupExpired(-1)).rejects.toBeInstanceOf(ValidationError);
    await expect(h.service.cleanupExpired(1.5)).rejects.toBeInstanceOf(ValidationError);
  });

  test('the workflow itself rejects negative retention, non-retryably', async () => {
    const handle = await h.client.workflow.start(CLEANUP_WORKFLOW_TYPE, {
      workflowId: `cleanup/test/${uniqueIds().sessionId()}`,
      taskQueue: h.taskQueue,
      args: [{ retention_days: -1 }],
    });
    await expect(handle.result()).rejects.toMatchObject({
      cause: expect.objectContaining({ type: 'ValidationError', nonRetryable: true }),
    });
  });

  test('1,000 expired among 1,000 fresh: exactly 1,000 deleted, fresh kept, a second run deletes 0', async () => {
    const run = `bulk-${Math.random().toString(36).slice(2, 8)}-`;
    const contexts: ConversationContext[] = [];
    for (let i = 0; i < 1000; i++) contexts.push(aged(`${run}old-${i}`, 10_000 + i, 31 * DAY));
    for (let i = 0; i < 1000; i++) contexts.push(aged(`${run}new-${i}`, 20_000 + i, DAY - 60));
    expect(await insertSnapshotsRaw(h.pool, contexts)).toBe(2000);

    // A dry run counts and deletes nothing.
    const dry = await runCleanup(h.client, h.taskQueue, {
      retention_days: 30,
      dry_run: true,
      batch_size: 300,
    });
    expect(dry.deleted).toBe(1000);
    expect(dry.batches).toBe(1); // one count
    expect(await rowCount(h, `${run}old-`)).toBe(1000);

    const t0 = Date.now();
    const deleted = await h.service.cleanupExpired(30);
    const ms = Date.now() - t0;
    console.log(
      `cleanup of 1,000 expired sessions (among 2,000) took ${ms} ms (${Math.round(1000 / (ms / 1000))}/s)`,
    );
    expect(deleted).toBe(1000);
    expect(await rowCount(h, `${run}old-`)).toBe(0);
    expect(await rowCount(h, `${run}new-`)).toBe(1000);
    expect(await h.service.cleanupExpired(30)).toBe(0);
  });

  // Runs where the previous test left no expired session: these four are the only ones, two batches of two.
  test('the next batch is selected while one is deleted: a session written in between survives, counted as kept', async () => {
    const run = `next-${Math.random().toString(36).slice(2, 8)}-`;
    const ids = [0, 1, 2, 3].map((i) => `${run}${i}`);
    expect(await insertSnapshotsRaw(h.pool, ids.map((id, i) => aged(id, 30_000 + i, 31 * DAY)))).toBe(4);
    // The first batch's statement waits on its first session's lock, held here.
    const blocker = await h.pool.connect();
    try {
      await blocker.query('SELECT pg_advisory_lock(hashtextextended($1, 20260))', [ids[0]]);
      const workflowId = `cleanup/test/${run}`;
      const cleanup = runCleanup(h.client, h.taskQueue, { retention_days: 30, batch_size: 2 }, workflowId);
      cleanup.catch(() => undefined);
      await eventually(async () => {
        const { rows } = await h.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ds_expire_batch%'`,
        );
        expect(Number(rows[0].n)).toBe(1);
      });
      // The next batch (sessions 2 and 3) was selected before the statement was sent; give the selection time to
      // return (it reads two rows), then write session 2 as an actor would, after its selection.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await backdate(h, ids[2], 0);
      await blocker.query('SELECT pg_advisory_unlock(hashtextextended($1, 20260))', [ids[0]]);
      const result = await cleanup;
      expect(result.deleted).toBe(3);
      expect(await rowCount(h, run)).toBe(1);
      expect(await loadSnapshot(h.pool, ids[2])).not.toBeNull();
      // Selected (so counted) and refused by the statement's guard: the selection was the prefetched one.
      const { rows } = await h.pool.query<{ deleted: string; kept: string; batches: string }>(
        'SELECT deleted, kept, batches FROM cleanup_progress WHERE cleanup_id LIKE $1',
        [`${workflowId}/%`],
      );
      expect(rows.map((r) => [Number(r.deleted), Number(r.kept), Number(r.batches)])).toEqual([[3, 1, 2]]);
    } finally {
      await blocker.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      blocker.release();
    }
  });

  test('running actors decide: an old state is expired through the actor, a fresh state is kept', async () => {
    const ids = uniqueIds();
    // Fresh actors whose rows were back-dated behind their back: the actor's state is authoritative.
    const fresh = [ids.sessionId('fresh'), ids.sessionId('fresh')];
    for (const id of fresh) {
      await recovery.recoverSession(id, ids.userId());
      await recovery.appendTurn(id, 'q', 'a');
      await eventually(async () =>
        expect((await loadSnapshot(h.pool, id))?.context.messages).toHaveLength(2),
      );
      await backdate(h, id, 40 * DAY);
    }
    // Running actors that hold an old state (hydrated from an old row, nothing changed since).
    const stale = [ids.sessionId('stale'), ids.sessionId('stale')];
    for (const id of stale) {
      await insertSnapshotsRaw(h.pool, [aged(id, ids.userId(), 40 * DAY)]);
      await h.service.execute(id, {
        type: 'recover',
        userId: (await loadSnapshot(h.pool, id))!.context.userId,
      });
      expect((await h.client.workflow.getHandle(sessionWorkflowId(id)).describe()).status.name).toBe(
        'RUNNING',
      );
    }

    expect(await h.service.cleanupExpired(30)).toBe(2);
    for (const id of stale) {
      expect(await loadSnapshot(h.pool, id)).toBeNull();
      expect(await h.service.loadContext(id)).toBeNull();
      await expect(h.client.workflow.getHandle(sessionWorkflowId(id)).describe()).rejects.toThrow();
    }
    for (const id of fresh) {
      expect(await loadSnapshot(h.pool, id)).not.toBeNull();
      expect((await h.service.loadContext(id))?.messages).toHaveLength(2);
      expect((await h.client.workflow.getHandle(sessionWorkflowId(id)).describe()).status.name).toBe(
        'RUNNING',
      );
    }
  });

  test('a turn racing the expiry of its own session: the turn wins or the expiry wins, never half', async () => {
    const ids = uniqueIds();
    const outcomes = { turnWon: 0, expiryWon: 0 };
    for (let i = 0; i < 8; i++) {
      const id = ids.sessionId(`race${i}`);
      const userId = ids.userId();
      await insertSnapshotsRaw(h.pool, [aged(id, userId, 31 * DAY, 'before')]);
      // Spread over the cleanup's own duration, so the turn lands before, during and after the expiry.
      const delay = i * 30;
      const [turn] = await Promise.allSettled([
        new Promise((r) => setTimeout(r, delay)).then(() => recovery.appendTurn(id, 'q', 'a')),
        h.service.cleanupExpired(30),
      ]);
      if (turn.status === 'fulfilled') {
        // Applied to the old session: it is kept, with the old message and the turn, in the actor and in Postgres.
        outcomes.turnWon++;
        const expected = ['before', 'q', 'a'];
        expect(turn.value.context.messages.map((m) => m.content)).toEqual(expected);
        expect((await h.service.loadContext(id))?.messages.map((m) => m.content)).toEqual(expected);
        await eventually(async () =>
          expect((await loadSnapshot(h.pool, id))?.context.messages.map((m) => m.content)).toEqual(expected),
        );
      } else {
        // The expiry won: the turn met no session and left none behind.
        outcomes.expiryWon++;
        expect(turn.reason).toBeInstanceOf(SessionNotFoundError);
        expect(await h.service.loadContext(id)).toBeNull();
        expect(await loadSnapshot(h.pool, id)).toBeNull();
      }
    }
    console.log(`turn vs expiry race outcomes: ${JSON.stringify(outcomes)}`);
    expect(outcomes.turnWon + outcomes.expiryWon).toBe(8);
  });

  test('a durable turn racing the expiry either lands on the old session or starts a new one', async () => {
    const ids = uniqueIds();
    for (let i = 0; i < 4; i++) {
      const id = ids.sessionId(`drace${i}`);
      const userId = ids.userId();
      await insertSnapshotsRaw(h.pool, [aged(id, userId, 31 * DAY, 'before')]);
      const [turn] = await Promise.allSettled([
        h.service.submitTurn(id, 'q', 'a', { userId }),
        h.service.cleanupExpired(30),
      ]);
      expect(turn.status).toBe('fulfilled');
      const ctx = await h.service.loadContext(id);
      const contents = ctx?.messages.map((m) => m.content);
      // Either the old session with the turn, or a new session holding only the turn: never the old one without it.
      expect([JSON.stringify(['before', 'q', 'a']), JSON.stringify(['q', 'a'])]).toContain(
        JSON.stringify(contents),
      );
      await eventually(async () =>
        expect((await loadSnapshot(h.pool, id))?.context.messages.map((m) => m.content)).toEqual(contents),
      );
    }
  });
});
