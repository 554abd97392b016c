// Sustained throughput: N sessions, C concurrent clients, each acknowledgement mode beside the same floor at the
// same concurrency; during the actor series it counts Postgres snapshot writes per turn and samples snapshot lag.
import { sessionWorkflowId } from '../../workflows/messages';
import { ActorDriver, productDriver } from '../actor-driver';
import type { BenchContext } from '../context';
import { LagTracker, snapshotRowWrites } from '../pg-stats';
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
  /** Postgres rows written per acknowledged turn (n_tup_ins + n_tup_upd of conversation_context). */
  snapshotWritesPerTurn: { applied: Figure; durable: Figure };
  /** ms from acknowledgement until Postgres holds that version (poll resolution 10 ms). */
  snapshotLag: { applied: { p50: Figure; p99: Figure; max: Figure }; durable: { p50: Figure; p99: Figure; max: Figure }; unresolved: number };
  errors: number;
  firstError?: string;
  /** A few session ids of each mode, for the history workload. */
  sample: { applied: string[]; durable: string[]; floor: string[] };
}

export async function runThroughput(
  ctx: BenchContext,
  opts: { durationMs?: number; rounds?: number; snapshots?: boolean; driver?: ActorDriver; tag?: string } = {},
): Promise<ThroughputResult> {
  const { target, floor, progress, sizes } = ctx;
  const durationMs = opts.durationMs ?? sizes.durationMs;
  const rounds = opts.rounds ?? sizes.rounds;
  const measureSnapshots = opts.snapshots !== false;
  const n = sizes.sessions;
  const clients = sizes.clients;
  const actor = opts.driver ?? productDriver(target.service);
  const tag = opts.tag ?? 'tp';
  const ids = (kind: string) => Array.from({ length: n }, (_, i) => `${ctx.runId}-${tag}-${kind}-${i}`);
  const appliedIds = ids('applied');
  const durableIds = ids('durable');
  const floorIds = ids('floor');
  const version = new Map<string, number>();

  progress.step(`throughput: creating ${3 * n} sessions/workflows`, 3 * n);
  await forEachLimit([...appliedIds, ...durableIds], clients, async (id) => {
    version.set(id, await actor.recover(id, 7));
    progress.tick();
  });
  await forEachLimit(floorIds, clients, async (id) => {
    await floor.start(id);
    progress.tick();
  });
  progress.done();

  // Client c owns sessions c, c + C, c + 2C, … so a durable client knows the version each turn produces.
  const owned = (all: string[], c: number, i: number): string => {
    const mine = Math.ceil((all.length - c) / clients);
    return all[c + clients * (i % Math.max(1, mine))];
  };
  const perRound: Record<Series, { ops: number; p50: number; p99: number }[]> = { floorUpdate: [], applied: [], floorSignal: [], durable: [] };
  const writesPerTurn: Record<'applied' | 'durable', number[]> = { applied: [], durable: [] };
  const lag: Record<'applied' | 'durable', { p50: number[]; p99: number[]; max: number[] }> = {
    applied: { p50: [], p99: [], max: [] },
    durable: { p50: [], p99: [], max: [] },
  };
  let unresolved = 0;
  let errors = 0;
  let firstError: string | undefined;

  for (let r = 0; r < rounds; r++) {
    for (const s of SERIES) {
      progress.step(`${tag} round ${r + 1}/${rounds}: ${s} (${clients} clients)`, durationMs / 100);
      const timer = setInterval(() => progress.tick(), 100);
      const isActor = s === 'applied' || s === 'durable';
      const tracker = isActor && measureSnapshots ? new LagTracker(target.pool) : undefined;
      const before = tracker ? await snapshotRowWrites(target.pool) : 0;
      tracker?.start();
      const op = async (c: number, i: number): Promise<void> => {
        if (s === 'floorUpdate') await floor.update(owned(floorIds, c, i));
        else if (s === 'floorSignal') await floor.signal(owned(floorIds, c, i));
        else if (s === 'applied') {
          const id = owned(appliedIds, c, i);
          const v = await actor.appendApplied(id, `q${i}`, `a${i}`);
          tracker?.acked(id, v);
        } else {
          const id = owned(durableIds, c, i);
          await actor.appendDurable(id, `q${i}`, `a${i}`);
          const v = (version.get(id) ?? 0) + 1;
          version.set(id, v);
          tracker?.acked(id, v);
        }
      };
      const result = await sustain(clients, durationMs, op);
      clearInterval(timer);
      errors += result.errors;
      firstError ??= result.firstError;
      const l = latency(result.latencies);
      perRound[s].push({ ops: result.opsPerSec, p50: l.p50, p99: l.p99 });
      if (tracker && (s === 'applied' || s === 'durable')) {
        progress.step(`throughput round ${r + 1}/${rounds}: ${s} snapshot lag`, 1);
        const done = await tracker.finish();
        unresolved += done.unresolved;
        const after = await snapshotRowWrites(target.pool);
        writesPerTurn[s].push((after - before) / result.ops);
        lag[s].p50.push(percentile(tracker.lags, 50));
        lag[s].p99.push(percentile(tracker.lags, 99));
        lag[s].max.push(percentile(tracker.lags, 100));
      }
    }
  }
  progress.done();
  const pick = <K extends 'ops' | 'p50' | 'p99'>(k: K) => {
    const out = {} as Record<Series, Figure>;
    for (const s of SERIES) out[s] = figure(perRound[s].map((x) => x[k]));
    return out;
  };
  const ops = (s: Series) => perRound[s].map((x) => x.ops);
  return {
    sessions: n,
    clients,
    durationMs,
    opsPerSec: pick('ops'),
    p50: pick('p50'),
    p99: pick('p99'),
    ratios: { applied: ratio(ops('applied'), ops('floorUpdate')), durable: ratio(ops('durable'), ops('floorSignal')) },
    snapshotWritesPerTurn: { applied: figure(writesPerTurn.applied), durable: figure(writesPerTurn.durable) },
    snapshotLag: {
      applied: { p50: figure(lag.applied.p50), p99: figure(lag.applied.p99), max: figure(lag.applied.max) },
      durable: { p50: figure(lag.durable.p50), p99: figure(lag.durable.p99), max: figure(lag.durable.max) },
      unresolved,
    },
    errors,
    firstError,
    sample: {
      applied: appliedIds.slice(0, 3).map(sessionWorkflowId),
      durable: durableIds.slice(0, 3).map(sessionWorkflowId),
      floor: floorIds.slice(0, 3),
    },
  };
}
