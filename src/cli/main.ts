#!/usr/bin/env node
// The `durable-sessions` command: runs the stack, the worker, migrations, and quick session commands.
// `npm start` is `durable-sessions start`; every command reads its configuration from the environment once.
import { Command } from 'commander';
import { registerApiKeyCommands } from './api-key-commands';
import { registerClusterCommands } from './cluster-commands';
import { registerRuntimeCommands } from './runtime-commands';
import { registerSessionCommands } from './session-commands';

export function buildProgram(): Command {
  const program = new Command('durable-sessions')
    .description('Conversation state for AI agents, kept by durable Temporal actors with Postgres snapshots.')
    .showHelpAfterError();
  registerRuntimeCommands(program);
  registerClusterCommands(program);
  registerSessionCommands(program);
  registerApiKeyCommands(program);
  return program;
}

/** Runs one command line (`argv` as in process.argv); the process exits 1 with the message on failure. */
export function main(argv: string[]): void {
  buildProgram()
    .parseAsync(argv)
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}

// Run directly (dist/src/cli/main.js, ts-node); scripts/cli.js calls main() itself.
if (require.main === module) main(process.argv);
