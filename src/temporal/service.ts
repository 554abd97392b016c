// TemporalSessionService: the product. Every change is one command to the session's actor (update-with-start);
// reads ask the running actor and fall back to the Postgres snapshot; lists and transcripts read Postgres; watchers
// long-poll the actor.
import { randomUUID } from 'node:crypto';
import { Client, WithStartWorkflowOperation, WorkflowClient } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { backOff } from 'exponential-backoff';
import type { Pool } from 'pg';
import { SessionKeyCodec, sealedKeysOf } from '../codec/session-key-codec';
import type { SessionKeyStore } from '../codec/session-keys';
import type { ActorConfig } from '../config';
import { listSummaries, loadSnapshot } from '../postgres/snapshots';
import { readTranscript } from '../postgres/transcript';
import { SessionNotFoundError, ValidationError } from '../errors';
import {
  type ChangesAnswer,
  type ChangesOptions,
  type CommandCapableService,
  type CommandOptions,
  type DeleteOptions,
  type ForkCapable,
  type ForkOptions,
  type TranscriptCapable,
  type Watchable,
  type WatchOptions,
  withExpectedOwner,
} from '../service';
import { type SessionChange, fromWireChange } from '../session-changes';
import { watchChanges } from '../watch';
import {
  SessionCommand,
  recentMessages,
  validateCommand,
  validateContent,
  validateAgentType,
  validateRetentionDays,
  validateSessionId,
  validateTurnId,
  validateUserId,
} from '../session-rules';
import {
  CommandResult,
  CommandVersion,
  ConversationContext,
  ListOptions,
  Message,
  SessionPage,
  SessionSummary,
  TranscriptOptions,
  TranscriptPage,
  copyContext,
  fromWireContext,
  fromWireMessage,
} from '../types';
import {
  EPHEMERAL_UPDATE_ID_PREFIX,
  type CommandAck,
  SessionActorInput,
  TurnOutcome,
  type AwaitChangesArgs,
  awaitChangesUpdate,
  contextQuery,
  deleteSessionUpdate,
  recentMessagesQuery,
  sessionWorkflowId,
  snapshotQuery,
  turnSignal,
  turnStatusQuery,
  SESSION_WORKFLOW_TYPE,
} from '../../workflows/messages';
import type { CleanupConfig, CleanupScheduler } from '../retention/job';
import {
  cleanupScheduleId,
  ensureCleanupSchedule,
  pauseCleanupSchedule,
  runCleanup,
  triggerCleanupSchedule,
  unpauseCleanupSchedule,
} from '../retention/schedule';
import { toWireUpdate } from '../../workflows/wire-commands';
import { eraseRunsThrough, eraseWorkflowHistories } from '../retention/erasure';
import { destroyOnceClosed } from '../retention/retired-keys';
import { terminateErasedRun } from './erased-runs';
import {
  isActorBusy,
  isActorGone,
  isActorTaskFailing,
  isQueryOnClosedActor,
  isQueryOnContinuedRun,
  toSessionError,
} from './failures';

export interface TemporalSessionServiceOptions {
  client: Client;
  /** Postgres holding the snapshots (the worker's activities write them). */
  pool: Pool;
  taskQueue: string;
  actor?: Partial<ActorConfig>;
}

export interface DurableTurnOptions {
  turnId?: string;
  agentType?: string;
  /** The session's owner: creates the session for this user when it does not exist yet. */
  userId?: number;
  /**
   * The owner the caller acts for, without creating: the actor rejects the turn (session_conflict) when the
   * session belongs to someone else, and (session_not_found) when there is none.
   */
  expectedUserId?: number;
}

export class TemporalSessionService
  implements CommandCapableService, ForkCapable, TranscriptCapable, Watchable
{
  private readonly client: Client;
  /** Queries that must not replay a closed run: rejected, so reads fall back to Postgres. */
  private readonly openOnly: WorkflowClient;
  private readonly pool: Pool;
  private readonly taskQueue: string;
  private readonly actor: Partial<ActorConfig>;

  constructor(options: TemporalSessionServiceOptions) {
    this.client = options.client;
    this.pool = options.pool;
    this.taskQueue = options.taskQueue;
    this.actor = options.actor ?? {};
    this.openOnly = new WorkflowClient({
      connection: options.client.connection,
      namespace: options.client.options.namespace,
      // The same codec as the client's, or encrypted query results would not decode.
      dataConverter: options.client.options.dataConverter,
      queryRejectCondition: 'NOT_OPEN',
    });
  }

  /** Applies one command in the session's actor and answers once it is applied (the "applied" acknowledgement). */
  async execute(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions = {},
  ): Promise<CommandResult> {
    const ack = await this.applied(sessionId, command, options, false);
    if (!ack.context) throw new Error(`session actor ${sessionId} answered without the session`);
    return { version: ack.version, context: fromWireContext(ack.context) };
  }

  /**
   * Like execute, answering with the version only: the session after the command does not travel back (the
   * update's completion in the history holds a few bytes instead of the whole window).
   */
  async commit(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions = {},
  ): Promise<CommandVersion> {
    return { version: (await this.applied(sessionId, command, options, true)).version };
  }

  private async applied(
    sessionId: string,
    command: SessionCommand,
    options: CommandOptions,
    versionOnly: boolean,
  ): Promise<CommandAck> {
    validateSessionId(sessionId);
    const owned = withExpectedOwner(command, options);
    validateCommand(owned);
    if (options.turnId !== undefined) validateTurnId(options.turnId);
    // The turn id travels in the arguments, and the update id is ephemeral (kept out of the turn id memory): the
    // actor remembers applied turn ids only, while Temporal would answer a retry with the same update id in the same
    // run with its first outcome, even a "not found" that a re-created session has since made wrong.
    const updateId = `${EPHEMERAL_UPDATE_ID_PREFIX}${randomUUID()}`;
    const [update, args] = toWireUpdate(owned, options.turnId, versionOnly);
    // One key lookup for the whole call (keys per session): the start's input and the update's arguments alike.
    const { result } = await sealedKeysOf(() =>
      this.retryingActor(sessionId, () =>
        this.client.workflow.executeUpdateWithStart(update, {
          args: [args as never],
          updateId,
          startWorkflowOperation: this.startOperation(sessionId),
        }),
      ),
    );
    return result;
  }

  /**
   * The "durable" acknowledgement: resolves once Temporal has persisted the turn (signal-with-start); the actor
   * applies it once by turn id. Validated here with the same rules, so a turn that resolves will be applied,
   * except on a missing session without `userId` (see `turnStatus`).
   */
  async submitTurn(
    sessionId: string,
    user: string,
    assistant: string,
    options: DurableTurnOptions = {},
  ): Promise<string> {
    validateSessionId(sessionId);
    validateContent('user', user);
    validateContent('assistant', assistant);
    if (options.agentType !== undefined) validateAgentType(options.agentType);
    if (options.userId !== undefined) validateUserId(options.userId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const turnId = options.turnId ?? randomUUID();
    validateTurnId(turnId);
    const { sealed } = await sealedKeysOf(() =>
      this.retryingActor(sessionId, () =>
        this.client.workflow.signalWithStart(SESSION_WORKFLOW_TYPE, {
          workflowId: sessionWorkflowId(sessionId),
          taskQueue: this.taskQueue,
          args: [this.actorInput(sessionId)],
          signal: turnSignal,
          signalArgs: [
            {
              turn_id: turnId,
              user,
              assistant,
              agent_type: options.agentType,
              user_id: options.userId,
              expected_user_id: options.expectedUserId,
            },
          ],
          staticSummary: summaryOf(sessionId),
        }),
      ),
    );
    // With keys per session: a delete that retired the key this turn was sealed with before the actor read it would
    // leave it acknowledged here and never applied (it belonged to the deleted incarnation).
    const sealedWith = sealed.get(sessionId);
    const keys = this.sessionKeys();
    if (keys && sealedWith && !(await keys.isLive(sealedWith)))
      await this.keptDespiteDelete(sessionId, turnId);
    return turnId;
  }

  /**
   * A durable turn raced a delete of its session (its key was retired while it was sent): acknowledged only if an
   * actor applied it (a run that received it before the removal hands it to the next incarnation); otherwise the
   * session it was sent to is gone, and so is the turn.
   */
  private async keptDespiteDelete(sessionId: string, turnId: string): Promise<void> {
    const outcome = await this.turnStatus(sessionId, turnId).catch(() => ({ status: 'unknown' }) as const);
    if (outcome.status !== 'applied') throw new SessionNotFoundError(sessionId);
  }

  /** The client codec's key store when it seals payloads with a key per session (DS_CODEC_SESSION_KEYS). */
  private sessionKeys(): SessionKeyStore | undefined {
    const codecs = this.client.options.dataConverter.payloadCodecs ?? [];
    return codecs.find((c): c is SessionKeyCodec => c instanceof SessionKeyCodec)?.keys;
  }

  /** What became of a turn id in the running actor ('unknown' once it has completed or forgotten it). */
  async turnStatus(sessionId: string, turnId: string): Promise<TurnOutcome | { status: 'unknown' }> {
    validateSessionId(sessionId);
    validateTurnId(turnId);
    const status = await this.askActor(sessionId, (h) => h.query(turnStatusQuery, turnId));
    return status ?? { status: 'unknown' };
  }

  async saveContext(sessionId: string, ctx: ConversationContext): Promise<void> {
    const { context } = await this.execute(sessionId, { type: 'save', context: ctx });
    ctx.sessionId = sessionId;
    ctx.createdAt = context.createdAt;
    ctx.updatedAt = context.updatedAt;
  }

  async loadContext(sessionId: string): Promise<ConversationContext | null> {
    validateSessionId(sessionId);
    const live = await this.askActor(sessionId, (h) => h.query(contextQuery));
    if (live !== undefined) return live ? fromWireContext(live) : null;
    const stored = await loadSnapshot(this.pool, sessionId);
    return stored ? copyContext(stored.context) : null;
  }

  /** The session and its version, from its actor when one runs (else from Postgres); null when there is none. */
  async getSnapshot(sessionId: string): Promise<CommandResult | null> {
    validateSessionId(sessionId);
    const live = await this.askActor(sessionId, (h) => h.query(snapshotQuery));
    if (live !== undefined) return live && { version: live.version, context: fromWireContext(live.context) };
    const stored = await loadSnapshot(this.pool, sessionId);
    return stored && { version: stored.version, context: copyContext(stored.context) };
  }

  /**
   * The last n messages (all when n <= 0 or n >= length), within `maxBytes` of text when given; a tool call and its
   * results come whole or not at all. Null when the session does not exist.
   */
  async getRecentMessages(
    sessionId: string,
    n: number,
    options: { maxBytes?: number } = {},
  ): Promise<Message[] | null> {
    validateSessionId(sessionId);
    const { maxBytes } = options;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 0))
      throw new ValidationError('max_bytes', 'must be a non-negative integer');
    const args: [number, number?] = maxBytes === undefined ? [n] : [n, maxBytes];
    const live = await this.askActor(sessionId, (h) => h.query(recentMessagesQuery, ...args));
    if (live !== undefined) return live && live.map(fromWireMessage);
    const stored = await loadSnapshot(this.pool, sessionId);
    return stored ? recentMessages(stored.context.messages, n, maxBytes) : null;
  }

  /**
   * A new session `targetId` with the state of `sourceId` at its current version, in one command of the target's
   * actor (update-with-start); the source is read, never changed. See ForkCapable.
   */
  async forkSession(sourceId: string, targetId: string, options: ForkOptions = {}): Promise<CommandResult> {
    validateSessionId(sourceId);
    validateSessionId(targetId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const source = await this.getSnapshot(sourceId);
    if (!source || (options.expectedUserId !== undefined && source.context.userId !== options.expectedUserId))
      throw new SessionNotFoundError(sourceId);
    const owner = source.context.userId;
    return this.execute(targetId, {
      type: 'fork',
      from: { sessionId: sourceId, version: source.version },
      context: source.context,
      expectedUserId: owner,
    });
  }

  /** A page of the session's transcript, from Postgres: it trails acknowledged writes like lists do. */
  getTranscript(sessionId: string, options?: TranscriptOptions): Promise<TranscriptPage> {
    validateSessionId(sessionId);
    return readTranscript(this.pool, sessionId, options);
  }

  /**
   * One long-poll of the session's actor (the `awaitChanges` update). A session that lives only in Postgres gets its
   * actor started for it; a missing one is a SessionNotFoundError, and no actor is started for it.
   */
  async changes(sessionId: string, options: ChangesOptions = {}): Promise<ChangesAnswer> {
    validateSessionId(sessionId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const args: AwaitChangesArgs = {
      ...(options.afterVersion === undefined ? {} : { after_version: options.afterVersion }),
      ...(options.waitMs === undefined ? {} : { wait_ms: options.waitMs }),
      ...(options.expectedUserId === undefined ? {} : { expected_user_id: options.expectedUserId }),
    };
    const updateId = () => `${EPHEMERAL_UPDATE_ID_PREFIX}${randomUUID()}`;
    const handle = this.client.workflow.getHandle(sessionWorkflowId(sessionId));
    const { signal } = options;
    const call = <T>(fn: () => Promise<T>): Promise<T> =>
      signal ? this.client.withAbortSignal(signal, fn) : fn();
    const poll = () =>
      call(() => handle.executeUpdate(awaitChangesUpdate, { args: [args], updateId: updateId() }));
    // No run answered: a run that continued as new has a successor, asked again (retryingActor); a run that completed
    // wrote its snapshot first, so Postgres says whether there is a session to start an actor for.
    const ask = () =>
      this.retryingActor(sessionId, async () => {
        // A signal aborted before the call starts would not reach it (the client listens for the abort event).
        signal?.throwIfAborted();
        try {
          return await poll();
        } catch (err) {
          if (!isActorGone(err) || (await this.actorRunning(sessionId))) throw err;
          if (!(await loadSnapshot(this.pool, sessionId))) throw new SessionNotFoundError(sessionId);
          return call(() =>
            this.client.workflow.executeUpdateWithStart(awaitChangesUpdate, {
              args: [args],
              updateId: updateId(),
              startWorkflowOperation: this.startOperation(sessionId),
            }),
          );
        }
      });
    let answer: Awaited<ReturnType<typeof ask>>;
    try {
      answer = await ask();
    } catch (err) {
      // Given up by the caller: its reason, not what the cancelled call looks like (a deadline, "overloaded").
      if (signal?.aborted) throw signal.reason;
      throw err;
    }
    return {
      version: answer.version,
      bornVersion: answer.born_version,
      changes: answer.changes.map(fromWireChange),
      ...(answer.reconnect ? { reconnect: true } : {}),
    };
  }

  /** Every change of the session, in order, from its actor (see Watchable and src/watch.ts). */
  watch(sessionId: string, options: WatchOptions = {}): AsyncIterable<SessionChange> {
    validateSessionId(sessionId);
    return watchChanges((o) => this.changes(sessionId, o), options);
  }

  async listSessions(userId: number, limit: number, options?: ListOptions): Promise<SessionSummary[]> {
    return (await this.listSessionsPage(userId, limit, options)).sessions;
  }

  listSessionsPage(userId: number, limit: number, options?: ListOptions): Promise<SessionPage> {
    return listSummaries(this.pool, userId, limit, options);
  }

  /**
   * Deletes through the single writer, always: the running actor, or one started for the purpose (it loads the
   * session, deletes it with a tombstone that fences every write still in flight, and completes). Then the runs
   * that existed at that moment are erased; a session written again after the delete lives in a later run and stays.
   * With `expectedUserId`, another user's session is a SessionConflictError and is left untouched.
   */
  async deleteSession(sessionId: string, options: DeleteOptions = {}): Promise<void> {
    validateSessionId(sessionId);
    if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
    const args = options.expectedUserId === undefined ? {} : { expected_user_id: options.expectedUserId };
    const ack = await this.retryingActor(sessionId, () =>
      this.client.workflow.executeUpdateWithStart(deleteSessionUpdate, {
        args: [args],
        updateId: `${EPHEMERAL_UPDATE_ID_PREFIX}${randomUUID()}`,
        startWorkflowOperation: this.startOperation(sessionId),
      }),
    );
    // The removing run has answered, so no task of it runs again: the key its delete retired (with
    // DS_CODEC_SESSION_KEYS) is destroyed now, and this process's caches drop it.
    await destroyOnceClosed(this.pool, this.client, [{ sessionId, removedAt: 'answered' }]);
    const workflowId = sessionWorkflowId(sessionId);
    try {
      // A run recorded before the lifecycle machine does not name itself: every run of the id goes, as it used to.
      await (ack.run_id
        ? eraseRunsThrough(this.client, workflowId, ack.run_id)
        : eraseWorkflowHistories(this.client, workflowId));
    } catch (err) {
      throw toSessionError(err, sessionId);
    }
  }

  /** Runs the cleanup workflow (a unique `cleanup/manual/<uuid>` id) and returns how many sessions it deleted. */
  async cleanupExpired(retentionDays: number): Promise<number> {
    validateRetentionDays(retentionDays);
    return (await runCleanup(this.client, this.taskQueue, { retention_days: retentionDays })).deleted;
  }

  /**
   * SessionCleanupJob's scheduler on Temporal: a Schedule (one per task queue, see cleanupScheduleId) that starts
   * the cleanup workflow every interval. start() creates or updates it, unpauses it and runs one cleanup now;
   * stop() pauses it; runOnce() runs the cleanup workflow and waits for its count.
   */
  cleanupScheduler(config: CleanupConfig): CleanupScheduler {
    const scheduleId = cleanupScheduleId(this.taskQueue);
    return {
      start: async () => {
        await ensureCleanupSchedule(this.client, {
          scheduleId,
          taskQueue: this.taskQueue,
          retentionDays: config.retentionDays,
          intervalMs: config.cleanupIntervalMs,
        });
        await unpauseCleanupSchedule(this.client, scheduleId);
        await triggerCleanupSchedule(this.client, scheduleId);
      },
      stop: () => pauseCleanupSchedule(this.client, scheduleId),
      runOnce: () => this.cleanupExpired(config.retentionDays),
    };
  }

  /** Runs a query against the open actor; undefined when no actor is running (read Postgres instead). */
  private async askActor<T>(
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

  /** Whether the session's actor has a run that is running now (its latest run). */
  private async actorRunning(sessionId: string): Promise<boolean> {
    try {
      const { status } = await this.client.workflow.getHandle(sessionWorkflowId(sessionId)).describe();
      return status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** Retries the short window in which a command meets a run that is completing; maps failures to typed errors. */
  private async retryingActor<T>(sessionId: string, call: () => Promise<T>, healed = false): Promise<T> {
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

  private startOperation(sessionId: string) {
    return new WithStartWorkflowOperation(SESSION_WORKFLOW_TYPE, {
      workflowId: sessionWorkflowId(sessionId),
      taskQueue: this.taskQueue,
      args: [this.actorInput(sessionId)],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: summaryOf(sessionId),
    });
  }

  private actorInput(sessionId: string): SessionActorInput {
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

function summaryOf(sessionId: string): string {
  return `Session ${sessionId}`;
}
