// CLI commands that run parts of the system: start (everything), worker, migrate.
// Long-running commands stop cleanly on Ctrl-C (SIGINT) and SIGTERM.
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { migrate } from '../postgres/migrate';
import { createPool } from '../postgres/pool';
import { Stack, startStack } from '../runtime/stack';

export function registerRuntimeCommands(program: Command): void {
  program
    .command('start')
    .description('start the embedded stack (Temporal dev server + UI, Postgres) or use the configured one, and run the worker')
    .action(async () => {
      const config = loadConfig();
      const logger = createLogger(process.env.LOG_LEVEL ?? 'info');
      const started = Date.now();
      const stack = await startStack(config, { logger, worker: true });
      printBanner(stack, Date.now() - started);
      await untilSignalled(stack.stop);
    });

  program
    .command('worker')
    .description('run a session worker against TEMPORAL_ADDRESS and DATABASE_URL (scale out by running more)')
    .action(async () => {
      const config = loadConfig();
      if (!config.temporal.address || !config.databaseUrl)
        throw new Error('worker needs TEMPORAL_ADDRESS and DATABASE_URL (use `start` for the embedded stack)');
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
      if (!config.databaseUrl) throw new Error('migrate needs DATABASE_URL (the embedded stack migrates itself)');
      const pool = createPool(config.databaseUrl, 1);
      try {
        await migrate(pool);
        console.log('migrations applied');
      } finally {
        await pool.end();
      }
    });
}

function printBanner(stack: Stack, ms: number): void {
  const lines = [
    '',
    `durable-sessions is running (started in ${(ms / 1000).toFixed(1)} s)`,
    `  Temporal      ${stack.temporalAddress}  (task queue ${stack.config.temporal.taskQueue})`,
    stack.uiUrl ? `  Temporal UI   ${stack.uiUrl}/namespaces/${stack.config.temporal.namespace}/workflows` : '',
    `  Postgres      ${stack.databaseUrl.replace(/\/\/[^@]*@/, '//')}`,
    '',
    'Append a turn:  npm run turn -- demo-1 "Hello" "Hi! How can I help?" --user-id 42',
    'Stop:           Ctrl-C',
    '',
  ];
  console.log(lines.filter((l, i) => l !== '' || i === 0 || i === lines.length - 1 || lines[i - 1] !== '').join('\n'));
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
