// CLI commands that run parts of the system: start (everything), worker, api, migrate.
// Long-running commands stop cleanly on Ctrl-C (SIGINT) and SIGTERM.
import type { Command } from 'commander';
import { type ApiConfig, type Config, loadConfig } from '../config';
import type { Logger } from '../logger';
import type { Stack } from '../runtime/stack';
import type { RunningApi } from '../http/server';

// The modules behind these commands (the Temporal worker, Fastify, the embedded runtime) are imported inside the
// actions: loading them costs more than a quick command such as `turn` takes in all, and they need none of them.

/** Starts the API on a started or connected stack; if it cannot start, the stack is released before rethrowing. */
export async function serveApi(
  stack: Pick<Stack, 'service' | 'pool' | 'client' | 'codec'> & { metrics?: Stack['metrics'] },
  apiConfig: ApiConfig,
  logger: Logger,
  release: () => Promise<void>,
): Promise<RunningApi> {
  const { startApi } = await import('../http/server');
  try {
    return await startApi({
      service: stack.service,
      pool: stack.pool,
      client: stack.client,
      config: apiConfig,
      logger,
      codec: stack.codec,
      metrics: stack.metrics,
    });
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * The API's keys: DS_API_KEYS when set; otherwise, on loopback, the admin key kept in <dataDir>/api-key (created
 * on first start, so the curl lines of the last banner keep working). Throws before anything starts when the API
 * would listen beyond loopback without keys.
 */
export async function apiKeys(
  config: Config,
): Promise<{ api: ApiConfig; storedKey?: { key: string; file: string } }> {
  const { isLoopback, resolveApiKeys } = await import('../http/auth');
  if (config.api.keys.length > 0 || !isLoopback(config.api.host)) {
    resolveApiKeys(config.api);
    return { api: config.api };
  }
  const { loadOrCreateApiKey } = await import('../runtime/api-key-file');
  const stored = loadOrCreateApiKey(config.dataDir);
  return {
    api: { ...config.api, keys: [{ key: stored.key, role: { kind: 'admin' } }] },
    storedKey: stored,
  };
}

export function registerRuntimeCommands(program: Command): void {
  program
    .command('start')
    .description(
      'start the embedded stack (Temporal dev server + UI, Postgres) or use the configured one, run the worker and the HTTP API',
    )
    .action(async () => {
      const config = loadConfig();
      const { api: apiConfig, storedKey } = await apiKeys(config);
      const [{ createLogger }, { startStack }] = await Promise.all([
        import('../logger'),
        import('../runtime/stack'),
      ]);
      const logger = createLogger(config.logLevel);
      const started = Date.now();
      const stack = await startStack(config, { logger, worker: true });
      const api = await serveApi(
        stack,
        { ...apiConfig, temporalMetricsAddress: stack.temporalMetricsAddress },
        logger,
        stack.stop,
      );
      printBanner(stack, Date.now() - started, api.url, storedKey);
      await untilSignalled(async () => {
        await api.close();
        await stack.stop();
      });
    });

  program
    .command('api')
    .description('run the HTTP API alone against TEMPORAL_ADDRESS/DATABASE_URL or the running embedded stack')
    .action(async () => {
      const config = loadConfig();
      const { api: apiConfig, storedKey } = await apiKeys(config);
      const [{ createLogger }, { connectToStack }] = await Promise.all([
        import('../logger'),
        import('../runtime/connect'),
      ]);
      const logger = createLogger(config.logLevel);
      const stack = await connectToStack(config);
      const api = await serveApi(stack, apiConfig, logger, stack.close);
      const tryIt = tryItLines(api.url, storedKey?.key).map((l) => `  ${l}`);
      console.log([...apiLines(api.url, storedKey), '', 'Try it (user 42):', ...tryIt].join('\n'));
      await untilSignalled(async () => {
        await api.close();
        await stack.close();
      });
    });

  program
    .command('worker')
    .description(
      'run a session worker against TEMPORAL_ADDRESS and DATABASE_URL (scale out by running more); serves Prometheus metrics on DS_WORKER_METRICS_PORT',
    )
    .action(async () => {
      const config = loadConfig();
      if (!config.temporal.address || !config.databaseUrl)
        throw new Error(
          'worker needs TEMPORAL_ADDRESS and DATABASE_URL (use `start` for the embedded stack)',
        );
      const [{ createLogger }, { startStack }, { startWorkerMetricsServer }] = await Promise.all([
        import('../logger'),
        import('../runtime/stack'),
        import('../runtime/worker-metrics'),
      ]);
      const logger = createLogger(config.logLevel);
      const stack = await startStack(config, { logger, worker: true });
      let metricsServer: Awaited<ReturnType<typeof startWorkerMetricsServer>>;
      try {
        metricsServer = await startWorkerMetricsServer({
          host: config.worker.metricsHost,
          port: config.worker.metricsPort,
          metrics: stack.metrics,
          temporalMetricsAddress: stack.temporalMetricsAddress,
          logger,
        });
      } catch (err) {
        await stack.stop();
        throw err;
      }
      logger.info({ taskQueue: config.temporal.taskQueue, metrics: metricsServer.url }, 'worker running');
      await untilSignalled(async () => {
        await metricsServer.close();
        await stack.stop();
      });
    });

  program
    .command('migrate')
    .description('apply the Postgres migrations to DATABASE_URL')
    .action(async () => {
      const config = loadConfig();
      if (!config.databaseUrl)
        throw new Error('migrate needs DATABASE_URL (the embedded stack migrates itself)');
      const [{ migrate }, { createPool }] = await Promise.all([
        import('../postgres/migrate'),
        import('../postgres/pool'),
      ]);
      const pool = createPool(config.databaseUrl, 1);
      try {
        await migrate(pool);
        console.log('migrations applied');
      } finally {
        await pool.end();
      }
    });
}

/** The CLI's first step, as the README has it. */
export const TURN_EXAMPLE = 'npm run turn -- demo-1 "Hello" "Hi! How can I help?" --user-id 42';

/**
 * The banner's first steps (user 42), in the order the README takes them. Each only adds to what came before
 * (recover keeps an existing session as it is), so following the README and then these loses nothing.
 */
export function tryItLines(url: string, key?: string): string[] {
  if (!key) return [TURN_EXAMPLE];
  const auth = `-H 'Authorization: Bearer ${key}' -H 'X-User-Id: 42'`;
  const json = `${auth} -H 'Content-Type: application/json'`;
  return [
    TURN_EXAMPLE,
    `curl -s -X POST ${url}/v1/sessions/demo-2/recover ${json} -d '{"agent_type":"assistant"}'`,
    `curl -s -X POST ${url}/v1/sessions/demo-2/turns ${json} -d '{"user":"Hi","assistant":"Hello!"}'`,
    `curl -s ${url}/v1/users/42/sessions ${auth}`,
  ];
}

/** Where the API listens and, for the stored key, the key and where it is kept. */
export function apiLines(url: string, storedKey?: { key: string; file: string }): string[] {
  const lines = [`  HTTP API      ${url}  (OpenAPI: ${url}/openapi.json)`];
  if (storedKey)
    lines.push(
      `  API key       ${storedKey.key}  (admin; kept in ${storedKey.file})`,
      '                rotate it: npm run cli -- api-key rotate; choose keys: DS_API_KEYS',
    );
  return lines;
}

function printBanner(
  stack: Stack,
  ms: number,
  apiUrl: string,
  storedKey?: { key: string; file: string },
): void {
  const lines = [
    '',
    `durable-sessions is running (started in ${(ms / 1000).toFixed(1)} s)`,
    `  Temporal      ${stack.temporalAddress}  (task queue ${stack.config.temporal.taskQueue})`,
    stack.uiUrl
      ? `  Temporal UI   ${stack.uiUrl}/namespaces/${stack.config.temporal.namespace}/workflows`
      : '',
    `  Postgres      ${stack.databaseUrl.replace(/\/\/[^@]*@/, '//')}`,
    stack.codec
      ? `  Encryption    payloads encrypted (${stack.config.codec.sessionKeys ? 'a key per session, wrapped by master key' : 'master key'} ${stack.codec.codec.currentKeyId}); codec server ${apiUrl}/codec (docs/encryption.md)`
      : '  Encryption    off: message text is stored in Temporal in clear (docs/encryption.md)',
    stack.codec && stack.uiUrl
      ? `  UI decoding   sign in at ${apiUrl}/codec/login with the admin key, then tick "include cross-origin credentials" in the UI's Codec Server settings`
      : '',
    ...apiLines(apiUrl, storedKey),
    '',
    'Try it (user 42), in another terminal:',
    ...tryItLines(apiUrl, storedKey?.key).map((l) => `  ${l}`),
    '',
    'Stop:           Ctrl-C',
    '',
  ];
  console.log(
    lines.filter((l, i) => l !== '' || i === 0 || i === lines.length - 1 || lines[i - 1] !== '').join('\n'),
  );
}

/** Resolves after SIGINT/SIGTERM once `stop` has finished; a second signal exits at once. */
export function untilSignalled(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      console.error(`\n${signal}: stopping…`);
      stop().then(
        () => resolve(),
        (err: unknown) => {
          console.error(err);
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
