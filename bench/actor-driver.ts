// How a workload drives a session actor: the product's TemporalSessionService, or a prototype variant of the
// actor registered under another workflow type (bench/workflows/session-actor-variant.ts).
import { randomUUID } from 'node:crypto';
import { Client, WithStartWorkflowOperation } from '@temporalio/client';
import { backOff } from 'exponential-backoff';
import { isActorGone } from '../src/temporal/failures';
import type { TemporalSessionService } from '../src/temporal/service';
import { appendTurnUpdate, contextQuery, recoverSessionUpdate, sessionWorkflowId, turnSignal } from '../workflows/messages';
import type { VariantInput } from './workflows/session-actor-variant';

export interface ActorDriver {
  label: string;
  recover(sessionId: string, userId: number): Promise<number>;
  /** The applied acknowledgement (Update); resolves with the new version. */
  appendApplied(sessionId: string, user: string, assistant: string): Promise<number>;
  /** The durable acknowledgement (Signal with a turn id). */
  appendDurable(sessionId: string, user: string, assistant: string): Promise<void>;
  /** Content of the latest user message as the actor answers a query now. */
  lastUserMessage(sessionId: string): Promise<string | undefined>;
}

export function productDriver(service: TemporalSessionService): ActorDriver {
  return {
    label: 'product actor',
    recover: async (id, userId) => (await service.execute(id, { type: 'recover', userId, agentType: 'assistant' })).version,
    appendApplied: async (id, user, assistant) => (await service.execute(id, { type: 'appendTurn', user, assistant })).version,
    appendDurable: async (id, user, assistant) => {
      await service.submitTurn(id, user, assistant);
    },
    lastUserMessage: async (id) => (await service.getRecentMessages(id, 2))?.[0]?.content,
  };
}

export const VARIANT_WORKFLOW_TYPE = 'sessionActorVariant';

/** The variant, driven with the same calls the service makes (update-with-start, signal-with-start, query). */
export function variantDriver(client: Client, taskQueue: string, input: Omit<VariantInput, 'session_id'>, label: string): ActorDriver {
  const retrying = <T>(call: () => Promise<T>) =>
    backOff(call, { numOfAttempts: 12, startingDelay: 10, maxDelay: 500, jitter: 'full', retry: (e) => isActorGone(e) });
  const start = (id: string) =>
    new WithStartWorkflowOperation(VARIANT_WORKFLOW_TYPE, {
      workflowId: sessionWorkflowId(id),
      taskQueue,
      args: [{ ...input, session_id: id }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  return {
    label,
    recover: async (id, userId) =>
      (await retrying(() => client.workflow.executeUpdateWithStart(recoverSessionUpdate, { args: [{ user_id: userId, agent_type: 'assistant' }], updateId: randomUUID(), startWorkflowOperation: start(id) }))).version,
    appendApplied: async (id, user, assistant) =>
      (await retrying(() => client.workflow.executeUpdateWithStart(appendTurnUpdate, { args: [{ user, assistant }], updateId: randomUUID(), startWorkflowOperation: start(id) }))).version,
    appendDurable: async (id, user, assistant) => {
      await retrying(() =>
        client.workflow.signalWithStart(VARIANT_WORKFLOW_TYPE, {
          workflowId: sessionWorkflowId(id),
          taskQueue,
          args: [{ ...input, session_id: id }],
          signal: turnSignal,
          signalArgs: [{ turn_id: randomUUID(), user, assistant }],
        }),
      );
    },
    lastUserMessage: async (id) => {
      const ctx = await backOff(() => client.workflow.getHandle(sessionWorkflowId(id)).query(contextQuery), { numOfAttempts: 20, startingDelay: 5, maxDelay: 250 });
      const msgs = ctx?.messages ?? [];
      return msgs[msgs.length - 2]?.content;
    },
  };
}
