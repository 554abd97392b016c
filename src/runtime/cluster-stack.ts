// `durable-sessions cluster start` without the API: the Temporal cluster (cluster.ts), our database on its
// Postgres, the migrations and N `durable-sessions worker` processes, advertised in <dataDir>/stack.json.
// Used by src/cli/cluster-commands.ts; the API is served in the calling process on the returned connection.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { embeddedKeyFile, resolveCodecKeys } from '../codec/resolve';
import type { Logger } from '../logger';
import { migrate } from '../postgres/migrate';
import { createPool } from '../postgres/pool';
import { type Cluster, startCluster } from './cluster';
import { type StackConnection, connectToStack } from './connect';
import { ensureDatabase } from './embedded-postgres';
import { sleep } from './process';
import { EMBEDDED_DATABASE } from './stack';
import { readStackFile, runningStackPid, stackFile } from './stack-file';
import { resolveTemporalCli } from './temporal-cli';
import { resolveTemporalServer } from './temporal-server-binaries';
import { type WorkerProcess, startWorkerProcess } from './worker-processes';

export interface ClusterStack {
  cluster: Cluster;
  databaseUrl: string;
  workers: WorkerProcess[];
  /** Client, pool and service for the API, with the workers' codec keys. */
  connection: StackConnection;
  /** The configuration the workers and the API run with (TEMPORAL_ADDRESS, DATABASE_URL, the key file set). */
  config: Config;
  stop(): Promise<void>;
}

/** How long a process that exited by itself waits before it is started again. */
const RESTART_DELAY_MS = 1_000;

export async function startClusterStack(config: Config, logger: Logger): Promise<ClusterStack> {
  if (config.temporal.address || config.databaseUrl)
    throw new Error(
      'cluster start runs its own Temporal and Postgres: unset TEMPORAL_ADDRESS and DATABASE_URL',
    );
  const other = runningStackPid(config);
  if (other !== undefined)
    throw new Error(`a stack (pid ${other}) already runs with data dir ${config.dataDir}: stop it first`);
  const log = (msg: string): void => logger.info(msg);
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  let unadvertise = (): void => undefined;
  const stop = async (): Promise<void> => {
    stopping = true;
    // The advertisement goes last: `cluster stop` waits for this process, clients stop finding it once all is down.
    while (stops.length > 0)
      await (stops.pop() as () => Promise<void>)().catch((err: unknown) =>
        logger.warn({ err }, 'stop failed'),
      );
    unadvertise();
  };
  try {
    const [binaries, temporalCliPath] = await Promise.all([
      resolveTemporalServer({ ...config.cluster, log }),
      resolveTemporalCli({ cliPath: config.temporal.cliPath, cacheDir: config.cacheDir, log }),
    ]);
    const services: Partial<Cluster['services']> = {};
    const cluster = await startCluster({
      rootDir: config.rootDir,
      dir: config.cluster.dataDir,
      binaries,
      temporalCliPath,
      namespace: config.temporal.namespace,
      namespaceRetentionDays: config.temporal.namespaceRetentionDays,
      frontendPort: config.temporal.port,
      log,
      onServiceExit: (name, code, signal) => {
        if (stopping) return;
        logger.error({ service: name, code, signal }, 'a temporal service exited; starting it again');
        void sleep(RESTART_DELAY_MS)
          .then(() => (stopping ? undefined : services[name]?.start()))
          .catch((err: unknown) =>
            logger.error({ err, service: name }, 'could not restart a temporal service'),
          );
      },
    });
    Object.assign(services, cluster.services);
    stops.push(() => cluster.stop());

    const databaseUrl = await ensureDatabase(cluster.postgresUrl, EMBEDDED_DATABASE);
    const pool = createPool(databaseUrl, 1);
    await migrate(pool).finally(() => pool.end());

    // Every worker and the API share the data dir's key file, as `npm start`'s processes do.
    const keys = resolveCodecKeys(config.codec, { dataDir: config.dataDir, generate: true });
    const keyFile = keys?.source.includes('embedded')
      ? embeddedKeyFile(config.dataDir)
      : config.codec.keyFile;
    const bundle = config.worker.workflowBundlePath ?? (await bundleWorkflows(config.cluster.dataDir));
    const env: NodeJS.ProcessEnv = {
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: config.temporal.namespace,
      TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
      DATABASE_URL: databaseUrl,
      DS_WORKFLOW_BUNDLE: bundle,
      // Several workers on one host: each takes a free port for its metrics (logged).
      DS_WORKER_METRICS_PORT: '0',
      ...(keyFile ? { DS_CODEC_KEY_FILE: keyFile } : {}),
      // Keys per session: every worker must agree with the API (docs/encryption.md).
      DS_CODEC_SESSION_KEYS: config.codec.sessionKeys ? '1' : '0',
    };
    const workers: WorkerProcess[] = [];
    const startWorker = async (i: number): Promise<void> => {
      workers[i] = await startWorkerProcess({
        rootDir: config.rootDir,
        env,
        logFile: path.join(cluster.logDir, `worker-${i + 1}.log`),
        onUnexpectedExit: (code, signal) => {
          if (stopping) return;
          logger.error({ worker: i + 1, code, signal }, 'a session worker exited; starting it again');
          void sleep(RESTART_DELAY_MS)
            .then(() => (stopping ? undefined : startWorker(i)))
            .catch((err: unknown) =>
              logger.error({ err, worker: i + 1 }, 'could not restart a session worker'),
            );
        },
      });
    };
    stops.push(async () => {
      await Promise.all(workers.map((w) => w?.stop()));
    });
    await Promise.all(Array.from({ length: config.cluster.workers }, (_, i) => startWorker(i)));
    log(`${config.cluster.workers} session workers running (pids ${workers.map((w) => w.pid).join(', ')})`);

    const workerConfig: Config = {
      ...config,
      temporal: { ...config.temporal, address: cluster.address },
      databaseUrl,
      codec: keyFile && !config.codec.keys ? { ...config.codec, keyFile } : config.codec,
    };
    const connection = await connectToStack(workerConfig);
    stops.push(() => connection.close());

    const file = stackFile(config);
    fs.writeFileSync(
      file,
      JSON.stringify({ kind: 'cluster', temporalAddress: cluster.address, databaseUrl, pid: process.pid }),
    );
    unadvertise = () => {
      if (readStackFile(config)?.pid === process.pid) fs.rmSync(file, { force: true });
    };
    let stopped: Promise<void> | undefined;
    return {
      cluster,
      databaseUrl,
      workers,
      connection,
      config: workerConfig,
      stop: () => (stopped ??= stop()),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One workflow bundle for all workers (each would otherwise spend seconds bundling at start). */
async function bundleWorkflows(dir: string): Promise<string> {
  const [{ bundleWorkflowCode, DefaultLogger }, { workflowsPath }] = await Promise.all([
    import('@temporalio/worker'),
    import('../temporal/worker'),
  ]);
  const { code } = await bundleWorkflowCode({
    workflowsPath: workflowsPath(),
    logger: new DefaultLogger('WARN'),
  });
  const file = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(file, code);
  return file;
}
