// A cleanup killed half way (issue 17): the worker running the cleanup workflow is SIGKILLed while it deletes expired
// sessions, another worker takes over, and the cleanup finishes with exactly the totals of an uninterrupted one: every
// expired session deleted once and counted once, every batch counted once, nothing unexpired touched.
import { randomUUID } from 'node:crypto';
import { insertSnapshotsRaw } from '../src/postgres/snapshots';
import { sleep } from '../src/runtime/process';
import { CLEANUP_WORKFLOW_TYPE } from '../src/retention/schedule';
import type { ConversationContext } from '../src/types';
import type { sessionCleanup } from '../workflows/cleanup';
import { sessionWorkflowId } from '../workflows/messages';
import { report } from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';

const size = sizes.cleanupCrash;
const DAY = 86_400;
const CHUNK = 10_000;

function aged(sessionId: string, userId: number, ageSeconds: number): ConversationContext {
  const t = Math.floor(Date.now() / 1000) - ageSeconds;
  return {
    sessionId,
    userId,
    agentType: 'assistant',
    messages: [{ role: 'user', content: `question of ${sessionId}` }],
    metadata: {},
    createdAt: t,
    updatedAt: t,
  };
}

async function seed(rig: Rig, prefix: string, count: number, ageSeconds: number): Promise<void> {
  for (let start = 0; start < count; start += CHUNK) {
    const rows: ConversationContext[] = [];
    for (let i = start; i < Math.min(count, start + CHUNK); i++)
      rows.push(aged(`${prefix}-${String(i).padStart(7, '0')}`, 100_000 + (i % 5_000), ageSeconds));
    await insertSnapshotsRaw(rig.pool, rows);
  }
}

async function count(rig: Rig, prefix: string): Promise<number> {
  const { rows } = await rig.pool.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM conversation_context WHERE session_id LIKE $1`,
    [`${prefix}-%`],
  );
  return Number(rows[0].n);
}

describe('cleanup crash', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('cleanup-crash');
  });
  afterAll(async () => {
    await rig?.close();
  });

  test(`${size.expired} expired sessions, the worker SIGKILLed after ${size.killAfter}: same totals`, async () => {
    const run = `cc${randomUUID().slice(0, 6)}`;
    // Expired sessions whose actor runs (first in id order, so in the first batch): expired through the actor.
    const held = [0, 1, 2].map((i) => `${run}-a-held-${i}`);
    for (const id of held) {
      await insertSnapshotsRaw(rig.pool, [aged(id, 42, 40 * DAY)]);
      await rig.service.execute(id, { type: 'recover', userId: 42 });
      const { status } = await rig.client.workflow.getHandle(sessionWorkflowId(id)).describe();
      expect(status.name).toBe('RUNNING');
    }
    await seed(rig, `${run}-b-old`, size.expired, 31 * DAY);
    await seed(rig, `${run}-c-new`, size.fresh, DAY - 600);
    await rig.pool.query('ANALYZE conversation_context');
    const total = size.expired + held.length;

    const workflowId = `cleanup/crash/${run}`;
    const t0 = Date.now();
    const handle = await rig.client.workflow.start<typeof sessionCleanup>(CLEANUP_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: rig.taskQueue,
      args: [{ retention_days: 30, batch_size: size.batchSize }],
    });
    // Kill the worker once killAfter expired sessions are gone (seen from outside: the rows), before it is done.
    let atKill = 0;
    for (;;) {
      atKill = size.expired - (await count(rig, `${run}-b-old`));
      if (atKill >= size.killAfter) break;
      await sleep(20);
    }
    await rig.killWorker();
    const killedAt = Date.now();
    await rig.startWorker();
    const result = await handle.result();
    const seconds = (Date.now() - t0) / 1000;

    const figures = {
      total,
      deletedAtKill: atKill,
      result,
      seconds,
      rowsPerSecond: Math.round(total / seconds),
      resumeSeconds: (Date.now() - killedAt) / 1000,
    };
    report('cleanup-crash', figures);
    expect(atKill).toBeLessThan(total); // killed half way, not after the end
    expect(result.deleted).toBe(total);
    expect(result.batches).toBe(Math.ceil(total / size.batchSize));
    expect(await count(rig, `${run}-b-old`)).toBe(0);
    expect(await count(rig, `${run}-a-held`)).toBe(0);
    expect(await count(rig, `${run}-c-new`)).toBe(size.fresh);
    for (const id of held)
      await expect(rig.client.workflow.getHandle(sessionWorkflowId(id)).describe()).rejects.toThrow();
    const { rows } = await rig.pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM session_tombstone WHERE session_id LIKE $1',
      [`${run}-%`],
    );
    expect(Number(rows[0].n)).toBe(total);
  });
});
