// CLI commands for the API key the embedded stack keeps in <dataDir>/api-key: show it, rotate it.
// A running API keeps the key it started with (it reads the file once), so rotate says when a restart is due.
import type { Command } from 'commander';
import { type Config, loadConfig } from '../config';
import { readApiKey, rotateApiKey } from '../runtime/api-key-file';
import { runningStackPid } from '../runtime/stack-file';

export function registerApiKeyCommands(program: Command): void {
  const apiKey = program
    .command('api-key')
    .description(
      'show or rotate the admin API key `start` keeps in the data dir (when DS_API_KEYS is not set)',
    );

  apiKey
    .command('show')
    .description('print the stored API key')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const config = loadConfig();
      refuseConfiguredKeys(config);
      const stored = readApiKey(config.dataDir);
      if (!stored)
        throw new Error('no API key yet: `npm start` creates one (or run `durable-sessions api-key rotate`)');
      console.log(opts.json ? JSON.stringify({ key: stored.key, file: stored.file }) : stored.key);
    });

  apiKey
    .command('rotate')
    .description(
      'replace the stored API key with a new one; a running API accepts the old key until restarted',
    )
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const config = loadConfig();
      refuseConfiguredKeys(config);
      const stored = rotateApiKey(config.dataDir);
      const pid = runningStackPid(config);
      if (opts.json) {
        console.log(
          JSON.stringify({ key: stored.key, file: stored.file, restart_needed: pid !== undefined, pid }),
        );
        return;
      }
      console.log(
        [
          `new API key: ${stored.key}`,
          `kept in ${stored.file}`,
          pid !== undefined
            ? `the running stack (pid ${pid}) still accepts the old key and not this one: restart it (Ctrl-C, then npm start)`
            : 'the next `npm start` uses it (an API already running keeps the old key until it restarts)',
        ].join('\n'),
      );
    });
}

function refuseConfiguredKeys(config: Config): void {
  if (config.api.keys.length > 0)
    throw new Error(
      'DS_API_KEYS is set: the API uses those keys, not the stored one; change DS_API_KEYS to rotate them',
    );
}
