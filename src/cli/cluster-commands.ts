// `durable-sessions cluster start|stop`: the production topology on one machine (the real Temporal server as four
// processes on a private Postgres, N worker processes, the API), and stopping it from another terminal.
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config';
import { apiKeys, apiLines, serveApi, tryItLines, untilSignalled } from './runtime-commands';

export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'the production topology on this machine: a Temporal cluster on Postgres, several workers, the API',
    );

  cluster
    .command('start')
    .description(
      'start the Temporal server (history, matching, frontend, worker as separate processes) on a private Postgres ' +
        'under <data dir>/cluster, N session worker processes and the HTTP API; state survives restarts',
    )
    .option('--workers <n>', 'session worker processes (DS_CLUSTER_WORKERS, default 2)', positiveInt)
    .action(async (opts: { workers?: number }) => {
      const loaded = loadConfig();
      const config = opts.workers
        ? { ...loaded, cluster: { ...loaded.cluster, workers: opts.workers } }
        : loaded;
      const { api: apiConfig, storedKey } = await apiKeys(config);
      const [{ createLogger }, { startClusterStack }, { TEMPORAL_SERVER_VERSION }] = await Promise.all([
        import('../logger'),
        import('../runtime/cluster-stack'),
        import('../runtime/temporal-server-binaries'),
      ]);
      const logger = createLogger(config.logLevel);
      const started = Date.now();
      const stack = await startClusterStack(config, logger);
      const api = await serveApi(stack.connection, apiConfig, logger, stack.stop);
      const pids = (name: keyof typeof stack.cluster.services) => stack.cluster.services[name].pid;
      console.log(
        [
          '',
          `durable-sessions cluster is running (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
          `  Temporal      ${stack.cluster.address}  (server ${TEMPORAL_SERVER_VERSION}, namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}; no Web UI)`,
          `                history ${pids('history')}, matching ${pids('matching')}, frontend ${pids('frontend')}, worker ${pids('worker')}`,
          `  Postgres      ${stack.databaseUrl.replace(/\/\/[^@]*@/, '//')}  (Temporal's persistence and visibility beside it)`,
          `  Workers       ${stack.workers.length} processes (pids ${stack.workers.map((w) => w.pid).join(', ')})`,
          `  Logs          ${stack.cluster.logDir}`,
          ...apiLines(api.url, storedKey),
          '',
          'Try it (user 42), in another terminal:',
          ...tryItLines(api.url, storedKey?.key).map((l) => `  ${l}`),
          '',
          'Stop:           Ctrl-C, or `npm run cli -- cluster stop` in another terminal',
          '',
        ].join('\n'),
      );
      await untilSignalled(async () => {
        await api.close();
        await stack.stop();
      });
    });

  cluster
    .command('stop')
    .description('stop the cluster that `cluster start` runs with this data dir, and wait until it has')
    .action(async () => {
      const config = loadConfig();
      const [{ readStackFile, runningStackPid }, { processAlive }] = await Promise.all([
        import('../runtime/stack-file'),
        import('../runtime/process'),
      ]);
      const pid = runningStackPid(config);
      if (pid === undefined || readStackFile(config)?.kind !== 'cluster') {
        console.log(`no cluster is running with data dir ${config.dataDir}`);
        return;
      }
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 120_000;
      while (processAlive(pid)) {
        if (Date.now() > deadline) throw new Error(`the cluster (pid ${pid}) did not stop within 120 s`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      console.log(`cluster stopped (pid ${pid})`);
    });
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got ${v}`);
  return n;
}
