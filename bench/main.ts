// `npm run bench`: starts its own embedded stack (temp dir, free ports), runs every workload of issue 6 with
// progress on stderr, prints one markdown table and writes every figure to bench/results/<timestamp>.json.
// `--target dev,cluster --workers 1,2` instead runs the latency and throughput workloads on each topology.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { makeContext, Sizes } from './context';
import { createProgress } from './progress';
import { markdownTable } from './report';
import type { Results } from './results';
import { sessionWorkflowId } from '../workflows/messages';
import { sealedPayloads } from './sealed';
import { BenchBase, SQLITE_LABELS, startBase, startTarget, Target } from './stack';
import { runCleanup } from './workloads/cleanup';
import { runCold } from './workloads/cold';
import { runContention } from './workloads/contention';
import { runHistory } from './workloads/history';
import { runLatency } from './workloads/latency';
import { runList } from './workloads/list';
import { runMemory } from './workloads/memory';
import { runSqlite } from './workloads/sqlite';
import { runStore } from './workloads/store';
import { runThroughput } from './workloads/throughput';
import { runVariants } from './workloads/variants';
import { runAgent } from './workloads/agent';
import { workerLog } from './workers';
import { runTopologies, type TargetKind, topologyTable } from './topology';

const WORKLOADS = ['latency', 'throughput', 'history', 'variants', 'contention', 'store', 'cold', 'list', 'cleanup', 'memory', 'agent', 'sqlite'] as const;
type Workload = (typeof WORKLOADS)[number];

const DEFAULTS: Sizes = {
  rounds: 3,
  turns: 300,
  rywTurns: 100,
  sessions: 200,
  clients: 32,
  durationMs: 8_000,
  contentionWriters: 50,
  contentionWritesEach: 4,
  storeTurns: 300,
  coldSessions: 60,
  rows: 200_000,
  listQueries: 300,
  cleanupRows: 20_000,
  pacedTurns: 12,
  memorySessions: 2_000,
  sqliteTurns: 100,
  sqliteDurationMs: 3_000,
};

// One round of everything (medians of one round): quick mode only proves every workload still runs.
const QUICK: Sizes = {
  rounds: 1,
  turns: 20,
  rywTurns: 10,
  sessions: 16,
  clients: 8,
  durationMs: 1_000,
  contentionWriters: 50,
  contentionWritesEach: 1,
  storeTurns: 30,
  coldSessions: 6,
  rows: 5_000,
  listQueries: 30,
  cleanupRows: 500,
  pacedTurns: 2,
  memorySessions: 100,
  sqliteTurns: 10,
  sqliteDurationMs: 600,
};

const list = <T extends string>(allowed: readonly T[]) => (v: string): T[] => {
  const items = v.split(',').map((s) => s.trim()) as T[];
  for (const i of items) if (!allowed.includes(i)) throw new Error(`expected some of ${allowed.join(',')}, got ${i}`);
  return items;
};
const ints = (v: string) => v.split(',').map((s) => int(s.trim()));

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

async function main(): Promise<void> {
  const program = new Command('bench')
    .description('durable-sessions benchmark: the session actor against the bare Temporal floors and PostgresSessionStore')
    .option('--quick', 'about a minute, small sizes (CI runs it so the benchmark never rots)')
    .option('--sessions <n>', 'sessions of the sustained-throughput workload', int)
    .option('--turns <n>', 'sequential turns per latency round', int)
    .option('--rows <n>', 'stored sessions for listSessions', int)
    .option('--cleanup-rows <n>', 'expired sessions each cleanup deletes', int)
    .option('--memory-sessions <n>', 'cached actors for the worker-memory workload', int)
    .option('--rounds <n>', 'rounds per workload (figures are medians of rounds)', int)
    .option('--duration <ms>', 'duration of each sustained-throughput series', int)
    .option('--only <list>', `comma-separated subset of: ${WORKLOADS.join(',')}`)
    .option('--cleanup-timeout <s>', 'stop the product cleanup after this many seconds', int, 120)
    .option('--target <list>', 'dev (the dev server) and/or cluster (the real server, 4 services on Postgres): latency and throughput only', list<TargetKind>(['dev', 'cluster']))
    .option('--workers <list>', 'worker processes per target, e.g. 1,2 (with --target)', ints)
    .option('--codec <kind>', "seal the actors' payloads as the product does: master (the key ring) or session (keys per session); latency and throughput only")
    .option('--no-progress', 'no progress bars')
    .option('--out <file>', 'JSON output (default bench/results/<timestamp>.json)');
  program.parse();
  const o = program.opts<{
    quick?: boolean; sessions?: number; turns?: number; rows?: number; cleanupRows?: number; memorySessions?: number;
    rounds?: number; duration?: number; only?: string; cleanupTimeout: number; progress: boolean; out?: string;
    target?: TargetKind[]; workers?: number[]; codec?: string;
  }>();
  const topologies = !!o.target || !!o.workers;
  const sizes: Sizes = { ...(o.quick ? QUICK : DEFAULTS) };
  if (o.sessions) sizes.sessions = o.sessions;
  if (o.turns) sizes.turns = o.turns;
  if (o.rows) sizes.rows = o.rows;
  if (o.cleanupRows) sizes.cleanupRows = o.cleanupRows;
  if (o.memorySessions) sizes.memorySessions = o.memorySessions;
  if (o.rounds) sizes.rounds = o.rounds;
  if (o.duration) sizes.durationMs = o.duration;
  const only = new Set<Workload>(
    o.only ? (o.only.split(',').map((s) => s.trim()) as Workload[]) : WORKLOADS,
  );
  for (const w of only) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}`);
  if (o.codec !== undefined && o.codec !== 'master' && o.codec !== 'session')
    throw new Error(`--codec: master or session, not ${o.codec}`);
  const codec = o.codec as 'master' | 'session' | undefined;
  // Other workloads query the actors through the floors' client, which has no codec.
  if (codec && [...only].some((w) => w !== 'latency' && w !== 'throughput'))
    throw new Error('--codec runs with --only latency, throughput or both');

  const progress = createProgress(o.progress);
  const started = Date.now();
  const runId = `b${started.toString(36)}`;
  const results: Results = {
    startedAt: new Date(started).toISOString(),
    command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(os.totalmem() / 2 ** 30),
      loadAverageAtStart: os.loadavg(),
      node: process.version,
    },
    versions: { temporalCli: '', postgres: '' },
    settings: { sqlite: SQLITE_LABELS['wal-full'], sizes, ...(codec ? { codec } : {}) },
    failures: {},
    workloadSeconds: {},
  };

  const out = o.out ?? path.join(__dirname, 'results', `${results.startedAt.replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  workerLog.file = out.replace(/\.json$/, '') + '-worker.log';
  let base: BenchBase | undefined;
  let target: Target | undefined;
  let interrupted = false;
  const cleanupAll = async () => {
    progress.done();
    await target?.stop().catch(() => undefined);
    target = undefined;
    await base?.stop().catch(() => undefined);
    base = undefined;
  };
  process.once('SIGINT', () => {
    interrupted = true;
    progress.log('interrupted: stopping the benchmark stack');
    void cleanupAll().then(() => process.exit(130));
  });

  /** Every workload of issue 6 on one dev-server target. */
  const runAll = async (bench: BenchBase): Promise<void> => {
    target = await startTarget(bench, 'wal-full', sizes.sessions * 8 + 500, 1, codec);
    results.workloadSeconds.startup = (Date.now() - started) / 1000;
    const ctx = makeContext(bench, target, sizes, progress, runId);
    const step = async <T>(name: Workload, fn: () => Promise<T>): Promise<T | undefined> => {
      if (!only.has(name) || interrupted) return undefined;
      const t0 = Date.now();
      try {
        return await fn();
      } catch (err) {
        progress.done();
        results.failures[name] = String((err as Error)?.stack ?? err);
        progress.log(`workload ${name} failed: ${(err as Error)?.message ?? err}`);
        return undefined;
      } finally {
        results.workloadSeconds[name] = (Date.now() - t0) / 1000;
      }
    };
    results.latency = await step('latency', () => runLatency(ctx));
    if (codec && results.latency) {
      const { applied, durable } = results.latency.sessions;
      results.sealed = await sealedPayloads(target.client, [sessionWorkflowId(applied), sessionWorkflowId(durable)]);
    }
    results.throughput = await step('throughput', () => runThroughput(ctx));
    if (results.latency && results.throughput) {
      const { latency, throughput } = results;
      results.history = await step('history', () => runHistory(ctx, latency.sessions, throughput.sample));
    }
    results.variants = await step('variants', () => runVariants(ctx));
    results.contention = await step('contention', () => runContention(ctx));
    results.store = await step('store', () => runStore(ctx));
    results.cold = await step('cold', () => runCold(ctx));
    results.list = await step('list', () => runList(ctx));
    results.cleanup = await step('cleanup', () => runCleanup(ctx, { timeoutMs: o.cleanupTimeout * 1000 }));
    results.memory = await step('memory', () => runMemory(ctx));
    results.agent = await step('agent', () => runAgent(ctx));
    await target.stop();
    target = undefined;
    results.sqlite = await step('sqlite', () => runSqlite(ctx));
  };
  const finish = (): void => {
    results.finishedAt = new Date().toISOString();
    results.seconds = (Date.now() - started) / 1000;
    results.machine.loadAverageAtEnd = os.loadavg();
    fs.writeFileSync(out, JSON.stringify(results, null, 2));
    process.stdout.write(
      `\n${results.topologies ? topologyTable(results.topologies) : markdownTable(results)}\n\n` +
        `${results.versions.temporalCli}; PostgreSQL ${results.versions.postgres}; dev server SQLite: ${results.settings.sqlite}; ` +
        `actor codec: ${results.settings.codec ?? 'none (floors and actors in clear)'}; ` +
        `${results.machine.cpus} CPUs; ${num(results.seconds)} s; figures: ${out}; worker log: ${workerLog.file}\n`,
    );
    if (Object.keys(results.failures).length > 0) process.exitCode = 1;
  };

  try {
    progress.log('starting the benchmark stack (temp dir, embedded Postgres, Temporal dev server, workers)…');
    base = await startBase((m) => progress.log(m));
    results.versions = { temporalCli: base.cliVersion, postgres: base.postgresVersion };
    if (topologies) {
      results.topologies = await runTopologies({
        base,
        targets: o.target ?? ['dev'],
        workers: o.workers ?? [1],
        sizes,
        progress,
        runId,
        workloads: { latency: only.has('latency'), throughput: only.has('throughput') },
        interrupted: () => interrupted,
      });
      for (const run of results.topologies)
        for (const [w, m] of Object.entries(run.failures)) results.failures[`${run.target}/${run.workers} ${w}`] = m;
    } else {
      await runAll(base);
    }
  } finally {
    await cleanupAll();
  }
  finish();
}

function num(v: number): string {
  return v.toFixed(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error)?.stack ?? err}\n`);
  process.exit(1);
});
