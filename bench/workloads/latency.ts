// Warm single-client latency: the no-op Update and Signal floors beside appendTurn acknowledged when applied
// (Update) and when durable (Signal), in rounds; plus read-your-writes after durable appends.
import { ActorDriver, productDriver } from '../actor-driver';
import type { BenchContext } from '../context';
import { Figure, figures, latency, Latency, ratio, timeEach } from '../stats';

type Series = 'floorUpdate' | 'applied' | 'floorSignal' | 'durable' | 'floorSignalPlain';
const SERIES: Series[] = ['floorUpdate', 'applied', 'floorSignal', 'durable', 'floorSignalPlain'];

export interface LatencyResult {
  series: Record<Series, Record<keyof Latency, Figure>>;
  /** Per-round ratios of the actor to its floor. */
  ratios: { appliedP50: Figure; appliedP99: Figure; durableP50: Figure; durableP99: Figure };
  readYourWrites: { seen: number; total: number; fraction: number };
  /** Session ids used, for the history workload. */
  sessions: { applied: string; durable: string; floor: string };
}

export async function runLatency(
  ctx: BenchContext,
  opts: { turns?: number; rounds?: number; ryw?: boolean; driver?: ActorDriver; tag?: string } = {},
): Promise<LatencyResult> {
  const { target, floor, progress } = ctx;
  const turns = opts.turns ?? ctx.sizes.turns;
  const rounds = opts.rounds ?? ctx.sizes.rounds;
  const actor = opts.driver ?? productDriver(target.service);
  const tag = opts.tag ?? 'lat';
  const appliedId = `${ctx.runId}-${tag}-applied`;
  const durableId = `${ctx.runId}-${tag}-durable`;
  const floorId = `${ctx.runId}-${tag}-floor`;
  const floorSigId = `${ctx.runId}-${tag}-floor-sig`;

  // Warm up: actors exist and are cached, the floor workflows run, connections are open.
  await actor.recover(appliedId, 1);
  await actor.recover(durableId, 1);
  await floor.start(floorId);
  await floor.start(floorSigId);
  for (let i = 0; i < 10; i++) {
    await actor.appendApplied(appliedId, 'warm', 'up');
    await actor.appendDurable(durableId, 'warm', 'up');
    await floor.update(floorId);
    await floor.signal(floorSigId);
  }

  const ops: Record<Series, (i: number) => Promise<unknown>> = {
    floorUpdate: () => floor.update(floorId),
    applied: (i) => actor.appendApplied(appliedId, `question ${i}`, `answer ${i}`),
    floorSignal: () => floor.signal(floorSigId),
    durable: (i) => actor.appendDurable(durableId, `question ${i}`, `answer ${i}`),
    floorSignalPlain: () => floor.signalPlain(floorSigId),
  };
  const perRound: Record<Series, Latency[]> = { floorUpdate: [], applied: [], floorSignal: [], durable: [], floorSignalPlain: [] };
  let seen = 0;
  let total = 0;
  const rywTurns = opts.ryw === false ? 0 : ctx.sizes.rywTurns;
  progress.step(`${actor.label} latency (${rounds} rounds × ${SERIES.length} × ${turns})`, rounds * (SERIES.length * turns + rywTurns));
  for (let r = 0; r < rounds; r++) {
    for (const s of SERIES) perRound[s].push(latency(await timeEach(turns, ops[s], () => progress.tick())));
    for (let i = 0; i < rywTurns; i++) {
      const text = `ryw ${r}/${i} ${Math.random()}`;
      await actor.appendDurable(durableId, text, 'ok');
      total++;
      if ((await actor.lastUserMessage(durableId)) === text) seen++;
      progress.tick();
    }
  }
  progress.done();
  const series = {} as LatencyResult['series'];
  for (const s of SERIES) series[s] = figures(perRound[s] as unknown as Record<keyof Latency, number>[]);
  const p = (s: Series, k: 'p50' | 'p99') => perRound[s].map((l) => l[k]);
  return {
    series,
    ratios: {
      appliedP50: ratio(p('applied', 'p50'), p('floorUpdate', 'p50')),
      appliedP99: ratio(p('applied', 'p99'), p('floorUpdate', 'p99')),
      durableP50: ratio(p('durable', 'p50'), p('floorSignal', 'p50')),
      durableP99: ratio(p('durable', 'p99'), p('floorSignal', 'p99')),
    },
    readYourWrites: { seen, total, fraction: total ? seen / total : NaN },
    sessions: { applied: appliedId, durable: durableId, floor: floorId },
  };
}
