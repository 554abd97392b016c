// Sustained throughput: N sessions, C concurrent clients, each acknowledgement mode beside the same floor at the
// same concurrency; during the actor series it counts Postgres snapshot writes per turn and samples snapshot lag.
// Several actor drivers (persist configs) can share the floor series of each round.
import { sessionWorkflowId } from '../../workflows/messages';
import { ActorDriver, productDriver } from '../actor-driver';
import type { BenchContext } from '../context';
import { LagTracker, snapshotRowWrites, writesPerTurn } from '../pg-stats';
import { Figure, figure, forEachLimit, latency, percentile, ratio, sustain } from '../stats';

type Series = 'floorUpdate' | 'applied' | 'floorSignal' | 'durable';
const SERIES: Series[] = ['floorUpdate', 'applied', 'floorSignal', 'durable'];

export interface ThroughputResult {
  sessions: number;
  clients: number;
  durationMs: number;
  opsPerSec: Record<Series, Figure>;
  p50: Record<Series, Figure>;
  p99: Record<Series, Figure>;
  ratios: { applied: Figure; durable: Figure };
  /** Snapshot rows the actor wrote per acknowledged turn (pg_stat_statements rows of the upsert). */
  snapshotWritesPerTurn: { applied: Figure; durable: Figure };
  /** ms from acknowledgement until Postgres holds that version (poll resolution 10 ms). */
  snapshotLag: { applied: { p50: Figure; p99: Figure; max: Figure }; durable: { p50: Figure; p99: Figure; max: Figure }; unresolved: number };
  errors: number;
  firstError?: string;
  /** A few session ids of each mode, for the history workload. */
  sample: { applied: string[]; durable: string[]; floor: string[] };
}

/** The product actor with its default config against the floors. */
export async function runThroughput(
  ctx: BenchContext,
  opts: { durationMs?: number; rounds?: number; snapshots?: boolean; tag?: string } = {},
): Promise<ThroughputResult> {
  return (await measureThroughput(ctx, [productDriver(ctx.target.service)], opts))[0];
}

/**
 * One result per driver; every driver's applied/durable series runs in the same rounds, right after the same
 * floor series (which run once per round), so the per-round ratios of different drivers share their floor.
 */
export async function measureThroughput(
  ctx: BenchContext,
  drivers: ActorDriver[],
  opts: { durationMs?: number; rounds?: number; snapshots?: boolean; tag?: string } = {},
): Promise<ThroughputResult[]> {
  const { target, floor, progress, sizes } = ctx;
  const durationMs = opts.durationMs ?? sizes.durationMs;
  const rounds = opts.rounds ?? sizes.rounds;
  const measureSnapshots = opts.snapshots !== false;
  const n = sizes.sessions;
  const clients = sizes.clients;
  const tag = opts.tag ?? 'tp';
  const ids = (kind: string) => Array.from({ length: n }, (_, i) => `${ctx.runId}-${tag}-${kind}-${i}`);
  const floorIds = ids('floor');
  const sessions = drivers.map((d) => ({ applied: ids(`${d.key}-applied`), durable: ids(`${d.key}-durable`) }));
  const version = new Map<string, number>();

  progress.step(`${tag}: creating ${(2 * drivers.length + 1) * n} sessions/workflows`, (2 * drivers.length + 1) * n);
  for (const [k, d] of drivers.entries()) {
    await forEachLimit([...sessions[k].applied, ...sessions[k].durable], clients, async (id) => {
      version.set(id, await d.recover(id, 7));
      progress.tick();
    });
  }
  await forEachLimit(floorIds, clients, async (id) => {
    await floor.start(id);
    progress.tick();
  });
  if (measureSnapshots) {
    // The first snapshots may be written up to persistDelayMs later; let them land before anything is counted.
    progress.step(`${tag}: waiting for the first snapshots`, 1);
    const created = new LagTracker(target.pool);
    for (const [id, v] of version) created.acked(id, v);
    await created.finish(30_000);
  }
  progress.done();

  // Client c owns sessions c, c + C, c + 2C, … so a durable client knows the version each turn produces.
  const owned = (all: string[], c: number, i: number): string => {
    const mine = Math.ceil((all.length - c) / clients);
    return all[c + clients * (i % Math.max(1, mine))];
  };
  type Round = { ops: number; p50: number; p99: number };
  const floorRounds: Record<'floorUpdate' | 'floorSignal', Round[]> = { floorUpdate: [], floorSignal: [] };
  const actorRounds = drivers.map(() => ({
    applied: [] as Round[],
    durable: [] as Round[],
    writesPerTurn: { applied: [] as number[], durable: [] as number[] },
    lag: { applied: { p50: [] as number[], p99: [] as number[], max: [] as number[] }, durable: { p50: [] as number[], p99: [] as number[], max: [] as number[] } },
    unresolved: 0,
    errors: 0,
    firstError: undefined as string | undefined,
  }));
  let floorErrors = 0;
  let floorFirstError: string | undefined;

  const run = async (label: string, op: (c: number, i: number) => Promise<void>) => {
    progress.step(label, durationMs / 100);
    const timer = setInterval(() => progress.tick(), 100);
    const result = await sustain(clients, durationMs, op);
    clearInterval(timer);
    const l = latency(result.latencies);
    return { result, round: { ops: result.opsPerSec, p50: l.p50, p99: l.p99 } };
  };
  const runFloor = async (r: number, s: 'floorUpdate' | 'floorSignal') => {
    const { result, round } = await run(`${tag} round ${r + 1}/${rounds}: ${s} (${clients} clients)`, async (c, i) => {
      if (s === 'floorUpdate') await floor.update(owned(floorIds, c, i));
      else await floor.signal(owned(floorIds, c, i));
    });
    floorRounds[s].push(round);
    floorErrors += result.errors;
    floorFirstError ??= result.firstError;
  };
  const runActor = async (r: number, k: number, mode: 'applied' | 'durable') => {
    const d = drivers[k];
    const a = actorRounds[k];
    const mine = sessions[k][mode];
    const tracker = measureSnapshots ? new LagTracker(target.pool) : undefined;
    const before = tracker ? await snapshotRowWrites(target.pool) : 0;
    tracker?.start();
    const { result, round } = await run(`${tag} round ${r + 1}/${rounds}: ${mode}${drivers.length > 1 ? ` [${d.key}]` : ''} (${clients} clients)`, async (c, i) => {
      const id = owned(mine, c, i);
      if (mode === 'applied') {
        const v = await d.appendApplied(id, `q${i}`, `a${i}`);
        tracker?.acked(id, v);
      } else {
        await d.appendDurable(id, `q${i}`, `a${i}`);
        const v = (version.get(id) ?? 0) + 1;
        version.set(id, v);
        tracker?.acked(id, v);
      }
    });
    a[mode].push(round);
    a.errors += result.errors;
    a.firstError ??= result.firstError;
    if (tracker) {
      progress.step(`${tag} round ${r + 1}/${rounds}: ${mode} snapshot lag`, 1);
      // Waits until Postgres holds every acknowledged version, so the count below has all of this series' writes.
      const done = await tracker.finish();
      a.unresolved += done.unresolved;
      const after = await snapshotRowWrites(target.pool);
      a.writesPerTurn[mode].push(writesPerTurn(after - before, result.ops));
      a.lag[mode].p50.push(percentile(tracker.lags, 50));
      a.lag[mode].p99.push(percentile(tracker.lags, 99));
      a.lag[mode].max.push(percentile(tracker.lags, 100));
    }
  };

  for (let r = 0; r < rounds; r++) {
    await runFloor(r, 'floorUpdate');
    for (let k = 0; k < drivers.length; k++) await runActor(r, k, 'applied');
    await runFloor(r, 'floorSignal');
    for (let k = 0; k < drivers.length; k++) await runActor(r, k, 'durable');
  }
  progress.done();
  const fig = (rs: Round[], key: keyof Round) => figure(rs.map((x) => x[key]));
  const ops = (rs: Round[]) => rs.map((x) => x.ops);
  return drivers.map((_, k) => {
    const a = actorRounds[k];
    const all: Record<Series, Round[]> = { floorUpdate: floorRounds.floorUpdate, applied: a.applied, floorSignal: floorRounds.floorSignal, durable: a.durable };
    const per = (key: keyof Round) => {
      const out = {} as Record<Series, Figure>;
      for (const s of SERIES) out[s] = fig(all[s], key);
      return out;
    };
    const lagFig = (m: 'applied' | 'durable') => ({ p50: figure(a.lag[m].p50), p99: figure(a.lag[m].p99), max: figure(a.lag[m].max) });
    return {
      sessions: n,
      clients,
      durationMs,
      opsPerSec: per('ops'),
      p50: per('p50'),
      p99: per('p99'),
      ratios: { applied: ratio(ops(a.applied), ops(floorRounds.floorUpdate)), durable: ratio(ops(a.durable), ops(floorRounds.floorSignal)) },
      snapshotWritesPerTurn: { applied: figure(a.writesPerTurn.applied), durable: figure(a.writesPerTurn.durable) },
      snapshotLag: { applied: lagFig('applied'), durable: lagFig('durable'), unresolved: a.unresolved },
      errors: a.errors + floorErrors,
      firstError: a.firstError ?? floorFirstError,
      sample: {
        applied: sessions[k].applied.slice(0, 3).map(sessionWorkflowId),
        durable: sessions[k].durable.slice(0, 3).map(sessionWorkflowId),
        floor: floorIds.slice(0, 3),
      },
    };
  });
}
