// Prototype persist strategies of the actor (bench/workflows/session-actor-variant.ts), measured like the product:
// 1-client latency against the floors, sustained throughput with snapshot writes and lag, history events per turn.
import { variantDriver } from '../actor-driver';
import type { BenchContext } from '../context';
import type { VariantInput } from '../workflows/session-actor-variant';
import { readHistories, HistoryGroup } from './history';
import { LatencyResult, runLatency } from './latency';
import { runThroughput, ThroughputResult } from './throughput';

export interface VariantResult {
  label: string;
  input: Omit<VariantInput, 'session_id'>;
  latency: LatencyResult;
  throughput: ThroughputResult;
  history: { appliedSequential: HistoryGroup; durableSequential: HistoryGroup; appliedSaturated: HistoryGroup; durableSaturated: HistoryGroup };
}

export const VARIANTS: { tag: string; label: string; input: Omit<VariantInput, 'session_id'> }[] = [
  { tag: 'vdelay', label: 'variant: local activity after a 1 s delay', input: { persist_with: 'local', persist_delay_ms: 1_000 } },
  {
    tag: 'vbatch',
    label: 'variant: local activity every 4 turns or after 5 s',
    input: { persist_with: 'local', persist_delay_ms: 5_000, persist_every: 4 },
  },
  { tag: 'vact', label: 'variant: regular activity, no delay', input: { persist_with: 'activity' } },
];

export async function runVariants(ctx: BenchContext): Promise<VariantResult[]> {
  const out: VariantResult[] = [];
  for (const v of VARIANTS) {
    const driver = variantDriver(ctx.target.client, ctx.target.variantTaskQueue, v.input, v.label);
    // Smaller than the product's workloads so that --variants stays a few minutes; the floors are re-measured alongside.
    const latency = await runLatency(ctx, { driver, tag: v.tag, turns: Math.ceil(ctx.sizes.turns / 2), rounds: Math.min(2, ctx.sizes.rounds) });
    const throughput = await runThroughput(ctx, { driver, tag: `${v.tag}tp`, durationMs: Math.ceil(ctx.sizes.durationMs * 0.6), rounds: Math.min(2, ctx.sizes.rounds) });
    const c = ctx.target.client;
    const wf = (id: string) => `session/${id}`;
    out.push({
      label: v.label,
      input: v.input,
      latency,
      throughput,
      history: {
        appliedSequential: await readHistories(c, [wf(latency.sessions.applied)], 'update'),
        durableSequential: await readHistories(c, [wf(latency.sessions.durable)], 'signal'),
        appliedSaturated: await readHistories(c, throughput.sample.applied, 'update'),
        durableSaturated: await readHistories(c, throughput.sample.durable, 'signal'),
      },
    });
  }
  return out;
}
