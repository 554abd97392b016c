// The benchmark's own stack: a temp data dir, one embedded Postgres, the workflow bundles, and Temporal dev
// servers with chosen SQLite settings (each with its own worker processes, client and Postgres database); the
// cluster target (bench/cluster-target.ts) attaches the same way. Used by bench/main.ts; nothing touches .data/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import type pg from 'pg';
import { attachCodecPool, createCodec, encryptingDataConverter } from '../src/codec/resolve';
import { generateKey } from '../src/codec/keys';
import { findRoot } from '../src/config';
import { migrate } from '../src/postgres/migrate';
import { createPool } from '../src/postgres/pool';
import { DevServer, startDevServer } from '../src/runtime/dev-server';
import { createDatabase, EmbeddedPg, startEmbeddedPostgres } from '../src/runtime/embedded-postgres';
import { installTemporalRuntime } from '../src/runtime/stack';
import { resolveTemporalCli, temporalCliVersion } from '../src/runtime/temporal-cli';
import { TemporalSessionService } from '../src/temporal/service';
import type { ActorConfig } from '../src/config';
import { forkWorkerProcess, WorkerHandle } from './workers';
import type { BenchCodec } from './worker-process';

export type SqliteSetting = 'default' | 'wal-full' | 'wal-normal';

export const SQLITE_LABELS: Record<SqliteSetting, string> = {
  default: 'default journal (`--db-filename` only)',
  'wal-full': '`journal_mode=wal`, `synchronous=full` (the product default)',
  'wal-normal': '`journal_mode=wal`, `synchronous=normal` (weaker: may lose the last commits on power loss)',
};

export const NAMESPACE = 'default';

export interface BenchBase {
  tempDir: string;
  cliPath: string;
  cliVersion: string;
  postgres: EmbeddedPg;
  postgresVersion: string;
  actorBundle: string;
  floorBundle: string;
  stop(): Promise<void>;
}

/** Temp dir, Temporal CLI, embedded Postgres and both bundles. */
export async function startBase(log: (m: string) => void): Promise<BenchBase> {
  const root = findRoot();
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-sessions-bench-'));
  fs.chmodSync(tempDir, 0o755); // the embedded Postgres may run as user "postgres"
  let postgres: EmbeddedPg | undefined;
  const remove = (): void => fs.rmSync(tempDir, { recursive: true, force: true });
  try {
    const cliPath = await resolveTemporalCli({
      cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
      cacheDir: path.join(root, '.cache'),
      log,
    });
    const [pgStarted, actorBundle, floorBundle, cliVersion] = await Promise.all([
      startEmbeddedPostgres({ dataDir: path.join(tempDir, 'pg') }),
      bundle(path.join(root, 'workflows', 'index.ts'), path.join(tempDir, 'actor-bundle.js')),
      bundle(path.join(__dirname, 'workflows', 'index.ts'), path.join(tempDir, 'floor-bundle.js')),
      temporalCliVersion(cliPath),
    ]);
    postgres = pgStarted;
    // pg_stat_statements counts each statement's rows when it ends, so snapshot writes per turn are exact at
    // once (pg_stat_user_tables may hold a busy backend's counts back for up to 10 s). It needs a restart.
    let admin = createPool(postgres.url, 1);
    await admin.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    // The actor's upsert runs inside ds_persist_session (the fence): a nested statement, tracked only with `all`.
    await admin.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`);
    await admin.end();
    await postgres.stop();
    postgres = undefined;
    postgres = await startEmbeddedPostgres({ dataDir: path.join(tempDir, 'pg') });
    admin = createPool(postgres.url, 1);
    const postgresVersion = String((await admin.query('SHOW server_version')).rows[0].server_version);
    await admin.end();
    const pgHandle = postgres;
    return {
      tempDir,
      cliPath,
      cliVersion,
      postgres: pgHandle,
      postgresVersion,
      actorBundle,
      floorBundle,
      stop: async () => {
        await pgHandle.stop();
        remove();
      },
    };
  } catch (err) {
    await postgres?.stop();
    remove();
    throw err;
  }
}

async function bundle(entry: string, out: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: entry, logger: new DefaultLogger('WARN') });
  fs.writeFileSync(out, code);
  return out;
}

/** One Temporal server under test, with its own worker process(es), client, service and Postgres database. */
export interface Target {
  /** What serves Temporal: the dev server (SQLite setting) or the real server as a cluster (bench/cluster-target.ts). */
  kind: 'dev' | 'cluster';
  setting: SqliteSetting;
  address: string;
  client: Client;
  pool: pg.Pool;
  databaseUrl: string;
  actorTaskQueue: string;
  floorTaskQueue: string;
  service: TemporalSessionService;
  /** A service on the same task queue whose actors run with another config (it travels in the workflow input). */
  serviceWith(actor: Partial<ActorConfig>): TemporalSessionService;
  /** The first worker process (the memory workload reads it); `workerCount` poll the same task queues. */
  worker: WorkerHandle;
  workerCount: number;
  serverPid: number;
  stop(): Promise<void>;
}

let targets = 0;

export async function startTarget(
  base: BenchBase,
  setting: SqliteSetting,
  maxCachedWorkflows: number,
  workers = 1,
  codec?: BenchCodec['kind'],
): Promise<Target> {
  const n = targets++;
  const dir = path.join(base.tempDir, `temporal-${n}-${setting}`);
  return attachTarget(base, {
    kind: 'dev',
    name: `${n}_${setting.replace('-', '_')}`,
    setting,
    maxCachedWorkflows,
    workers,
    codec,
    // Workers load while the server starts.
    startServer: async () => {
      const server = await startServer(base.cliPath, setting, path.join(dir, 'temporal.db'), path.join(dir, 'temporal.log'));
      return { address: server.address, pid: server.pid, stop: () => server.stop() };
    },
  });
}

/** The next target's number (database and task queue names). */
export function nextTargetNumber(): number {
  return targets++;
}

/**
 * Everything of a target but the Temporal server, which `startServer` provides: worker processes (forked first, so
 * that loading the SDK overlaps the server's start), the target's database on the base Postgres, client, service.
 */
export async function attachTarget(
  base: BenchBase,
  o: {
    kind: Target['kind'];
    name: string;
    setting: SqliteSetting;
    maxCachedWorkflows: number;
    workers: number;
    /** The actors' payloads sealed as the product does (the services' client and the actor workers); floors never. */
    codec?: BenchCodec['kind'];
    startServer: () => Promise<{ address: string; pid: number; stop: () => Promise<void> }>;
  },
): Promise<Target> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    while (stops.length) await (stops.pop() as () => Promise<void>)().catch(() => undefined);
  };
  try {
    const forked = Array.from({ length: o.workers }, () => forkWorkerProcess());
    stops.push(() => Promise.all(forked.map((f) => f.stop())).then(() => undefined));
    const server = await o.startServer();
    stops.push(() => server.stop());
    const databaseUrl = await createDatabase(base.postgres.url, `bench_${o.name}`);
    const pool = createPool(databaseUrl, 20, { applicationName: 'bench-client' });
    stops.push(() => pool.end());
    await migrate(pool);
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    installTemporalRuntime();
    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: NAMESPACE });
    const key = generateKey();
    const codecConfig: BenchCodec | undefined = o.codec
      ? { kind: o.codec, keyId: key.id, key: key.key.toString('base64') }
      : undefined;
    const codec = o.codec ? createCodec([key], o.codec === 'session', 'client') : undefined;
    attachCodecPool(codec, pool);
    const actorClient = codec
      ? new Client({ connection, namespace: NAMESPACE, dataConverter: encryptingDataConverter(codec) })
      : client;
    const actorTaskQueue = `bench-actor-${o.name}`;
    const floorTaskQueue = `bench-floor-${o.name}`;
    const handles = await Promise.all(
      forked.map((f) =>
        f.configure({
          temporalAddress: server.address,
          namespace: NAMESPACE,
          databaseUrl,
          actorBundle: base.actorBundle,
          actorTaskQueue,
          floorBundle: base.floorBundle,
          floorTaskQueue,
          maxCachedWorkflows: o.maxCachedWorkflows,
          ...(codecConfig ? { codec: codecConfig } : {}),
        }),
      ),
    );
    stops.push(() => Promise.all(handles.map((w) => w.stop())).then(() => undefined)); // first to stop: before the server
    const serviceWith = (actor: Partial<ActorConfig>) =>
      new TemporalSessionService({ client: actorClient, pool, taskQueue: actorTaskQueue, actor });
    return {
      kind: o.kind,
      setting: o.setting,
      address: server.address,
      client,
      pool,
      databaseUrl,
      actorTaskQueue,
      floorTaskQueue,
      service: serviceWith({}),
      serviceWith,
      worker: handles[0],
      workerCount: handles.length,
      serverPid: server.pid,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Every setting through the product's startDevServer; the default journal leaves the pragmas out. */
function startServer(cliPath: string, setting: SqliteSetting, dbFile: string, logFile: string): Promise<DevServer> {
  return startDevServer({
    cliPath,
    uiPort: null,
    dbFile,
    sqliteSynchronous: setting === 'wal-normal' ? 'normal' : 'full',
    sqliteWal: setting !== 'default',
    namespace: NAMESPACE,
    logFile,
  });
}
