// How TemporalSessionService reaches a session's actor: queries to its open run (none open: the caller reads
// Postgres), commands retried over a run that is completing with failures mapped to typed errors, and its start.
import { Client, WithStartWorkflowOperation, WorkflowClient } from '@temporalio/client';
import { backOff } from 'exponential-backoff';
import type { ActorConfig } from '../config';
import { SessionActorInput, sessionWorkflowId, SESSION_WORKFLOW_TYPE } from '../../workflows/messages';
import { terminateErasedRun } from './erased-runs';
import {
  isActorBusy,
  isActorGone,
  isActorTaskFailing,
  isQueryOnClosedActor,
  isQueryOnContinuedRun,
  toSessionError,
} from './failures';

export class SessionActorClient {
  readonly client: Client;
  readonly taskQueue: string;
  /** Queries that must not replay a closed run: rejected, so reads fall back to Postgres. */
  private readonly openOnly: WorkflowClient;
  private readonly actor: Partial<ActorConfig>;

  constructor(client: Client, taskQueue: string, actor: Partial<ActorConfig>) {
    this.client = client;
    this.taskQueue = taskQueue;
    this.actor = actor;
    this.openOnly = new WorkflowClient({
      connection: client.connection,
      namespace: client.options.namespace,
      // The same codec as the client's, or encrypted query results would not decode.
      dataConverter: client.options.dataConverter,
      queryRejectCondition: 'NOT_OPEN',
    });
  }

  /** Runs a query against the open actor; undefined when no actor is running (read Postgres instead). */
  async askActor<T>(
    sessionId: string,
    ask: (handle: ReturnType<WorkflowClient['getHandle']>) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      // A busy actor (loading, or applying turns received before this query), or a run that continued as new under
      // the query, is asked again: answering from Postgres then could miss an acknowledged write.
      return await backOff(() => ask(this.openOnly.getHandle(sessionWorkflowId(sessionId))), {
        numOfAttempts: 20,
        startingDelay: 5,
        maxDelay: 250,
        retry: (err) => isActorBusy(err) || isQueryOnContinuedRun(err),
      });
    } catch (err) {
      if (isQueryOnClosedActor(err) || isActorGone(err)) return undefined;
      throw toSessionError(err, sessionId);
    }
  }

  /** Retries the short window in which a command meets a run that is completing; maps failures to typed errors. */
  async retryingActor<T>(sessionId: string, call: () => Promise<T>, healed = false): Promise<T> {
    try {
      return await backOff(call, {
        numOfAttempts: 12,
        startingDelay: 10,
        maxDelay: 500,
        jitter: 'full',
        retry: (err) => isActorGone(err),
      });
    } catch (err) {
      // A run that cannot decode its history (keys per session: a write under a key destroyed meanwhile) belongs
      // to a deleted incarnation: ended, the command starts a new one. Once per command.
      if (!healed && isActorTaskFailing(err)) {
        const ended = await terminateErasedRun(this.client, sessionWorkflowId(sessionId)).catch(() => false);
        if (ended) return this.retryingActor(sessionId, call, true);
      }
      throw toSessionError(err, sessionId);
    }
  }

  startOperation(sessionId: string) {
    return new WithStartWorkflowOperation(SESSION_WORKFLOW_TYPE, {
      workflowId: sessionWorkflowId(sessionId),
      taskQueue: this.taskQueue,
      args: [this.actorInput(sessionId)],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: summaryOf(sessionId),
    });
  }

  actorInput(sessionId: string): SessionActorInput {
    return {
      session_id: sessionId,
      idle_timeout_ms: this.actor.idleTimeoutMs,
      continue_as_new_after: this.actor.continueAsNewAfter,
      remember_turn_ids: this.actor.rememberTurnIds,
      persist_delay_ms: this.actor.persistDelayMs,
      persist_every: this.actor.persistEvery,
      ...(this.actor.persistLeadingEdge === false ? { persist_leading_edge: false } : {}),
      ...(this.actor.removeLocally ? { remove_locally: true } : {}),
    };
  }
}

export function summaryOf(sessionId: string): string {
  return `Session ${sessionId}`;
}
