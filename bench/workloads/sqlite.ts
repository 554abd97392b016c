// The embedded Temporal's SQLite settings: the floors and the actor under the default journal, WAL+full and
// WAL+normal, each on a fresh dev server with its own worker process, measured one after the other.
import { makeContext, type BenchContext } from '../context';
import { SQLITE_LABELS, SqliteSetting, startTarget } from '../stack';
import type { Figure } from '../stats';
import { runLatency } from './latency';
import { runThroughput } from './throughput';

export interface SqliteRow {
  setting: SqliteSetting;
  label: string;
  floorUpdateP50: Figure;
  appliedP50: Figure;
  floorSignalP50: Figure;
  durableP50: Figure;
  floorUpdatesPerSec: Figure;
  appliedPerSec: Figure;
  floorSignalsPerSec: Figure;
  durablePerSec: Figure;
  error?: string;
}

export const SETTINGS: SqliteSetting[] = ['default', 'wal-full', 'wal-normal'];

export async function runSqlite(ctx: BenchContext): Promise<SqliteRow[]> {
  const rows: SqliteRow[] = [];
  const rounds = Math.min(2, ctx.sizes.rounds);
  for (const setting of SETTINGS) {
    ctx.progress.step(`sqlite ${setting}: starting a fresh dev server`, 1);
    const target = await startTarget(ctx.base, setting, ctx.sizes.sessions * 4 + 100);
    try {
      const sub = makeContext(ctx.base, target, ctx.sizes, ctx.progress, `${ctx.runId}-sq-${setting}`);
      const lat = await runLatency(sub, { turns: ctx.sizes.sqliteTurns, rounds, ryw: false });
      const tp = await runThroughput(sub, { durationMs: ctx.sizes.sqliteDurationMs, rounds, snapshots: false });
      rows.push({
        setting,
        label: SQLITE_LABELS[setting],
        floorUpdateP50: lat.series.floorUpdate.p50,
        appliedP50: lat.series.applied.p50,
        floorSignalP50: lat.series.floorSignal.p50,
        durableP50: lat.series.durable.p50,
        floorUpdatesPerSec: tp.opsPerSec.floorUpdate,
        appliedPerSec: tp.opsPerSec.applied,
        floorSignalsPerSec: tp.opsPerSec.floorSignal,
        durablePerSec: tp.opsPerSec.durable,
      });
    } finally {
      await target.stop();
    }
  }
  return rows;
}
