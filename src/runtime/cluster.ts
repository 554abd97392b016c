// A Temporal cluster on this machine, set up as production sets one up: the real server's four services as separate
// processes on a private Postgres (persistence and visibility), configured by deploy/temporal/ (server.env,
// schema.sh, setup.sh, dynamicconfig.yaml), the files docker-compose.yml uses too. Its state survives restarts.
// Used by `durable-sessions cluster start` (src/runtime/cluster-stack.ts), test:cluster and the benchmark.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {
  EMBEDDED_PG_PASSWORD,
  EMBEDDED_PG_USER,
  type EmbeddedPg,
  startEmbeddedPostgres,
} from './embedded-postgres';
import { freeLowPort, portIsFree } from './ports';
import { run } from './process';
import { reapPidWithParent } from './reaper';
import type { TemporalServerBinaries } from './temporal-server-binaries';
import { SERVICE_START_ORDER, TemporalService, type TemporalServiceName } from './temporal-services';

/**
 * The private Postgres's settings. Each Temporal service process opens its own pools (deploy/temporal/server.env:
 * up to 80 connections for the four), and every worker or API process of ours up to 20: Postgres' default of 100
 * connections is not enough.
 */
export const CLUSTER_POSTGRES_SETTINGS = { max_connections: 200 } as const;

export interface ClusterOptions {
  /** The project root: deploy/temporal/ is read from here. */
  rootDir: string;
  /** The cluster's own directory: postgres/, ports.json, bin/, logs/. Reused by the next start. */
  dir: string;
  binaries: TemporalServerBinaries;
  /** The `temporal` CLI, which deploy/temporal/setup.sh runs. */
  temporalCliPath: string;
  namespace: string;
  namespaceRetentionDays: number;
  /** The frontend's port when it is free (a stable address for clients); otherwise, or when 0, another one. */
  frontendPort?: number;
  log: (msg: string) => void;
  /** A service exited without being asked to (e.g. killed from outside). */
  onServiceExit?: (service: TemporalServiceName, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface Cluster {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** Admin URL of the private Postgres; Temporal's databases are `temporal` and `temporal_visibility`. */
  postgresUrl: string;
  postgres: EmbeddedPg;
  services: Readonly<Record<TemporalServiceName, TemporalService>>;
  logDir: string;
  /** SIGKILL one service: no shutdown of any kind. */
  kill(service: TemporalServiceName): Promise<void>;
  /** Starts a service again on its ports; resolves once it listens. */
  restart(service: TemporalServiceName): Promise<void>;
  /** Stops every service, then Postgres; idempotent. */
  stop(): Promise<void>;
}

/** Ports of one cluster, kept in ports.json so that a restart keeps the same addresses. */
interface ClusterPorts {
  postgres: number;
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

const HOST = '127.0.0.1';

/** deploy/temporal/server.env as a record (KEY=VALUE lines; # comments). */
export function readServerEnv(rootDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of fs
    .readFileSync(path.join(rootDir, 'deploy', 'temporal', 'server.env'), 'utf8')
    .split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`deploy/temporal/server.env: not KEY=VALUE: ${line}`);
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  fs.mkdirSync(o.dir, { recursive: true });
  fs.chmodSync(o.dir, 0o755); // the private Postgres runs as user "postgres" when we are root
  const logDir = path.join(o.dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const ports = await choosePorts(o.dir, o.frontendPort ?? 0);
  const bin = linkTools(o.dir, o.binaries, o.temporalCliPath);
  const serverEnv = readServerEnv(o.rootDir);
  const started = Date.now();

  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(o.dir, 'postgres'),
    port: ports.postgres,
    settings: CLUSTER_POSTGRES_SETTINGS,
    log: (m) => fs.appendFileSync(path.join(logDir, 'postgres.log'), `${m}\n`),
  });
  // A SIGKILLed parent must not leave a postmaster behind: SIGQUIT is Postgres' immediate shutdown.
  const unreapPostgres = reapPidWithParent(postgres.pid, 'SIGQUIT');
  const services = {} as Record<TemporalServiceName, TemporalService>;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // The frontend first (no new requests), then the rest together, then their database.
      await services.frontend?.stop();
      await Promise.all(Object.values(services).map((s) => s.stop()));
      await postgres.stop();
      unreapPostgres();
    })());

  try {
    const scriptEnv = {
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? o.dir,
    };
    await script(o, 'schema.sh', {
      ...scriptEnv,
      ...serverEnv,
      SQL_HOST: HOST,
      SQL_PORT: String(ports.postgres),
      SQL_USER: EMBEDDED_PG_USER,
      SQL_PASSWORD: EMBEDDED_PG_PASSWORD,
    });
    o.log(`temporal schemas ready (${Date.now() - started} ms)`);

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...serverEnv,
      POSTGRES_SEEDS: HOST,
      DB_PORT: String(ports.postgres),
      POSTGRES_USER: EMBEDDED_PG_USER,
      POSTGRES_PWD: EMBEDDED_PG_PASSWORD,
      BIND_ON_IP: HOST,
      FRONTEND_GRPC_PORT: String(ports.frontend),
      FRONTEND_HTTP_PORT: String(ports.frontendHttp),
      FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
      HISTORY_GRPC_PORT: String(ports.history),
      HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
      MATCHING_GRPC_PORT: String(ports.matching),
      MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
      WORKER_GRPC_PORT: String(ports.worker),
      WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
      DYNAMIC_CONFIG_FILE_PATH: path.join(o.rootDir, 'deploy', 'temporal', 'dynamicconfig.yaml'),
    };
    const temporalDb = new URL(postgres.url);
    temporalDb.pathname = `/${serverEnv.DBNAME ?? 'temporal'}`;
    for (const name of SERVICE_START_ORDER) {
      services[name] = new TemporalService({
        service: name,
        binary: o.binaries.server,
        env,
        host: HOST,
        grpcPort: ports[name],
        logFile: path.join(logDir, `${name}.log`),
        // History is up once the cluster metadata it initialises is stored: the others may start then.
        ready: name === 'history' ? () => clusterMetadataStored(temporalDb.toString()) : undefined,
        onUnexpectedExit: o.onServiceExit,
      });
      const t0 = Date.now();
      await services[name].start();
      o.log(`temporal ${name} ready on ${HOST}:${ports[name]} (${Date.now() - t0} ms)`);
    }
    const address = `${HOST}:${ports.frontend}`;
    await script(o, 'setup.sh', {
      ...scriptEnv,
      TEMPORAL_ADDRESS: address,
      NAMESPACE: o.namespace,
      NAMESPACE_RETENTION: `${Math.round(o.namespaceRetentionDays * 24)}h`,
    });
    o.log(`temporal cluster ready at ${address} (${Date.now() - started} ms)`);
    return {
      address,
      namespace: o.namespace,
      postgresUrl: postgres.url,
      postgres,
      services,
      logDir,
      kill: (name) => services[name].kill('SIGKILL'),
      restart: (name) => services[name].start(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs one of deploy/temporal/'s scripts with `env` only; its output goes to logs/<script>.log. */
async function script(o: ClusterOptions, name: string, env: NodeJS.ProcessEnv): Promise<void> {
  const file = path.join(o.rootDir, 'deploy', 'temporal', name);
  const { stdout, stderr } = await run('/bin/sh', [file], { env, timeoutMs: 5 * 60_000 });
  fs.appendFileSync(path.join(o.dir, 'logs', name.replace(/\.sh$/, '.log')), `${stdout}${stderr}`);
}

/** bin/ with the names the scripts call (as in the admin-tools image), whatever the binaries are called here. */
function linkTools(dir: string, binaries: TemporalServerBinaries, temporalCli: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const [name, target] of [
    ['temporal-sql-tool', binaries.sqlTool],
    ['temporal', temporalCli],
  ]) {
    const link = path.join(bin, name);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.resolve(target), link);
  }
  return bin;
}

async function clusterMetadataStored(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return ((await client.query('SELECT 1 FROM cluster_metadata_info LIMIT 1')).rowCount ?? 0) > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The ports of the last start where still free, new ones otherwise (all below 32768: see freeLowPort). */
async function choosePorts(dir: string, frontendPort: number): Promise<ClusterPorts> {
  const file = path.join(dir, 'ports.json');
  let previous: Partial<ClusterPorts> = {};
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<ClusterPorts>;
  } catch {
    // first start
  }
  const keys: (keyof ClusterPorts)[] = [
    'postgres',
    'frontend',
    'frontendHttp',
    'frontendMembership',
    'history',
    'historyMembership',
    'matching',
    'matchingMembership',
    'worker',
    'workerMembership',
  ];
  const chosen = new Set<number>();
  const ports = {} as ClusterPorts;
  for (const key of keys) {
    const wanted = key === 'frontend' && frontendPort ? [frontendPort, previous.frontend] : [previous[key]];
    let port: number | undefined;
    for (const candidate of wanted)
      if (candidate && !chosen.has(candidate) && (await portIsFree(candidate, HOST))) {
        port = candidate;
        break;
      }
    ports[key] = port ?? (await freeLowPort(HOST, chosen));
    chosen.add(ports[key]);
  }
  fs.writeFileSync(file, JSON.stringify(ports, null, 2));
  return ports;
}
