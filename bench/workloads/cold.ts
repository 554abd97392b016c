// Cold rehydrate: actors that idled out and completed, then the next write (a new run loads the Postgres
// snapshot), beside two floors: a bare update-with-start of a no-op workflow that never ran, and one that reads the
// session's row in an activity before it answers (the least a load from Postgres costs on this engine).
import { SessionRecovery } from '../../src/recovery';
import { sessionWorkflowId } from '../../workflows/messages';
import type { BenchContext } from '../context';
import { Figure, figure, forEachLimit, latency, nowMs, ratio, sleep } from '../stats';

const IDLE_TIMEOUT_MS = 1_000;

export interface ColdResult {
  sessions: number;
  idleTimeoutMs: number;
  rehydrate: { p50: Figure; p99: Figure };
  floorUpdateWithStart: { p50: Figure; p99: Figure };
  ratioP50: Figure;
  ratioP99: Figure;
  /** Update-with-start whose workflow reads the session's row in one activity first. */
  floorWithLoad: { p50: Figure; p99: Figure };
  ratioWithLoadP50: Figure;
}

export async function runCold(ctx: BenchContext): Promise<ColdResult> {
  const { target, floor, progress, sizes } = ctx;
  const service = target.serviceWith({ idleTimeoutMs: IDLE_TIMEOUT_MS });
  const recovery = new SessionRecovery(service);
  const perRound = Math.max(2, Math.ceil(sizes.coldSessions / sizes.rounds));
  const rounds: { cold: number[]; floor: number[]; loading: number[] }[] = [];
  progress.step(`cold rehydrate (${sizes.rounds} × ${perRound} sessions)`, sizes.rounds * perRound * 2);
  for (let r = 0; r < sizes.rounds; r++) {
    const ids = Array.from({ length: perRound }, (_, i) => `${ctx.runId}-cold-${r}-${i}`);
    await forEachLimit(ids, 16, async (id) => {
      await recovery.recoverSession(id, 31, 'assistant');
      await recovery.appendTurn(id, 'before', 'idle');
      progress.tick();
    });
    // Wait until every actor has flushed and completed.
    await forEachLimit(ids, 16, async (id) => {
      const handle = target.client.workflow.getHandle(sessionWorkflowId(id));
      for (let i = 0; i < 200; i++) {
        if ((await handle.describe()).status.name !== 'RUNNING') return;
        await sleep(100);
      }
      throw new Error(`actor of ${id} did not idle out`);
    });
    const cold: number[] = [];
    const bare: number[] = [];
    const loading: number[] = [];
    for (const [i, id] of ids.entries()) {
      let t0 = nowMs();
      await recovery.appendTurn(id, 'after', 'idle');
      cold.push(nowMs() - t0);
      t0 = nowMs();
      await floor.updateWithStart(`${ctx.runId}-coldfloor-${r}-${i}`);
      bare.push(nowMs() - t0);
      t0 = nowMs();
      await floor.updateWithStartLoading(`${ctx.runId}-coldload-${r}-${i}`, id);
      loading.push(nowMs() - t0);
      progress.tick();
    }
    rounds.push({ cold, floor: bare, loading });
  }
  progress.done();
  const l = rounds.map((x) => ({ cold: latency(x.cold), floor: latency(x.floor), loading: latency(x.loading) }));
  return {
    sessions: perRound * sizes.rounds,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
    rehydrate: { p50: figure(l.map((x) => x.cold.p50)), p99: figure(l.map((x) => x.cold.p99)) },
    floorUpdateWithStart: { p50: figure(l.map((x) => x.floor.p50)), p99: figure(l.map((x) => x.floor.p99)) },
    ratioP50: ratio(l.map((x) => x.cold.p50), l.map((x) => x.floor.p50)),
    ratioP99: ratio(l.map((x) => x.cold.p99), l.map((x) => x.floor.p99)),
    floorWithLoad: { p50: figure(l.map((x) => x.loading.p50)), p99: figure(l.map((x) => x.loading.p99)) },
    ratioWithLoadP50: ratio(l.map((x) => x.cold.p50), l.map((x) => x.loading.p50)),
  };
}
