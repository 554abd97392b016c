#!/usr/bin/env node
// The `durable-sessions` command: runs the stack, the worker, migrations, and quick session commands.
// `npm start` is `durable-sessions start`; every command reads its configuration from the environment once.
import { Command } from 'commander';
import { registerRuntimeCommands } from './runtime-commands';
import { registerSessionCommands } from './session-commands';

export function buildProgram(): Command {
  const program = new Command('durable-sessions')
    .description('Conversation state for AI agents, kept by durable Temporal actors with Postgres snapshots.')
    .showHelpAfterError();
  registerRuntimeCommands(program);
  registerSessionCommands(program);
  return program;
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    });
}
