// CLI commands that run parts of the system: start (everything), worker, api, migrate.
// Long-running commands stop cleanly on Ctrl-C (SIGINT) and SIGTERM.
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { type Logger, createLogger } from '../logger';
import { migrate } from '../postgres/migrate';
import { createPool } from '../postgres/pool';
import { connectToStack } from '../runtime/connect';
import { Stack, startStack } from '../runtime/stack';
import { resolveApiKeys } from '../http/auth';
import { type RunningApi, startApi } from '../http/server';

/** Starts the API on a started or connected stack; if it cannot start, the stack is released before rethrowing. */
async function serveApi(
  stack: Pick<Stack, 'service' | 'pool' | 'client' | 'codec'> & { metrics?: Stack['metrics'] },
  apiConfig: Parameters<typeof startApi>[0]['config'],
  logger: Logger,
  release: () => Promise<void>,
): Promise<RunningApi> {
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

export function registerRuntimeCommands(program: Command): void {
  program
    .command('start')
    .description(
      'start the embedded stack (Temporal dev server + UI, Postgres) or use the configured one, run the worker and the HTTP API',
    )
    .action(async () => {
      const config = loadConfig();
      // Before anything starts: a non-loopback API without keys refuses to run.
      const { keys, generated } = resolveApiKeys(config.api);
      const logger = createLogger(process.env.LOG_LEVEL ?? 'info');
      const started = Date.now();
      const stack = await startStack(config, { logger, worker: true });
      const api = await serveApi(
        stack,
        { ...config.api, keys, temporalMetricsAddress: stack.temporalMetricsAddress },
        logger,
        stack.stop,
      );
      printBanner(stack, Date.now() - started, api.url, generated);
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
      const { keys, generated } = resolveApiKeys(config.api);
      const logger = createLogger(process.env.LOG_LEVEL ?? 'info');
      const stack = await connectToStack(config);
      const api = await serveApi(stack, { ...config.api, keys }, logger, stack.close);
      console.log(apiLines(api.url, generated).join('\n'));
      await untilSignalled(async () => {
        await api.close();
        await stack.close();
      });
    });

  program
    .command('worker')
    .description('run a session worker against TEMPORAL_ADDRESS and DATABASE_URL (scale out by running more)')
    .action(async () => {
      const config = loadConfig();
      if (!config.temporal.address || !config.databaseUrl)
        throw new Error(
          'worker needs TEMPORAL_ADDRESS and DATABASE_URL (use `start` for the embedded stack)',
        );
      const logger = createLogger(process.env.LOG_LEVEL ?? 'info');
      const stack = await startStack(config, { logger, worker: true });
      logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
      await untilSignalled(stack.stop);
    });

  program
    .command('migrate')
    .description('apply the Postgres migrations to DATABASE_URL')
    .action(async () => {
      const config = loadConfig();
      if (!config.databaseUrl)
        throw new Error('migrate needs DATABASE_URL (the embedded stack migrates itself)');
      const pool = createPool(config.databaseUrl, 1);
      try {
        await migrate(pool);
        console.log('migrations applied');
      } finally {
        await pool.end();
      }
    });
}

/** Where the API listens and, for a generated key, the key and a ready-to-paste curl line. */
function apiLines(url: string, generatedKey?: string): string[] {
  const lines = [`  HTTP API      ${url}  (OpenAPI: ${url}/openapi.json)`];
  if (generatedKey) {
    const auth = `-H 'Authorization: Bearer ${generatedKey}' -H 'X-User-Id: 42' -H 'Content-Type: application/json'`;
    lines.push(
      `  API key       ${generatedKey}  (generated for this run, admin; set DS_API_KEYS to choose keys)`,
      '',
      'Try it (user 42):',
      `  curl -s -X PUT ${url}/v1/sessions/demo-1 ${auth} -d '{"agent_type":"memo"}'`,
      `  curl -s -X POST ${url}/v1/sessions/demo-1/turns ${auth} -d '{"user":"Hello","assistant":"Hi!"}'`,
      `  curl -s ${url}/v1/users/42/sessions -H 'Authorization: Bearer ${generatedKey}' -H 'X-User-Id: 42'`,
    );
  }
  return lines;
}

function printBanner(stack: Stack, ms: number, apiUrl: string, generatedKey?: string): void {
  const lines = [
    '',
    `durable-sessions is running (started in ${(ms / 1000).toFixed(1)} s)`,
    `  Temporal      ${stack.temporalAddress}  (task queue ${stack.config.temporal.taskQueue})`,
    stack.uiUrl
      ? `  Temporal UI   ${stack.uiUrl}/namespaces/${stack.config.temporal.namespace}/workflows`
      : '',
    `  Postgres      ${stack.databaseUrl.replace(/\/\/[^@]*@/, '//')}`,
    stack.codec
      ? `  Encryption    payloads encrypted (key ${stack.codec.codec.currentKeyId}); codec server ${apiUrl}/codec (docs/encryption.md)`
      : '  Encryption    off: message text is stored in Temporal in clear (docs/encryption.md)',
    ...apiLines(apiUrl, generatedKey),
    '',
    'Append a turn:  npm run turn -- demo-1 "Hello" "Hi! How can I help?" --user-id 42',
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
