// The baseline: PostgresSessionStore (the reference's direct-Postgres store) with one writer doing appendTurn
// through SessionRecovery's load-modify-save.
import { PostgresSessionStore } from '../../src/postgres/store';
import { SessionRecovery } from '../../src/recovery';
import type { BenchContext } from '../context';
import { Figure, figure, latency, nowMs, timeEach } from '../stats';

export interface StoreResult {
  p50: Figure;
  p90: Figure;
  p99: Figure;
  turnsPerSec: Figure;
}

export async function runStore(ctx: BenchContext): Promise<StoreResult> {
  const { target, progress, sizes } = ctx;
  const recovery = new SessionRecovery(new PostgresSessionStore(target.pool));
  const id = `${ctx.runId}-store`;
  await recovery.recoverSession(id, 21, 'assistant');
  for (let i = 0; i < 10; i++) await recovery.appendTurn(id, 'warm', 'up');
  const rounds: { p50: number; p90: number; p99: number; rate: number }[] = [];
  progress.step(`PostgresSessionStore appendTurn (${sizes.rounds} × ${sizes.storeTurns})`, sizes.rounds * sizes.storeTurns);
  for (let r = 0; r < sizes.rounds; r++) {
    const t0 = nowMs();
    const samples = await timeEach(sizes.storeTurns, (i) => recovery.appendTurn(id, `q${i}`, `a${i}`), () => progress.tick());
    const l = latency(samples);
    rounds.push({ p50: l.p50, p90: l.p90, p99: l.p99, rate: (samples.length * 1000) / (nowMs() - t0) });
  }
  progress.done();
  return {
    p50: figure(rounds.map((x) => x.p50)),
    p90: figure(rounds.map((x) => x.p90)),
    p99: figure(rounds.map((x) => x.p99)),
    turnsPerSec: figure(rounds.map((x) => x.rate)),
  };
}
