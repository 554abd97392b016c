// Persist strategies of the product actor, side by side: the real `sessionActor` driven through
// TemporalSessionService with different actor configs (they travel in the workflow input, so the one worker
// serves them all), sharing the floor series of each round. Measured like the product: 1-client latency against
// the floors, sustained throughput with snapshot writes and lag, history events per turn.
import type { ActorConfig } from '../../src/config';
import { sessionWorkflowId } from '../../workflows/messages';
import { productDriver } from '../actor-driver';
import type { BenchContext } from '../context';
import { readHistories, HistoryGroup } from './history';
import { LatencyResult, measureLatency } from './latency';
import { measureThroughput, ThroughputResult } from './throughput';

export interface VariantResult {
  key: string;
  label: string;
  actor: Partial<ActorConfig>;
  latency: LatencyResult;
  throughput: ThroughputResult;
  history: {
    appliedSequential: HistoryGroup;
    durableSequential: HistoryGroup;
    appliedSaturated: HistoryGroup;
    durableSaturated: HistoryGroup;
  };
}

export const VARIANTS: { key: string; label: string; actor: Partial<ActorConfig>; answer?: 'session' }[] = [
  {
    key: 'now',
    label: 'write in the answering task (persistDelayMs 0, the earlier design)',
    actor: { persistDelayMs: 0 },
  },
  { key: 'd1s', label: 'at most one write per 1 s, or at 16 versions (the defaults)', actor: {} },
  {
    key: 'd1sTrailing',
    label: 'every write waits 1 s, or 16 versions (the defaults before the leading edge)',
    actor: { persistLeadingEdge: false },
  },
  {
    key: 'd1sSession',
    label:
      'the defaults, each applied turn answered with the session (`execute`; the driver commits otherwise)',
    actor: {},
    answer: 'session',
  },
  {
    key: 'd5s',
    label: 'at most one write per 5 s, or at 4 versions',
    actor: { persistDelayMs: 5_000, persistEvery: 4 },
  },
];

export async function runVariants(ctx: BenchContext): Promise<VariantResult[]> {
  const drivers = VARIANTS.map((v) => productDriver(ctx.target.serviceWith(v.actor), v));
  // Smaller than the product's workloads so that the default run stays near its budget; every config shares the
  // floor series of each round.
  const rounds = Math.min(2, ctx.sizes.rounds);
  const latencies = await measureLatency(ctx, drivers, {
    tag: 'vlat',
    turns: Math.ceil(ctx.sizes.turns / 2),
    rywTurns: Math.ceil(ctx.sizes.rywTurns / 2),
    rounds,
  });
  const throughputs = await measureThroughput(ctx, drivers, {
    tag: 'vtp',
    durationMs: Math.ceil(ctx.sizes.durationMs * 0.6),
    rounds,
  });
  const c = ctx.target.client;
  const out: VariantResult[] = [];
  ctx.progress.step('variants: reading histories', VARIANTS.length);
  for (const [k, v] of VARIANTS.entries()) {
    const latency = latencies[k];
    const throughput = throughputs[k];
    out.push({
      ...v,
      latency,
      throughput,
      history: {
        appliedSequential: await readHistories(c, [sessionWorkflowId(latency.sessions.applied)], 'update'),
        durableSequential: await readHistories(c, [sessionWorkflowId(latency.sessions.durable)], 'signal'),
        appliedSaturated: await readHistories(c, throughput.sample.applied, 'update'),
        durableSaturated: await readHistories(c, throughput.sample.durable, 'signal'),
      },
    });
    ctx.progress.tick();
  }
  ctx.progress.done();
  return out;
}
