// Worker memory per cached session actor: a fresh actor-only worker process on its own task queue, K sessions
// started so their actors stay cached, RSS and heap read (after GC) before and after; the same for K no-op
// workflows in another fresh worker process.
import { TemporalSessionService } from '../../src/temporal/service';
import type { BenchContext } from '../context';
import { FloorClient } from '../floor-client';
import { forEachLimit, sleep } from '../stats';
import { startWorkerProcess, WorkerHandle } from '../workers';
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
/** Concurrent starts (not --clients: the figure is per cached workflow, not a load). */
const START_CONCURRENCY = 32;

export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const { target, base, sizes } = ctx;
  const k = sizes.memorySessions;
  const common = {
    temporalAddress: target.address,
    namespace: NAMESPACE,
    databaseUrl: target.databaseUrl,
    actorBundle: base.actorBundle,
    maxCachedWorkflows: k + WARM + 100,
  };
  // Both fresh worker processes start together (each is measured alone; the other one idles meanwhile).
  const [actorWorker, floorWorker] = await Promise.allSettled([
    startWorkerProcess({ ...common, actorTaskQueue: actorQueue(ctx) }),
    startWorkerProcess({
      ...common,
      actorTaskQueue: `bench-memfloor-unused-${ctx.runId}`,
      floorBundle: base.floorBundle,
      floorTaskQueue: floorQueue(ctx),
    }),
  ]);
  try {
    if (actorWorker.status === 'rejected') throw actorWorker.reason;
    if (floorWorker.status === 'rejected') throw floorWorker.reason;
    const actor = await actorMemory(ctx, actorWorker.value);
    await actorWorker.value.stop();
    const floor = await floorMemory(ctx, floorWorker.value);
    return { ...actor, floorRssPerWorkflowKB: floor.rss, floorHeapPerWorkflowKB: floor.heap };
  } finally {
    for (const w of [actorWorker, floorWorker]) if (w.status === 'fulfilled') await w.value.stop();
  }
}

const actorQueue = (ctx: BenchContext) => `bench-memory-${ctx.runId}`;
const floorQueue = (ctx: BenchContext) => `bench-memfloor-${ctx.runId}`;
/** Lets RSS settle after the actors were started (longer for more of them). */
const settleMs = (k: number) => Math.min(2_000, 200 + k);

/** K no-op workflows cached in a fresh floor worker process (each has handled one Update). */
async function floorMemory(ctx: BenchContext, worker: WorkerHandle): Promise<{ rss: number; heap: number }> {
  const { target, progress, sizes } = ctx;
  const k = sizes.memorySessions;
  const floorTaskQueue = floorQueue(ctx);
  const floor = new FloorClient(target.client, floorTaskQueue);
  const start = (from: number, n: number) =>
    forEachLimit(
      Array.from({ length: n }, (_, i) => `${ctx.runId}-memfloor-${from + i}`),
      START_CONCURRENCY,
      async (id) => {
        await floor.start(id);
        await floor.update(id);
        progress.tick();
      },
    );
  progress.step(`worker memory: ${k} cached no-op workflows`, k + WARM);
  await start(0, WARM);
  await sleep(settleMs(WARM));
  const before = await worker.memory();
  await start(WARM, k);
  await sleep(settleMs(k));
  const after = await worker.memory();
  progress.done();
  return { rss: (after.rss - before.rss) / k / 1024, heap: (after.heapUsed - before.heapUsed) / k / 1024 };
}

async function actorMemory(
  ctx: BenchContext,
  worker: WorkerHandle,
): Promise<Omit<MemoryResult, 'floorRssPerWorkflowKB' | 'floorHeapPerWorkflowKB'>> {
  const { target, progress, sizes } = ctx;
  const k = sizes.memorySessions;
  const taskQueue = actorQueue(ctx);
  const service = new TemporalSessionService({ client: target.client, pool: target.pool, taskQueue });
  const start = async (ids: string[]) => {
    await forEachLimit(ids, START_CONCURRENCY, async (id) => {
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
  const ids = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => `${ctx.runId}-mem-${from + i}`);
  progress.step(`worker memory: ${k} cached actors`, k + WARM);
  await start(ids(0, WARM)); // load the workflow bundle and warm the worker before the baseline
  await sleep(settleMs(WARM));
  const before = await worker.memory();
  await start(ids(WARM, k));
  await sleep(settleMs(k));
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
}
