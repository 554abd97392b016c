// Warm single-client latency: the no-op Update and Signal floors beside appendTurn acknowledged when applied
// (Update) and when durable (Signal), in rounds; plus read-your-writes after durable appends. Several actor
// drivers (persist configs) can share one set of floor series, interleaved within each round.
import { ActorDriver, productDriver } from '../actor-driver';
import type { BenchContext } from '../context';
import { Figure, figures, latency, Latency, ratio, timeEach } from '../stats';

type Series = 'floorUpdate' | 'applied' | 'floorSignal' | 'durable' | 'floorSignalPlain';
const FLOORS = ['floorUpdate', 'floorSignal', 'floorSignalPlain'] as const;

export interface LatencyResult {
  series: Record<Series, Record<keyof Latency, Figure>>;
  /** Per-round ratios of the actor to its floor. */
  ratios: { appliedP50: Figure; appliedP99: Figure; durableP50: Figure; durableP99: Figure };
  readYourWrites: { seen: number; total: number; fraction: number };
  /** Session ids used, for the history workload. */
  sessions: { applied: string; durable: string; floor: string };
}

/** The product actor with its default config against the floors. */
export async function runLatency(
  ctx: BenchContext,
  opts: { turns?: number; rounds?: number; ryw?: boolean; tag?: string } = {},
): Promise<LatencyResult> {
  return (await measureLatency(ctx, [productDriver(ctx.target.service)], opts))[0];
}

/**
 * One result per driver; every driver's applied/durable series runs in the same rounds, right after the same
 * floor series, so the per-round ratios of different drivers share their floor.
 */
export async function measureLatency(
  ctx: BenchContext,
  drivers: ActorDriver[],
  opts: { turns?: number; rounds?: number; ryw?: boolean; rywTurns?: number; tag?: string } = {},
): Promise<LatencyResult[]> {
  const { floor, progress } = ctx;
  const turns = opts.turns ?? ctx.sizes.turns;
  const rounds = opts.rounds ?? ctx.sizes.rounds;
  const tag = opts.tag ?? 'lat';
  const id = (d: ActorDriver, kind: string) => `${ctx.runId}-${tag}-${d.key}-${kind}`;
  const floorId = `${ctx.runId}-${tag}-floor`;
  const floorSigId = `${ctx.runId}-${tag}-floor-sig`;

  // Warm up: actors exist and are cached, the floor workflows run, connections are open.
  await floor.start(floorId);
  await floor.start(floorSigId);
  for (const d of drivers) {
    await d.recover(id(d, 'applied'), 1);
    await d.recover(id(d, 'durable'), 1);
  }
  for (let i = 0; i < 10; i++) {
    await floor.update(floorId);
    await floor.signal(floorSigId);
    for (const d of drivers) {
      await d.appendApplied(id(d, 'applied'), 'warm', 'up');
      await d.appendDurable(id(d, 'durable'), 'warm', 'up');
    }
  }

  const floorOps: Record<(typeof FLOORS)[number], () => Promise<unknown>> = {
    floorUpdate: () => floor.update(floorId),
    floorSignal: () => floor.signal(floorSigId),
    floorSignalPlain: () => floor.signalPlain(floorSigId),
  };
  const floorRounds: Record<(typeof FLOORS)[number], Latency[]> = { floorUpdate: [], floorSignal: [], floorSignalPlain: [] };
  const actorRounds = drivers.map(() => ({ applied: [] as Latency[], durable: [] as Latency[], seen: 0, total: 0 }));
  const rywTurns = opts.ryw === false ? 0 : (opts.rywTurns ?? ctx.sizes.rywTurns);
  const seriesPerRound = FLOORS.length + 2 * drivers.length;
  progress.step(
    `latency (${rounds} rounds × ${seriesPerRound} series × ${turns}${drivers.length > 1 ? `, ${drivers.length} configs` : ''})`,
    rounds * (seriesPerRound * turns + drivers.length * rywTurns),
  );
  const tick = () => progress.tick();
  const time = async (op: (i: number) => Promise<unknown>) => latency(await timeEach(turns, op, tick));
  for (let r = 0; r < rounds; r++) {
    floorRounds.floorUpdate.push(await time(floorOps.floorUpdate));
    for (const [k, d] of drivers.entries())
      actorRounds[k].applied.push(await time((i) => d.appendApplied(id(d, 'applied'), `question ${i}`, `answer ${i}`)));
    floorRounds.floorSignal.push(await time(floorOps.floorSignal));
    for (const [k, d] of drivers.entries())
      actorRounds[k].durable.push(await time((i) => d.appendDurable(id(d, 'durable'), `question ${i}`, `answer ${i}`)));
    floorRounds.floorSignalPlain.push(await time(floorOps.floorSignalPlain));
    for (const [k, d] of drivers.entries()) {
      for (let i = 0; i < rywTurns; i++) {
        const text = `ryw ${r}/${i} ${Math.random()}`;
        await d.appendDurable(id(d, 'durable'), text, 'ok');
        actorRounds[k].total++;
        if ((await d.lastUserMessage(id(d, 'durable'))) === text) actorRounds[k].seen++;
        tick();
      }
    }
  }
  progress.done();
  const fig = (l: Latency[]) => figures(l as unknown as Record<keyof Latency, number>[]);
  const pick = (l: Latency[], k: 'p50' | 'p99') => l.map((x) => x[k]);
  return drivers.map((d, k) => {
    const a = actorRounds[k];
    return {
      series: {
        floorUpdate: fig(floorRounds.floorUpdate),
        floorSignal: fig(floorRounds.floorSignal),
        floorSignalPlain: fig(floorRounds.floorSignalPlain),
        applied: fig(a.applied),
        durable: fig(a.durable),
      },
      ratios: {
        appliedP50: ratio(pick(a.applied, 'p50'), pick(floorRounds.floorUpdate, 'p50')),
        appliedP99: ratio(pick(a.applied, 'p99'), pick(floorRounds.floorUpdate, 'p99')),
        durableP50: ratio(pick(a.durable, 'p50'), pick(floorRounds.floorSignal, 'p50')),
        durableP99: ratio(pick(a.durable, 'p99'), pick(floorRounds.floorSignal, 'p99')),
      },
      readYourWrites: { seen: a.seen, total: a.total, fraction: a.total ? a.seen / a.total : NaN },
      sessions: { applied: id(d, 'applied'), durable: id(d, 'durable'), floor: floorId },
    };
  });
}
