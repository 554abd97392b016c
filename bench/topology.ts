// Dev server against cluster, one and several worker processes: the latency (1 client) and throughput (C clients)
// workloads on each topology in turn, in one run, with each topology's own no-op floors. Used by bench/main.ts
// for `--target` / `--workers`; the table compares every topology with the first one measured.
import { makeContext, type Sizes } from './context';
import type { Progress } from './progress';
import { type BenchBase, startTarget, type Target } from './stack';
import { startClusterTarget } from './cluster-target';
import type { Figure } from './stats';
import { runLatency, type LatencyResult } from './workloads/latency';
import { runThroughput, type ThroughputResult } from './workloads/throughput';

export type TargetKind = Target['kind'];

export interface TopologyRun {
  target: TargetKind;
  workers: number;
  /** The Temporal server that ran (the dev server's comes with the temporal CLI). */
  server: string;
  startupSeconds: number;
  latency?: LatencyResult;
  throughput?: ThroughputResult;
  failures: Record<string, string>;
}

export async function runTopologies(o: {
  base: BenchBase;
  targets: TargetKind[];
  workers: number[];
  sizes: Sizes;
  progress: Progress;
  runId: string;
  workloads: { latency: boolean; throughput: boolean };
  interrupted: () => boolean;
}): Promise<TopologyRun[]> {
  const runs: TopologyRun[] = [];
  for (const kind of o.targets) {
    for (const workers of o.workers) {
      if (o.interrupted()) return runs;
      const t0 = Date.now();
      o.progress.log(
        `starting ${kind === 'dev' ? 'a dev server' : 'a Temporal cluster'} with ${workers} worker process(es)…`,
      );
      const maxCached = o.sizes.sessions * 8 + 500;
      let target: Target | undefined;
      const run: TopologyRun = { target: kind, workers, server: '', startupSeconds: 0, failures: {} };
      runs.push(run);
      try {
        if (kind === 'dev') {
          target = await startTarget(o.base, 'wal-full', maxCached, workers);
          run.server = o.base.cliVersion;
        } else {
          const started = await startClusterTarget(o.base, maxCached, workers, (m) => o.progress.log(m));
          target = started.target;
          run.server = `Temporal server ${started.serverVersion} (4 services, Postgres)`;
        }
        run.startupSeconds = (Date.now() - t0) / 1000;
        const ctx = makeContext(o.base, target, o.sizes, o.progress, `${o.runId}-${kind}${workers}`);
        const step = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
          try {
            return await fn();
          } catch (err) {
            o.progress.done();
            run.failures[name] = String((err as Error)?.stack ?? err);
            o.progress.log(`${kind}/${workers}: ${name} failed: ${(err as Error)?.message ?? err}`);
            return undefined;
          }
        };
        if (o.workloads.latency) run.latency = await step('latency', () => runLatency(ctx));
        if (o.workloads.throughput) run.throughput = await step('throughput', () => runThroughput(ctx));
      } catch (err) {
        run.failures.startup = String((err as Error)?.stack ?? err);
        o.progress.log(`${kind}/${workers}: could not start: ${(err as Error)?.message ?? err}`);
      } finally {
        await target?.stop();
      }
    }
  }
  return runs;
}

const ms = (v: number) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) : '–');
const num = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');
const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
const med = (f: Figure | undefined) => f?.median ?? NaN;

/**
 * Two tables: each topology's figures against its own no-op floors (the same server, the same run), then each
 * topology against the first one measured (dev server vs cluster, one worker vs two).
 */
export function topologyTable(runs: TopologyRun[]): string {
  const clients = runs.find((r) => r.throughput)?.throughput?.clients ?? 32;
  const name = (r: TopologyRun) =>
    `${r.target === 'dev' ? 'dev server' : 'cluster'}, ${r.workers} worker${r.workers > 1 ? 's' : ''}`;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const table = (header: string[], rows: string[][]) => [
    line(header),
    line(header.map(() => '---')),
    ...rows.map(line),
  ];
  const own = table(
    [
      'topology',
      'applied p50 · p99 ms (1 client)',
      '× Update floor p50',
      'durable p50 · p99 ms (1 client)',
      '× Signal floor p50',
      `applied turns/s (${clients} clients)`,
      '× floor',
      `durable turns/s (${clients} clients)`,
      '× floor',
    ],
    runs.map((r) => {
      const l = r.latency;
      const t = r.throughput;
      return [
        name(r),
        l ? `${ms(med(l.series.applied.p50))} · ${ms(med(l.series.applied.p99))}` : '–',
        l ? `${x(med(l.ratios.appliedP50))} (${ms(med(l.series.floorUpdate.p50))})` : '–',
        l ? `${ms(med(l.series.durable.p50))} · ${ms(med(l.series.durable.p99))}` : '–',
        l ? `${x(med(l.ratios.durableP50))} (${ms(med(l.series.floorSignal.p50))})` : '–',
        t ? num(med(t.opsPerSec.applied)) : '–',
        t ? `${x(med(t.ratios.applied))} (${num(med(t.opsPerSec.floorUpdate))})` : '–',
        t ? num(med(t.opsPerSec.durable)) : '–',
        t ? `${x(med(t.ratios.durable))} (${num(med(t.opsPerSec.floorSignal))})` : '–',
      ];
    }),
  );
  const first = runs[0];
  const rel = (v: number, b: number) => x(v / b);
  const against = table(
    [
      `against ${first ? name(first) : '–'}`,
      'applied p50',
      'durable p50',
      'applied turns/s',
      'durable turns/s',
    ],
    runs
      .slice(1)
      .map((r) => [
        name(r),
        rel(med(r.latency?.series.applied.p50), med(first?.latency?.series.applied.p50)),
        rel(med(r.latency?.series.durable.p50), med(first?.latency?.series.durable.p50)),
        rel(med(r.throughput?.opsPerSec.applied), med(first?.throughput?.opsPerSec.applied)),
        rel(med(r.throughput?.opsPerSec.durable), med(first?.throughput?.opsPerSec.durable)),
      ]),
  );
  const servers = [
    ...new Set(runs.map((r) => `${r.target === 'dev' ? 'dev server' : 'cluster'}: ${r.server}`)),
  ];
  const failures = runs.flatMap((r) =>
    Object.entries(r.failures).map(([w, m]) => `- ${name(r)}: ${w} failed: ${m.split('\n')[0]}`),
  );
  return [...own, '', ...(runs.length > 1 ? [...against, ''] : []), servers.join('; '), ...failures].join(
    '\n',
  );
}
