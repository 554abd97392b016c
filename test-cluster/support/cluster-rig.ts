// A private cluster for one fault test file: the Temporal server's four services as processes on their own Postgres,
// a migrated database, two `durable-sessions worker` processes and a client; the faults kill and restart them.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { migrate } from '../../src/postgres/migrate';
import { createPool } from '../../src/postgres/pool';
import { type Cluster, startCluster } from '../../src/runtime/cluster';
import { createDatabase } from '../../src/runtime/embedded-postgres';
import { installTemporalRuntime } from '../../src/runtime/stack';
import type { TemporalServiceName } from '../../src/runtime/temporal-services';
import { type WorkerProcess, startWorkerProcess } from '../../src/runtime/worker-processes';
import { TemporalSessionService } from '../../src/temporal/service';
import { abortAllLoads } from '../../test-reliability/support/load';
import { clusterAssets, serverBinaries } from './assets';

const ROOT = path.resolve(__dirname, '..', '..');

function say(msg: string): void {
  if (process.env.DS_TEST_VERBOSE)
    process.stderr.write(`[cluster-rig ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

export class ClusterRig {
  readonly dir: string;
  readonly taskQueue: string;
  cluster!: Cluster;
  databaseUrl!: string;
  pool!: pg.Pool;
  connection!: Connection;
  client!: Client;
  service!: TemporalSessionService;
  readonly workers: (WorkerProcess | undefined)[] = [];
  /** Exits nobody asked for, of a Temporal service or a worker (a test expects none). */
  readonly unexpectedExits: string[] = [];
  private readonly assets = clusterAssets();

  private constructor(readonly name: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `ds-cluster-${name}-`));
    fs.chmodSync(this.dir, 0o755); // the private Postgres runs as user "postgres" when we are root
    this.taskQueue = `cluster-${name}-${crypto.randomBytes(3).toString('hex')}`;
  }

  static async start(name: string, workers = 2): Promise<ClusterRig> {
    installTemporalRuntime();
    const rig = new ClusterRig(name);
    try {
      rig.cluster = await startCluster({
        rootDir: ROOT,
        dir: path.join(rig.dir, 'cluster'),
        binaries: serverBinaries(rig.assets),
        temporalCliPath: rig.assets.temporalCliPath,
        namespace: 'default',
        namespaceRetentionDays: 1,
        log: say,
        onServiceExit: (service, code, signal) => rig.unexpectedExits.push(`${service}: ${code ?? signal}`),
      });
      rig.databaseUrl = await createDatabase(rig.cluster.postgresUrl, 'faults');
      rig.pool = createPool(rig.databaseUrl, 8);
      await migrate(rig.pool);
      rig.connection = await Connection.connect({ address: rig.cluster.address });
      rig.client = new Client({ connection: rig.connection });
      rig.service = new TemporalSessionService({
        client: rig.client,
        pool: rig.pool,
        taskQueue: rig.taskQueue,
      });
      await Promise.all(Array.from({ length: workers }, (_, i) => rig.startWorker(i)));
      return rig;
    } catch (err) {
      await rig.close();
      throw err;
    }
  }

  // ---- Temporal services ---------------------------------------------------------------------------------
  async killService(service: TemporalServiceName): Promise<void> {
    await this.cluster.kill(service);
    say(`${this.name}: temporal ${service} killed`);
  }

  async restartService(service: TemporalServiceName): Promise<void> {
    await this.cluster.restart(service);
    say(`${this.name}: temporal ${service} restarted (pid ${this.cluster.services[service].pid})`);
  }

  // ---- worker processes ----------------------------------------------------------------------------------
  async startWorker(i: number): Promise<void> {
    this.workers[i] = await startWorkerProcess({
      rootDir: ROOT,
      env: {
        TEMPORAL_ADDRESS: this.cluster.address,
        TEMPORAL_TASK_QUEUE: this.taskQueue,
        DATABASE_URL: this.databaseUrl,
        DS_WORKFLOW_BUNDLE: this.assets.bundlePath,
        DS_CODEC_DISABLED: '1',
        DS_WORKER_METRICS_PORT: '0',
      },
      logFile: path.join(this.cluster.logDir, `session-worker-${i + 1}.log`),
      stopTimeoutMs: 30_000,
      onUnexpectedExit: (code, signal) => this.unexpectedExits.push(`worker ${i + 1}: ${code ?? signal}`),
    });
    say(`${this.name}: worker ${i + 1} pid ${this.workers[i]?.pid} running`);
  }

  /** SIGKILL: its workflow cache, in-flight tasks and local activities die with it. */
  async killWorker(i: number): Promise<void> {
    await this.workers[i]?.kill();
    this.workers[i] = undefined;
    say(`${this.name}: worker ${i + 1} killed`);
  }

  /**
   * What an orchestrator's rolling restart does: SIGTERM, up to 30 s to drain (Kubernetes' default grace period, and
   * docker-compose.yml's), SIGKILL if it has not exited by then, then a new process. Resolves with how the old one
   * ended: e.g. `drained in 4.1 s`, or `SIGKILL after 30.0 s`.
   */
  async restartWorker(i: number): Promise<string> {
    const t0 = Date.now();
    const ended = await this.workers[i]?.stop();
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    this.workers[i] = undefined;
    await this.startWorker(i);
    return ended?.signal
      ? `${ended.signal} after ${seconds} s`
      : `drained in ${seconds} s (exit ${ended?.code})`;
  }

  async close(): Promise<void> {
    abortAllLoads();
    await Promise.all(this.workers.map((w) => w?.stop()));
    await this.connection?.close().catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
    await this.cluster?.stop();
    if (!process.env.DS_TEST_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
