// Worker memory per cached session actor: a fresh actor-only worker process on its own task queue, K sessions
// started so their actors stay cached, RSS and heap read (after GC) before and after.
import { TemporalSessionService } from '../../src/temporal/service';
import type { BenchContext } from '../context';
import { FloorClient } from '../floor-client';
import { forEachLimit, sleep } from '../stats';
import { startWorkerProcess } from '../workers';
import { NAMESPACE } from '../stack';

export interface MemoryResult {
  sessions: number;
  /** The same reading for K cached no-op floor workflows (what any cached workflow costs in this SDK). */
  floorRssPerWorkflowKB: number;
  floorHeapPerWorkflowKB: number;
  rssBefore: number;
  rssAfter: number;
  rssPerSessionKB: number;
  heapPerSessionKB: number;
  note: string;
}

const WARM = 20;

export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const actor = await actorMemory(ctx);
  const floor = await floorMemory(ctx);
  return { ...actor, floorRssPerWorkflowKB: floor.rss, floorHeapPerWorkflowKB: floor.heap };
}

/** K no-op workflows cached in a fresh floor worker process (each has handled one Update). */
async function floorMemory(ctx: BenchContext): Promise<{ rss: number; heap: number }> {
  const { target, base, progress, sizes } = ctx;
  const k = sizes.memorySessions;
  const floorTaskQueue = `bench-memfloor-${ctx.runId}`;
  const worker = await startWorkerProcess({
    temporalAddress: target.address,
    namespace: NAMESPACE,
    databaseUrl: target.databaseUrl,
    actorBundle: base.actorBundle,
    actorTaskQueue: `bench-memfloor-unused-${ctx.runId}`,
    floorBundle: base.floorBundle,
    floorTaskQueue,
    maxCachedWorkflows: k + WARM + 100,
  });
  try {
    const floor = new FloorClient(target.client, floorTaskQueue);
    const start = (from: number, n: number) =>
      forEachLimit(Array.from({ length: n }, (_, i) => `${ctx.runId}-memfloor-${from + i}`), sizes.clients, async (id) => {
        await floor.start(id);
        await floor.update(id);
        progress.tick();
      });
    progress.step(`worker memory: ${k} cached no-op workflows`, k + WARM);
    await start(0, WARM);
    await sleep(1_000);
    const before = await worker.memory();
    await start(WARM, k);
    await sleep(2_000);
    const after = await worker.memory();
    progress.done();
    return { rss: (after.rss - before.rss) / k / 1024, heap: (after.heapUsed - before.heapUsed) / k / 1024 };
  } finally {
    await worker.stop();
  }
}

async function actorMemory(ctx: BenchContext): Promise<Omit<MemoryResult, 'floorRssPerWorkflowKB' | 'floorHeapPerWorkflowKB'>> {
  const { target, base, progress, sizes } = ctx;
  const k = sizes.memorySessions;
  const taskQueue = `bench-memory-${ctx.runId}`;
  const worker = await startWorkerProcess({
    temporalAddress: target.address,
    namespace: NAMESPACE,
    databaseUrl: target.databaseUrl,
    actorBundle: base.actorBundle,
    actorTaskQueue: taskQueue,
    maxCachedWorkflows: k + WARM + 100,
  });
  try {
    const service = new TemporalSessionService({ client: target.client, pool: target.pool, taskQueue });
    const start = async (ids: string[]) => {
      await forEachLimit(ids, ctx.sizes.clients, async (id) => {
        await service.submitTurn(id, 'hello', 'hi', { userId: 51, agentType: 'assistant' });
        progress.tick();
      });
      // Every actor has run once its snapshot is in Postgres.
      for (let i = 0; i < 600; i++) {
        const r = await target.pool.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM conversation_context WHERE session_id = ANY($1::text[])',
          [ids],
        );
        if (Number(r.rows[0].n) >= ids.length) return;
        await sleep(200);
      }
      throw new Error('memory workload: actors did not all persist');
    };
    const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `${ctx.runId}-mem-${from + i}`);
    progress.step(`worker memory: ${k} cached actors`, k + WARM);
    await start(ids(0, WARM)); // load the workflow bundle and warm the worker before the baseline
    await sleep(1_000);
    const before = await worker.memory();
    await start(ids(WARM, k));
    await sleep(2_000);
    const after = await worker.memory();
    progress.done();
    return {
      sessions: k,
      rssBefore: before.rss,
      rssAfter: after.rss,
      rssPerSessionKB: (after.rss - before.rss) / k / 1024,
      heapPerSessionKB: (after.heapUsed - before.heapUsed) / k / 1024,
      note: 'RSS covers the workflow thread; heap is the main isolate only (workflows run in a worker thread)',
    };
  } finally {
    await worker.stop();
  }
}
