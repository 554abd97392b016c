// The session actor as it ran before the lifecycle machine (issue 12), kept unchanged so that runs started by it
// replay and finish: sessionActor (session-actor.ts) calls it when its LIFECYCLE_MACHINE patch is absent from history.
// Remove it once no such run can exist (they idle out or continue as new within minutes; keep one release).
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetryPolicy, UpdateDefinition } from '@temporalio/common';
import type { SessionActivities } from '../activities';
import { SessionError, ValidationError } from '../src/errors';
import {
  SessionCommand,
  recentMessages,
  validateCommand,
  validateSessionId,
  validateTurnId,
} from '../src/session-rules';
import { toWireContext } from '../src/types';
import { ActorState } from './actor-state';
import {
  ACTOR_BUSY,
  ACTOR_CLOSING,
  CommandAck,
  SessionActorInput,
  SessionActorResult,
  appendMessageUpdate,
  appendTurnUpdate,
  clearMessagesUpdate,
  contextQuery,
  deleteSessionUpdate,
  expireSessionUpdate,
  recentMessagesQuery,
  recoverSessionUpdate,
  saveContextUpdate,
  statusQuery,
  TurnSignalArgs,
  turnSignal,
  turnStatusQuery,
  updateMetadataUpdate,
} from './messages';
import { toFailure, wireCommands } from './wire-commands';

// Postgres work runs as regular activities. Local activities (one marker event, no task dispatch) were used
// first, but one that keeps retrying holds its workflow task open: during a Postgres outage the signals arriving
// meanwhile overflowed the server's buffer (100 events), the server failed the task, the worker carried on with
// the same run while a replay would see those events merged into one activation - and the next replay of the
// session failed with a nondeterminism error (RELIABILITY.md, bug 3). A regular activity lets every task complete
// at once. Eager dispatch (same task queue) runs it on this worker without a matching round trip. Postgres outages
// are retried for as long as it takes; acknowledged commands stay durable in Temporal meanwhile.
const RETRY: RetryPolicy = {
  initialInterval: '100 milliseconds',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
};
const dbActivities = proxyActivities<SessionActivities>({ startToCloseTimeout: '10 seconds', retry: RETRY });
/** Runs recorded before REGULAR_ACTIVITIES replay with the local activities they used. */
const dbLocalActivities = proxyLocalActivities<SessionActivities>({
  startToCloseTimeout: '10 seconds',
  retry: RETRY,
});

const DEFAULTS = {
  idleTimeoutMs: 10 * 60 * 1000,
  continueAsNewAfter: 500,
  rememberTurnIds: 256,
  persistDelayMs: 1000,
  persistEvery: 16,
};

/** Patch id of the delayed, coalesced snapshot write (older runs wrote in the answering task). */
const DEBOUNCED_PERSIST = 'debounced-persist';
/** Patch id of Postgres work as regular activities (older runs used local activities). */
const REGULAR_ACTIVITIES = 'regular-activities';
/** Patch id of continue-as-new carrying unsaved changes (older runs waited for a quiet moment to persist first). */
const CARRY_UNSAVED = 'carry-unsaved';

const closingFailure = (): ApplicationFailure =>
  ApplicationFailure.create({ type: ACTOR_CLOSING, message: 'actor is completing; retry' });

export async function legacySessionActor(input: SessionActorInput): Promise<SessionActorResult> {
  const sessionId = input.session_id;
  validateSessionId(sessionId);
  const db = patched(REGULAR_ACTIVITIES) ? dbActivities : dbLocalActivities;
  const idleTimeoutMs = input.idle_timeout_ms ?? DEFAULTS.idleTimeoutMs;
  const continueAsNewAfter = input.continue_as_new_after ?? DEFAULTS.continueAsNewAfter;
  const persistDelayMs = input.persist_delay_ms ?? DEFAULTS.persistDelayMs;
  const persistEvery = input.persist_every ?? DEFAULTS.persistEvery;
  const state = new ActorState(
    sessionId,
    input.remember_turn_ids ?? DEFAULTS.rememberTurnIds,
    Date.now(),
    input.carried,
  );

  let hydrated = false;
  let exclusive = false; // held by delete/expire while their activity runs
  let closing = false;
  let endReason: SessionActorResult['reason'] = 'idle';
  let indexed = { userId: NaN, agentType: '\u0000' };

  /** Search attributes (no message text) and the UI's current details follow the state. */
  const describe = (): void => {
    const c = state.snapshot?.context;
    if (c && (c.userId !== indexed.userId || c.agentType !== indexed.agentType)) {
      upsertSearchAttributes({
        SessionId: [sessionId],
        UserId: [c.userId],
        AgentType: [c.agentType || 'none'],
      });
      indexed = { userId: c.userId, agentType: c.agentType };
    }
    setCurrentDetails(state.details());
  };

  const apply = (command: SessionCommand) => {
    const result = state.apply(command, Date.now());
    if (result.changed) describe();
    return result.snapshot;
  };

  /** Waits until the state is loaded and no exclusive command runs; refuses work once the actor is closing. */
  const ready = async (): Promise<void> => {
    await condition(() => hydrated && !exclusive);
    if (closing) throw closingFailure();
  };

  /** One update per command: validated before history, deduped by update id (the turn id), applied, answered. */
  const register = <A>(
    def: UpdateDefinition<CommandAck, [A]>,
    toCommand: (args: A) => SessionCommand,
  ): void =>
    setHandler(
      def,
      async (args: A): Promise<CommandAck> => {
        await ready();
        const turnId = currentUpdateInfo()?.id;
        const seen = turnId ? state.turnOutcome(turnId) : undefined;
        if (seen?.status === 'applied' && state.snapshot)
          return { version: seen.version, context: toWireContext(state.snapshot.context) };
        try {
          const next = apply(toCommand(args));
          if (turnId) state.rememberTurn(turnId, { status: 'applied', version: next.version });
          return { version: next.version, context: toWireContext(next.context) };
        } catch (err) {
          throw toFailure(err);
        }
      },
      {
        validator: (args: A): void => {
          if (closing) throw closingFailure();
          const turnId = currentUpdateInfo()?.id;
          try {
            if (turnId) validateTurnId(turnId);
            validateCommand(toCommand(args));
          } catch (err) {
            throw toFailure(err);
          }
        },
      },
    );

  register(saveContextUpdate, (a) => wireCommands.save(sessionId, a));
  register(recoverSessionUpdate, wireCommands.recover);
  register(appendMessageUpdate, wireCommands.appendMessage);
  register(appendTurnUpdate, wireCommands.appendTurn);
  register(clearMessagesUpdate, wireCommands.clearMessages);
  register(updateMetadataUpdate, wireCommands.updateMetadata);

  // Durable turns: acknowledged by Temporal on receipt, so nothing may throw here; a turn that breaks the
  // rules is recorded as rejected (visible through turnStatus), never applied.
  const applyTurn = (args: TurnSignalArgs): void => {
    const turnId = typeof args?.turn_id === 'string' ? args.turn_id : '';
    if (turnId && state.turnOutcome(turnId)) return;
    try {
      validateTurnId(turnId);
      const command = wireCommands.appendTurn(args);
      validateCommand(command);
      if (!state.snapshot && args.user_id !== undefined) {
        const create = wireCommands.recover({ user_id: args.user_id, agent_type: args.agent_type });
        validateCommand(create);
        apply(create);
      }
      state.rememberTurn(turnId, { status: 'applied', version: apply(command).version });
    } catch (err) {
      const e = err instanceof SessionError ? err : new SessionError('internal', String(err));
      if (turnId) state.rememberTurn(turnId, { status: 'rejected', code: e.code, message: e.message });
    }
  };
  // Turns that arrive before the state is loaded or while delete/expire holds the actor wait here, in order.
  const waitingTurns: TurnSignalArgs[] = [];
  const applyWaitingTurns = (): void => {
    while (waitingTurns.length > 0 && hydrated && !exclusive)
      applyTurn(waitingTurns.shift() as TurnSignalArgs);
  };
  // Synchronous on purpose: a worker that was away (crash, Postgres outage holding the task) gets every turn
  // acknowledged meanwhile in ONE activation - up to the run's signal limit (2,000 in our dynamic config, 10,000
  // by default) - and each promise a handler creates costs the SDK a stack-trace capture. An async handler made
  // that ~1 ms per turn; past the 5 s deadlock limit the worker process aborted (RELIABILITY.md, bug 3).
  setHandler(turnSignal, (args) => {
    if (hydrated && !exclusive && waitingTurns.length === 0) applyTurn(args);
    else waitingTurns.push(args);
  });

  // Delete and expire hold the actor exclusively while Postgres is changed, so no command interleaves.
  const endWith = async (
    reason: SessionActorResult['reason'],
    act: () => Promise<boolean>,
  ): Promise<boolean> => {
    await ready();
    exclusive = true;
    try {
      const done = await act();
      if (done) {
        state.clear();
        closing = true;
        endReason = reason;
      }
      return done;
    } finally {
      exclusive = false;
      applyWaitingTurns();
    }
  };
  setHandler(deleteSessionUpdate, async () => {
    await endWith('deleted', async () => {
      await db.deleteSnapshot.executeWithOptions({ summary: 'delete session row' }, [sessionId]);
      return true;
    });
    return { deleted: true };
  });
  setHandler(
    expireSessionUpdate,
    async ({ cutoff }) => {
      const expired = await endWith('expired', async () => {
        // Postgres may lag the actor but never leads it, so the actor's updatedAt decides; the row goes with it.
        if (!state.snapshot || state.snapshot.context.updatedAt >= cutoff) return false;
        await db.deleteSnapshot.executeWithOptions({ summary: 'delete expired session row' }, [sessionId]);
        return true;
      });
      return { expired };
    },
    {
      // A raw message without a numeric cutoff is refused before history; in the handler it would fail the
      // workflow task and stall the session (found by the bad-input test at full size).
      validator: (args): void => {
        const cutoff: unknown = (args as { cutoff?: unknown } | null)?.cutoff;
        if (typeof cutoff !== 'number' || !Number.isFinite(cutoff))
          throw toFailure(new ValidationError('cutoff', 'must be a finite number of Unix seconds'));
      },
    },
  );

  // Read-your-writes: a query must reflect every signal acknowledged before it. Until the state is loaded, or
  // while a received turn waits behind delete/expire, the answer would be stale, so the query fails as busy and
  // the client asks again.
  const loaded = () => {
    if (!hydrated || waitingTurns.length > 0) throw new Error(ACTOR_BUSY);
    return state.snapshot;
  };
  setHandler(contextQuery, () => {
    const s = loaded();
    return s ? toWireContext(s.context) : null;
  });
  setHandler(recentMessagesQuery, (n) => {
    const s = loaded();
    return s ? recentMessages(s.context.messages, n) : null;
  });
  setHandler(turnStatusQuery, (turnId) => {
    loaded();
    return state.turnOutcome(turnId) ?? { status: 'unknown' };
  });
  setHandler(statusQuery, () => ({
    exists: state.snapshot !== null,
    version: state.snapshot?.version ?? 0,
    persisted_version: state.persistedVersion,
    commands_this_run: state.commandsThisRun,
    closing,
    state: closing ? 'removed' : hydrated ? 'active' : 'loading',
  }));

  if (!input.carried) {
    state.hydrate(
      await db.loadSnapshot.executeWithOptions({ summary: 'load snapshot from Postgres' }, [sessionId]),
    );
  }
  hydrated = true;
  describe();
  applyWaitingTurns();

  // One idle timer per idle period (not per command): it re-arms for the remaining time while work goes on.
  let idle = false;
  const watchIdle = async (): Promise<void> => {
    for (;;) {
      const remaining = state.lastActivityMs + idleTimeoutMs - Date.now();
      if (remaining <= 0) {
        idle = true;
        return;
      }
      await sleep(remaining);
    }
  };
  void watchIdle();

  const dirty = (): boolean => state.dirty && !exclusive;
  const wantsNewRun = (): boolean =>
    state.commandsThisRun >= continueAsNewAfter || workflowInfo().continueAsNewSuggested;

  for (;;) {
    await condition(() => dirty() || closing || wantsNewRun() || (idle && allHandlersFinished()));
    // A run due to continue-as-new hands unsaved changes to the next run (they travel in its input) instead of
    // persisting first: under a steady stream of writes one is always waiting, so the run kept growing (measured:
    // ~1,200 commands per run at 240 durable turns/s) towards Temporal's limit of signals per run.
    const carryUnsaved = !closing && wantsNewRun() && patched(CARRY_UNSAVED);
    if (dirty() && !carryUnsaved) {
      // Delayed: commands arriving meanwhile coalesce into one write; a burst writes once `persistEvery` versions
      // are waiting. (With the older local activities this also kept Postgres out of the answering task: applied
      // p50 1.57x the Update floor with it, 1.27x without.) Runs recorded before the delay replay without it.
      const flushNow = (): boolean =>
        closing || wantsNewRun() || idle || !dirty() || state.versionsBehind >= persistEvery;
      if (persistDelayMs > 0 && !flushNow() && patched(DEBOUNCED_PERSIST))
        await condition(flushNow, persistDelayMs);
      const current = state.snapshot;
      if (!current || !dirty()) continue;
      // Changes that arrive while this write is in flight are coalesced into the next one.
      await db.persistSnapshot.executeWithOptions({ summary: `persist snapshot v${current.version}` }, [
        current,
      ]);
      state.markPersisted(current.version);
      continue;
    }
    if (closing) {
      await condition(allHandlersFinished);
      return { reason: endReason, version: 0 };
    }
    if (wantsNewRun()) {
      await condition(() => allHandlersFinished() && (carryUnsaved || !dirty()));
      if (closing || (!carryUnsaved && dirty())) continue;
      return continueAsNew<typeof legacySessionActor>({ ...input, carried: state.carry() });
    }
    // Idle: complete, unless a command slipped in while the watcher's last timer ran.
    idle = false;
    if (Date.now() - state.lastActivityMs >= idleTimeoutMs) {
      closing = true;
      return { reason: 'idle', version: state.snapshot?.version ?? 0 };
    }
    void watchIdle();
  }
}
