// CLI commands that act on sessions of a running stack: append a turn (the quickest way to see an actor start).
// They connect through TEMPORAL_ADDRESS/DATABASE_URL or the embedded stack's .data/stack.json.
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { SessionRecovery } from '../recovery';
import { connectToStack } from '../runtime/stack';
import { toWireContext } from '../types';

export function registerSessionCommands(program: Command): void {
  program
    .command('turn')
    .description('append a user/assistant turn to a session, creating it for --user-id when missing')
    .argument('<session-id>')
    .argument('<user>', 'the user message')
    .argument('<assistant>', "the assistant's reply")
    .option('--user-id <n>', 'owner of the session when it is created', (v) => Number(v), 1)
    .option('--agent-type <type>', 'agent type to record', '')
    .option('--durable', 'acknowledge once Temporal has persisted the turn (signal) instead of once applied')
    .action(async (sessionId: string, user: string, assistant: string, opts: TurnOptions) => {
      const stack = await connectToStack(loadConfig());
      try {
        const { service } = stack;
        if (opts.durable) {
          const turnId = await service.submitTurn(sessionId, user, assistant, {
            userId: opts.userId,
            agentType: opts.agentType || undefined,
          });
          console.log(JSON.stringify({ turn_id: turnId, status: await service.turnStatus(sessionId, turnId) }));
        } else {
          const recovery = new SessionRecovery(service);
          await recovery.recoverSession(sessionId, opts.userId);
          const { version, context } = await recovery.appendTurn(sessionId, user, assistant, opts.agentType);
          console.log(JSON.stringify({ version, session: toWireContext(context) }, null, 2));
        }
        if (stack.uiUrl) console.log(`see it in the Temporal UI: ${stack.uiUrl}/namespaces/default/workflows?query=SessionId%3D%22${encodeURIComponent(sessionId)}%22`);
      } finally {
        await stack.close();
      }
    });
}

interface TurnOptions {
  userId: number;
  agentType: string;
  durable?: boolean;
}
