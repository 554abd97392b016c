// The session actor: one long-lived workflow per session, the single writer of its state. This file wires the
// lifecycle machine (lifecycle.ts) to Temporal: handlers queue commands in one serial order, the queue applies them
// through ActorState (the rules module), and the main loop persists, continues-as-new, hands over and completes.
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetryPolicy, UpdateDefinition } from '@temporalio/common';
import type { SessionActivities } from '../activities';
import {
  SessionConflictError,
  SessionError,
  SessionNotFoundError,
  StorageError,
  ValidationError,
} from '../src/errors';
import {
  SessionCommand,
  recentMessages,
  validateCommand,
  validateSessionId,
  validateTurnId,
  validateUserId,
} from '../src/session-rules';
import { toWireContext, toWireMessage } from '../src/types';
import { ActorState } from './actor-state';
import { legacySessionActor } from './legacy-session-actor';
import {
  type Admission,
  type CommandClass,
  type LifecycleEvent,
  type Phase,
  PERMANENT_STORAGE_FAILURE,
  admit,
  endReason,
  nextStep,
  readable,
  transition,
} from './lifecycle';
import {
  ACTOR_BUSY,
  ACTOR_CLOSING,
  ERASED_PAYLOAD,
  HeldRunSinks,
  isErasedPayload,
  CommandAck,
  CommandMeta,
  EPHEMERAL_UPDATE_ID_PREFIX,
  Owned,
  SESSION_STORAGE_FAILED,
  SessionActorInput,
  SessionActorResult,
  TurnSignalArgs,
  appendMessageUpdate,
  appendMessagesUpdate,
  appendTurnUpdate,
  clearMessagesUpdate,
  configureSessionUpdate,
  contextQuery,
  deleteSessionUpdate,
  drainSignal,
  expireSessionUpdate,
  forkSessionUpdate,
  recentMessagesQuery,
  recoverSessionUpdate,
  saveContextUpdate,
  snapshotQuery,
  statusQuery,
  turnSignal,
  turnStatusQuery,
  updateMetadataUpdate,
} from './messages';
import { registerWatchers } from './watchers';
import { toFailure, wireCommands } from './wire-commands';

// Postgres work runs as regular activities, eagerly dispatched to this worker (RELIABILITY.md, bug 3: a local
// activity retried across failed workflow tasks left runs nondeterministic). Transient failures (Postgres down,
// connections, contention) are retried for as long as it takes, while acknowledged commands stay durable in
// Temporal; a permanent one (PERMANENT_STORAGE_FAILURE, raised non-retryable by the activity) moves the actor to
// its failed state instead.
const RETRY: RetryPolicy = {
  initialInterval: '100 milliseconds',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
  nonRetryableErrorTypes: [PERMANENT_STORAGE_FAILURE],
};
const db = proxyActivities<SessionActivities>({ startToCloseTimeout: '10 seconds', retry: RETRY });
/** Tells the worker which runs it holds, so that a stopping worker can send them elsewhere (drainSignal). */
const { heldRuns } = proxySinks<HeldRunSinks>();
/** The removal with keys per session (input.remove_locally): in the workflow task that answers it. */
const dbLocal = proxyLocalActivities<SessionActivities>({ startToCloseTimeout: '10 seconds', retry: RETRY });

const DEFAULTS = {
  idleTimeoutMs: 10 * 60 * 1000,
  continueAsNewAfter: 500,
  rememberTurnIds: 256,
  persistDelayMs: 1000,
  persistEvery: 16,
};

/**
 * How long a run that holds no session (a write to a missing one, refused) waits for a command before it ends:
 * seconds, not the idle timeout, so writes to made-up ids do not keep a cached run each.
 */
const EMPTY_IDLE_TIMEOUT_MS = 5_000;
/** Patch id of that short idle: runs recorded before it idle for the whole timeout. */
const EMPTY_RUNS_END_SOON = 'empty-runs-end-soon';

/**
 * Patch id of the leading-edge write: a change after a quiet window is written at once, in the task that applies it,
 * and only changes within the window after a write wait (one timer) to coalesce. Runs recorded before it wait the
 * whole window before every write.
 */
const PERSIST_LEADING_EDGE = 'persist-leading-edge';

/** Patch id of the lifecycle machine: runs recorded before it replay with legacySessionActor. */
const LIFECYCLE_MACHINE = 'lifecycle-machine';

/**
 * One patch id for the three above, recorded once at the run's start: each `patched()` a run records costs a marker
 * and a `TemporalChangeVersion` search-attribute upsert (a billed action), so a new run records this one only. Runs
 * recorded before it (no such marker) ask for the three as they did.
 */
const ACTOR_PATCHES_2026_12 = 'actor-patches-2026-12';

type Removal = { kind: 'delete'; expectedUserId?: number } | { kind: 'expire'; cutoff: number };

/** One command in the actor's serial order. Updates carry their answer's resolvers; signals need none. */
type Queued =
  | {
      kind: 'command';
      command: SessionCommand;
      /** The turn id it is remembered by: the args' turn_id, else a non-ephemeral update id. */
      turnId?: string;
      /** The caller asked for the version only (`answer: 'version'`): the ack carries no session. */
      versionOnly: boolean;
      resolve: (ack: CommandAck) => void;
      reject: (err: unknown) => void;
    }
  | { kind: 'turn'; args: TurnSignalArgs }
  | {
      kind: 'removal';
      removal: Removal;
      resolve: (answer: { removed: boolean; runId: string }) => void;
      reject: (err: unknown) => void;
    };

const erasedFailure = (): ApplicationFailure =>
  ApplicationFailure.create({
    type: ERASED_PAYLOAD,
    message: 'sent under a destroyed session key: it belonged to a deleted incarnation of the session',
    nonRetryable: true,
  });
const closingFailure = (): ApplicationFailure =>
  ApplicationFailure.create({ type: ACTOR_CLOSING, message: 'actor is completing; retry' });

const storageFailure = (phase: Phase): ApplicationFailure =>
  ApplicationFailure.create({
    type: SESSION_STORAGE_FAILED,
    message:
      phase.name === 'failed'
        ? `the session's storage failed permanently (${phase.during}, ${phase.code}): ${phase.message}`
        : "the session's storage failed permanently",
    nonRetryable: true,
  });

/** A refusal of the lifecycle, as the failure an update answers with. */
function refusal(admission: Admission, phase: Phase, sessionId: string): Error {
  if (admission === 'refuse-failed') return storageFailure(phase);
  if (admission === 'not-found') return toFailure(new SessionNotFoundError(sessionId));
  return closingFailure();
}

function classOf(command: SessionCommand): CommandClass {
  return command.type === 'save' || command.type === 'recover' || command.type === 'fork'
    ? 'create'
    : 'change';
}

/** The code and message of a permanent storage failure, or null for anything else. */
function permanentFailure(err: unknown): { code: string; message: string } | null {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (!(cause instanceof ApplicationFailure) || cause.type !== PERMANENT_STORAGE_FAILURE) return null;
  const code = (cause.details?.[0] as { code?: string } | undefined)?.code ?? 'unknown';
  return { code, message: cause.message };
}

export async function sessionActor(input: SessionActorInput): Promise<SessionActorResult> {
  // A run started by a write under a destroyed session key (keys per session): it belongs to the deleted
  // incarnation. Failing it closes the run; the next write starts a new one.
  if (isErasedPayload(input)) throw erasedFailure();
  const folded = patched(ACTOR_PATCHES_2026_12);
  if (!folded && !patched(LIFECYCLE_MACHINE)) return legacySessionActor(input);
  const sessionId = input.session_id;
  validateSessionId(sessionId);
  const idleTimeoutMs = input.idle_timeout_ms ?? DEFAULTS.idleTimeoutMs;
  const continueAsNewAfter = input.continue_as_new_after ?? DEFAULTS.continueAsNewAfter;
  const persistDelayMs = input.persist_delay_ms ?? DEFAULTS.persistDelayMs;
  const persistEvery = input.persist_every ?? DEFAULTS.persistEvery;
  /** Decided at the run's first delayed write (the patch is recorded there, not in runs that never write). */
  let leadingEdge: boolean | undefined;
  /** Workflow time of this run's last snapshot write (none yet: its first one may go at once). */
  let lastWriteAt = -Infinity;
  /** The actor chain: stable across continue-as-new, new for every fresh start. Postgres records it as holder. */
  const holder = workflowInfo().firstExecutionRunId;
  const state = new ActorState(
    sessionId,
    input.remember_turn_ids ?? DEFAULTS.rememberTurnIds,
    Date.now(),
    input.carried,
  );

  // Typed as the whole union: handlers change it between awaits, which control-flow narrowing cannot see.
  let phase = (input.carried ? { name: 'active' } : { name: 'loading' }) as Phase;
  let indexed = { userId: NaN, agentType: '\u0000' };
  /** Commands refused or answered without a change in this run (they count towards the run's size too). */
  let handledUnchanged = 0;

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
    const status =
      phase.name === 'failed'
        ? `**failed** (${phase.during}, ${phase.code}) · `
        : phase.name === 'removed'
          ? `**${phase.reason}** · `
          : '';
    setCurrentDetails(status + state.details());
  };
  const move = (event: LifecycleEvent): void => {
    phase = transition(phase, event);
    describe();
  };

  // ---- one serial order: every command waits in `queue` behind the ones before it ---------------------------
  // Sync commands are applied where they are taken from the queue; a removal awaits its activity while the queue
  // waits behind it (`busy`), so no command ever interleaves with another across an await.
  const queue: Queued[] = [];
  let queuedTurns = 0;
  let busy = false;

  const pump = (): void => {
    while (!busy && phase.name !== 'loading' && queue.length > 0) {
      const item = queue.shift() as Queued;
      if (item.kind === 'turn') {
        queuedTurns--;
        applyTurn(item.args);
      } else if (item.kind === 'command') applyCommandItem(item);
      else {
        busy = true;
        void remove(item).then(() => {
          busy = false;
          pump();
        });
      }
    }
  };
  const submit = (item: Queued): void => {
    queue.push(item);
    if (item.kind === 'turn') queuedTurns++;
    pump();
  };

  const applyCommandItem = (item: Extract<Queued, { kind: 'command' }>): void => {
    const { command, turnId: remembered } = item;
    const ack = (version: number, context: Parameters<typeof toWireContext>[0]): CommandAck =>
      item.versionOnly ? { version } : { version, context: toWireContext(context) };
    const seen = remembered ? state.turnOutcome(remembered) : undefined;
    if (seen?.status === 'applied' && state.snapshot) {
      handledUnchanged++;
      item.resolve(ack(seen.version, state.snapshot.context));
      return;
    }
    const admission = admit(phase, classOf(command));
    if (admission !== 'apply') {
      handledUnchanged++;
      item.reject(refusal(admission, phase, sessionId));
      return;
    }
    try {
      const result = state.apply(command, Date.now());
      if (result.changed) describe();
      else handledUnchanged++;
      if (remembered) state.rememberTurn(remembered, { status: 'applied', version: result.snapshot.version });
      item.resolve(ack(result.snapshot.version, result.snapshot.context));
    } catch (err) {
      item.reject(toFailure(err));
    }
  };

  // Durable turns: acknowledged by Temporal on receipt, so nothing may throw here; a turn that breaks the rules is
  // recorded as rejected (visible through turnStatus), never applied. `user_id` is the owner the turn acts for.
  const applyTurn = (args: TurnSignalArgs): void => {
    const turnId = typeof args?.turn_id === 'string' ? args.turn_id : '';
    // Applied once; a rejected turn sent again (say, after its session was created) is tried again.
    if (turnId && state.turnOutcome(turnId)?.status === 'applied') return;
    const reject = (e: SessionError): void => {
      handledUnchanged++;
      if (turnId) state.rememberTurn(turnId, { status: 'rejected', code: e.code, message: e.message });
    };
    const admission = admit(phase, args?.user_id !== undefined ? 'creating-turn' : 'turn');
    if (admission === 'successor') {
      state.handedOver.push(args);
      return;
    }
    if (admission !== 'apply') {
      reject(
        admission === 'not-found' ? new SessionNotFoundError(sessionId) : new StorageError('session failed'),
      );
      return;
    }
    try {
      validateTurnId(turnId);
      if (args.user_id !== undefined) validateUserId(args.user_id);
      if (
        args.user_id !== undefined &&
        args.expected_user_id !== undefined &&
        args.user_id !== args.expected_user_id
      )
        throw new ValidationError('user_id', 'must equal expected_user_id when both are sent');
      const owner = args.expected_user_id ?? args.user_id;
      const command: SessionCommand = {
        ...wireCommands.appendTurn(args),
        ...(owner === undefined ? {} : { expectedUserId: owner }),
      };
      validateCommand(command);
      if (!state.snapshot && args.user_id !== undefined) {
        const create = wireCommands.recover({ user_id: args.user_id, agent_type: args.agent_type });
        validateCommand(create);
        state.apply(create, Date.now());
      }
      const result = state.apply(command, Date.now());
      describe();
      state.rememberTurn(turnId, { status: 'applied', version: result.snapshot.version });
    } catch (err) {
      reject(err instanceof SessionError ? err : new SessionError('internal', String(err)));
    }
  };

  /** Delete or expire: the session's row goes with a tombstone, through this single writer. Never throws. */
  const remove = async (item: Extract<Queued, { kind: 'removal' }>): Promise<void> => {
    const { removal } = item;
    const runId = workflowInfo().runId;
    try {
      if (phase.name === 'removed' || phase.name === 'ending') {
        // Already gone in this run: a second delete is answered as done, an expiry as nothing to do.
        item.resolve({ removed: removal.kind === 'delete', runId });
        return;
      }
      if (removal.kind === 'delete') {
        const owner = state.ownerId;
        if (removal.expectedUserId !== undefined && owner !== undefined && owner !== removal.expectedUserId) {
          item.reject(toFailure(new SessionConflictError(sessionId)));
          return;
        }
      } else {
        // Postgres may lag the actor but never leads it, so the actor's updatedAt decides.
        const updatedAt = state.updatedAt;
        if (updatedAt === undefined || updatedAt >= removal.cutoff) {
          item.resolve({ removed: false, runId });
          return;
        }
      }
      const summary = removal.kind === 'delete' ? 'delete session (tombstone)' : 'expire session (tombstone)';
      const tombstone = await (input.remove_locally ? dbLocal : db).removeSession.executeWithOptions(
        { summary },
        [sessionId, state.highestVersion],
      );
      state.removed(tombstone);
      move({ type: 'removed', reason: removal.kind === 'delete' ? 'deleted' : 'expired' });
      item.resolve({ removed: true, runId });
    } catch (err) {
      const permanent = permanentFailure(err);
      item.reject(
        permanent
          ? ApplicationFailure.create({
              type: SESSION_STORAGE_FAILED,
              message: permanent.message,
              nonRetryable: true,
            })
          : toFailure(err),
      );
    }
  };

  // ---- handlers: each hands its command to the queue ----------------------------------------------------------
  // Turns handed over by the run that removed the session come first: they were received before anything here
  // (updates and signals that reached this run before its handlers were registered are dispatched at setHandler).
  for (const args of input.carried?.handed_over ?? []) submit({ kind: 'turn', args });
  // The turn handler is registered before the update handlers: signals and updates that reached a new run before its
  // handlers existed are dispatched in registration order, and a durable turn acknowledged before an update was sent
  // must be applied before it (found by the reliability suite's long session, at a continue-as-new). Among commands
  // that waited together, signals first is always safe: an update is acknowledged only once applied.
  // Synchronous on purpose: a worker that was away gets every turn acknowledged meanwhile in ONE activation (up to
  // the run's signal limit), and each promise a handler creates costs the SDK a stack-trace capture; past the 5 s
  // deadlock limit the worker process aborted (RELIABILITY.md, bug 3).
  // A durable turn under a destroyed session key belonged to the deleted incarnation: dropped, never applied.
  setHandler(turnSignal, (args) => {
    if (!isErasedPayload(args)) submit({ kind: 'turn', args });
  });

  /** The turn id a command update is remembered by: its `turn_id`, else its update id unless that is ephemeral. */
  const turnIdOf = (args: CommandMeta | null): string | undefined => {
    if (args?.turn_id !== undefined) return args.turn_id;
    const updateId = currentUpdateInfo()?.id;
    return updateId && !updateId.startsWith(EPHEMERAL_UPDATE_ID_PREFIX) ? updateId : undefined;
  };

  /** One update per command: validated before history (and refused there when the phase refuses it), then queued. */
  const register = <A extends CommandMeta>(
    def: UpdateDefinition<CommandAck, [A]>,
    toCommand: (args: A) => SessionCommand,
  ): void =>
    setHandler(
      def,
      (args: A): Promise<CommandAck> =>
        new Promise((resolve, reject) =>
          submit({
            kind: 'command',
            command: toCommand(args),
            turnId: turnIdOf(args),
            versionOnly: (args as CommandMeta | null)?.answer === 'version',
            resolve,
            reject,
          }),
        ),
      {
        validator: (args: A): void => {
          if (isErasedPayload(args)) throw erasedFailure();
          try {
            const updateId = currentUpdateInfo()?.id;
            if (updateId) validateTurnId(updateId);
            const turnId = (args as CommandMeta | null)?.turn_id;
            if (turnId !== undefined) validateTurnId(turnId);
            const command = toCommand(args);
            validateCommand(command);
            // Refused before history when the phase already decides it (nothing queued could change that answer
            // except a removal, which only makes more commands refused).
            const admission = admit(phase, classOf(command));
            if (admission !== 'apply' && admission !== 'wait') throw refusal(admission, phase, sessionId);
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
  register(appendMessagesUpdate, wireCommands.appendMessages);
  register(configureSessionUpdate, wireCommands.configure);
  register(forkSessionUpdate, (a) => wireCommands.fork(sessionId, a));

  const removalUpdate = (removal: Removal) =>
    new Promise<{ removed: boolean; runId: string }>((resolve, reject) =>
      submit({ kind: 'removal', removal, resolve, reject }),
    );
  setHandler(
    deleteSessionUpdate,
    async (args: Owned) => {
      const { runId } = await removalUpdate({ kind: 'delete', expectedUserId: args?.expected_user_id });
      return { deleted: true, run_id: runId };
    },
    {
      validator: (args): void => {
        if (isErasedPayload(args)) throw erasedFailure();
        const expected = (args as Owned | null)?.expected_user_id;
        if (expected !== undefined)
          try {
            validateUserId(expected);
          } catch {
            throw toFailure(new ValidationError('expected_user_id', 'must be a 32-bit integer'));
          }
      },
    },
  );
  setHandler(
    expireSessionUpdate,
    async ({ cutoff }) => {
      const { removed, runId } = await removalUpdate({ kind: 'expire', cutoff });
      return { expired: removed, run_id: runId };
    },
    {
      // A raw message without a numeric cutoff is refused before history; in the handler it would fail the
      // workflow task and stall the session (found by the bad-input test at full size).
      validator: (args): void => {
        if (isErasedPayload(args)) throw erasedFailure();
        const cutoff: unknown = (args as { cutoff?: unknown } | null)?.cutoff;
        if (typeof cutoff !== 'number' || !Number.isFinite(cutoff))
          throw toFailure(new ValidationError('cutoff', 'must be a finite number of Unix seconds'));
      },
    },
  );

  // Read-your-writes: a query must reflect every signal acknowledged before it. Until the state is loaded, or while
  // a received turn waits in the queue, the answer would be stale: the query fails as busy and the client asks again.
  const current = () => {
    const how = readable(phase);
    if (how === 'busy' || queuedTurns > 0) throw new Error(ACTOR_BUSY);
    if (how === 'failed') throw storageFailure(phase);
    return state.snapshot;
  };
  setHandler(contextQuery, () => {
    const s = current();
    return s ? toWireContext(s.context) : null;
  });
  setHandler(recentMessagesQuery, (n, maxBytes) => {
    const s = current();
    return s ? recentMessages(s.context.messages, n, maxBytes ?? Infinity).map(toWireMessage) : null;
  });
  setHandler(snapshotQuery, () => {
    const s = current();
    return s ? { version: s.version, context: toWireContext(s.context) } : null;
  });
  setHandler(turnStatusQuery, (turnId) => {
    current();
    return state.turnOutcome(turnId) ?? { status: 'unknown' };
  });
  setHandler(statusQuery, () => ({
    exists: state.snapshot !== null,
    version: state.snapshot?.version ?? 0,
    persisted_version: state.persistedVersion,
    commands_this_run: state.commandsThisRun,
    closing: phase.name === 'ending' || phase.name === 'removed',
    state: phase.name,
    ...(phase.name === 'failed'
      ? { failure: { during: phase.during, code: phase.code, message: phase.message } }
      : {}),
  }));

  /** Set while the run waits to end: watchers are answered at once and ask the next run. */
  let releasing = false;
  registerWatchers({
    sessionId,
    state,
    phase: () => phase,
    settled: () => queuedTurns === 0,
    releasing: () => releasing,
    readFailure: () => (readable(phase) === 'failed' ? storageFailure(phase) : null),
    answered: () => handledUnchanged++,
  });
  // The worker that holds this run is stopping: a new run, which starts on a worker that still polls (registered last,
  // so the order in which a run's first task dispatches buffered commands is the one above).
  let drainRequested = false;
  setHandler(drainSignal, () => {
    drainRequested = true;
  });
  heldRuns.holds();

  // ---- load --------------------------------------------------------------------------------------------------
  if (!input.carried) {
    try {
      const claim = await db.claimSession.executeWithOptions({ summary: 'load session' }, [
        sessionId,
        holder,
      ]);
      state.hydrateClaim(claim);
      move(
        claim.kind === 'corrupt'
          ? { type: 'storageFailed', during: 'load', code: 'corrupt', message: claim.reason }
          : { type: 'loaded' },
      );
    } catch (err) {
      const permanent = permanentFailure(err);
      if (!permanent) throw err;
      move({ type: 'storageFailed', during: 'load', ...permanent });
    }
  } else describe();
  pump();

  // One idle timer per idle period (not per command): it re-arms for the remaining time while work goes on. A run
  // holding no session idles for seconds only (runs recorded before that patch: the whole timeout).
  const emptyRunsEndSoon = folded || patched(EMPTY_RUNS_END_SOON);
  const idleLimitMs = (): number =>
    emptyRunsEndSoon && !state.snapshot ? Math.min(idleTimeoutMs, EMPTY_IDLE_TIMEOUT_MS) : idleTimeoutMs;
  let idle = false;
  const watchIdle = async (): Promise<void> => {
    for (;;) {
      const remaining = state.lastActivityMs + idleLimitMs() - Date.now();
      if (remaining <= 0) {
        idle = true;
        return;
      }
      await sleep(remaining);
    }
  };
  void watchIdle();

  const step = () =>
    nextStep(phase, {
      dirty: state.dirty,
      idle,
      newRunDue:
        state.commandsThisRun + handledUnchanged >= continueAsNewAfter ||
        workflowInfo().continueAsNewSuggested ||
        drainRequested,
      handedOver: state.handedOver.length,
    });
  /** Nothing queued, running or unanswered: the run may end here. */
  const quiet = (): boolean => queue.length === 0 && !busy && allHandlersFinished();

  for (;;) {
    await condition(() => step() !== 'wait');
    const next = step();
    if (next === 'persist') {
      // After a quiet window a change is written at once: the task that applies it schedules the write (a regular
      // activity, so the answer does not wait for it; a local activity there cost 1.57x the Update floor). Within the
      // window after a write, changes wait for its end and coalesce into one write; a burst writes once
      // `persistEvery` versions wait.
      const flushNow = (): boolean => step() !== 'persist' || idle || state.versionsBehind >= persistEvery;
      if (persistDelayMs > 0 && !flushNow()) {
        leadingEdge ??= input.persist_leading_edge !== false && (folded || patched(PERSIST_LEADING_EDGE));
        const waitMs = leadingEdge ? lastWriteAt + persistDelayMs - Date.now() : persistDelayMs;
        if (waitMs > 0) await condition(flushNow, waitMs);
      }
      const snapshot = state.snapshot;
      if (!snapshot || step() !== 'persist') continue;
      const born = state.bornVersion;
      // The transcript that entered the window since the last write goes in the same transaction, under the same
      // fence; the argument is absent for sessions without one (and in runs recorded before transcripts).
      const transcript = state.transcriptBacklog();
      const pending = state.transcriptPending;
      lastWriteAt = Date.now();
      try {
        const written = await db.writeSnapshot.executeWithOptions(
          {
            summary:
              `persist snapshot v${snapshot.version}` +
              (pending > 0 ? ` + ${pending} transcript message${pending === 1 ? '' : 's'}` : ''),
          },
          transcript.length > 0 ? [snapshot, born, holder, transcript] : [snapshot, born, holder],
        );
        // A removal that ran meanwhile decided the outcome: its tombstone fenced this write, or deleted the row.
        if (phase.name !== 'active' || state.bornVersion !== born) continue;
        if (written.outcome === 'fenced') {
          // Deleted outside this actor (it never runs two writers, so this is an operator's or a bug's doing).
          state.removed(written.tombstoneVersion);
          move({ type: 'fenced' });
        } else state.markPersisted(snapshot.version);
      } catch (err) {
        const permanent = permanentFailure(err);
        if (!permanent) throw err;
        move({ type: 'storageFailed', during: 'write', ...permanent });
      }
      continue;
    }
    // Every other step ends the run: answer the watchers, wait until nothing is queued or unanswered, then decide
    // again.
    releasing = true;
    await condition(quiet);
    releasing = false;
    if (step() !== next) continue;
    if (next === 'continue-as-new' || next === 'hand-over') {
      // A run that could not load its session carries nothing: the next run loads it again (and may succeed).
      const carried = phase.name === 'failed' && phase.during === 'load' ? undefined : state.carry();
      move({ type: 'ending', reason: 'continue-as-new' });
      heldRuns.releases();
      return continueAsNew<typeof sessionActor>({ ...input, carried });
    }
    // complete: idle, failed and idle, or removed. Re-check idleness: a command may have come with the last timer.
    if (phase.name !== 'removed' && Date.now() - state.lastActivityMs < idleLimitMs()) {
      idle = false;
      void watchIdle();
      continue;
    }
    const reason = endReason(phase);
    move({ type: 'ending', reason });
    heldRuns.releases();
    const unsaved = reason === 'failed' && state.dirty && state.snapshot;
    return {
      reason,
      version: state.highestVersion,
      ...(unsaved
        ? {
            unsaved: {
              context: toWireContext(unsaved.context),
              version: unsaved.version,
              // The transcript that was never written goes with it (absent when there is none).
              ...(state.transcriptPending > 0 ? { transcript: state.transcriptBacklog() } : {}),
            },
          }
        : {}),
    };
  }
}
