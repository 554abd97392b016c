// The session actor: one long-lived workflow per session, the single writer of its state.
// Handlers validate and apply commands through the rules module; the main loop persists, continues-as-new and idles out.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { UpdateDefinition } from '@temporalio/common';
import type { SessionActivities } from '../activities';
import { FAILURE_TYPES, SessionError } from '../src/errors';
import {
  SessionCommand,
  SessionSnapshot,
  applyCommand,
  nowSeconds,
  recentMessages,
  validateCommand,
  validateSessionId,
  validateTurnId,
} from '../src/session-rules';
import { fromWireContext, toWireContext } from '../src/types';
import {
  ACTOR_BUSY,
  ACTOR_CLOSING,
  CommandAck,
  SessionActorInput,
  SaveContextArgs,
  SessionActorResult,
  TurnOutcome,
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
  turnSignal,
  turnStatusQuery,
  updateMetadataUpdate,
} from './messages';

// A local activity: one marker event and no task dispatch, right for a ~1 ms upsert. Postgres outages are
// retried for as long as it takes; acknowledged commands stay durable in Temporal meanwhile.
const db = proxyLocalActivities<SessionActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

const DEFAULTS = { idleTimeoutMs: 10 * 60 * 1000, continueAsNewAfter: 500, rememberTurnIds: 256 };

export async function sessionActor(input: SessionActorInput): Promise<SessionActorResult> {
  const sessionId = input.session_id;
  validateSessionId(sessionId);
  const idleTimeoutMs = input.idle_timeout_ms ?? DEFAULTS.idleTimeoutMs;
  const continueAsNewAfter = input.continue_as_new_after ?? DEFAULTS.continueAsNewAfter;
  const rememberTurnIds = input.remember_turn_ids ?? DEFAULTS.rememberTurnIds;

  let snapshot: SessionSnapshot | null = null;
  let persistedVersion = 0;
  let hydrated = false;
  let exclusive = false; // held by delete/expire while their activity runs
  let closing = false;
  let endReason: SessionActorResult['reason'] = 'idle';
  let commandsThisRun = 0;
  let pendingTurns = 0; // durable turns received but not yet applied
  let lastActivityMs = Date.now();
  let indexed = { userId: NaN, agentType: '\u0000' };
  const turns = new Map<string, TurnOutcome>(input.carried?.turns ?? []);

  const remember = (turnId: string, outcome: TurnOutcome): void => {
    turns.delete(turnId);
    turns.set(turnId, outcome);
    while (turns.size > rememberTurnIds) turns.delete(turns.keys().next().value as string);
  };

  /** Applies one command to the state; throws SessionError subclasses for caller mistakes. */
  const apply = (command: SessionCommand): SessionSnapshot => {
    const { snapshot: next, changed } = applyCommand(sessionId, snapshot, command, nowSeconds(Date.now()));
    if (changed) {
      snapshot = next;
      commandsThisRun++;
      lastActivityMs = Date.now();
      describe();
    }
    return next;
  };

  /** Search attributes (no message text) and the UI's current details follow the state. */
  const describe = (): void => {
    if (!snapshot) return;
    const c = snapshot.context;
    if (c.userId !== indexed.userId || c.agentType !== indexed.agentType) {
      upsertSearchAttributes({ SessionId: [sessionId], UserId: [c.userId], AgentType: [c.agentType || 'none'] });
      indexed = { userId: c.userId, agentType: c.agentType };
    }
    setCurrentDetails(
      `**user** ${c.userId} · **agent** ${c.agentType || '–'} · **messages** ${c.messages.length} · ` +
        `**version** ${snapshot.version} · **last activity** ${new Date(c.updatedAt * 1000).toISOString()}`,
    );
  };

  /** Waits until the state is loaded and no exclusive command runs; refuses work once the actor is closing. */
  const ready = async (): Promise<void> => {
    await condition(() => hydrated && !exclusive);
    if (closing) throw ApplicationFailure.create({ type: ACTOR_CLOSING, message: 'actor is completing; retry' });
  };

  /** An update handler for one command: dedupe by update id (the client's turn id), apply, answer. */
  const commandHandler =
    <A>(toCommand: (args: A) => SessionCommand) =>
    async (args: A): Promise<CommandAck> => {
      await ready();
      const turnId = currentUpdateInfo()?.id;
      const seen = turnId ? turns.get(turnId) : undefined;
      if (seen?.status === 'applied' && snapshot) return { version: seen.version, context: toWireContext(snapshot.context) };
      try {
        const next = apply(toCommand(args));
        if (turnId) remember(turnId, { status: 'applied', version: next.version });
        return { version: next.version, context: toWireContext(next.context) };
      } catch (err) {
        throw toFailure(err);
      }
    };

  /** Validators reject bad input before it reaches history. */
  const validator =
    <A>(toCommand: (args: A) => SessionCommand) =>
    (args: A): void => {
      if (closing) throw ApplicationFailure.create({ type: ACTOR_CLOSING, message: 'actor is completing; retry' });
      const turnId = currentUpdateInfo()?.id;
      try {
        if (turnId) validateTurnId(turnId);
        validateCommand(toCommand(args));
      } catch (err) {
        throw toFailure(err);
      }
    };

  const register = <A>(def: UpdateDefinition<CommandAck, [A]>, toCommand: (args: A) => SessionCommand): void =>
    setHandler(def, commandHandler(toCommand), { validator: validator(toCommand) });

  // Raw fields go to the rules untouched so that validation, not a conversion, reports a malformed payload.
  register(saveContextUpdate, (a: SaveContextArgs) => ({
    type: 'save',
    context: {
      sessionId,
      userId: a?.context?.user_id,
      agentType: a?.context?.agent_type ?? '',
      messages: a?.context?.messages,
      metadata: a?.context?.metadata,
      createdAt: a?.context?.created_at ?? 0,
      updatedAt: 0,
    },
  }));
  register(recoverSessionUpdate, (a: { user_id: number; agent_type?: string }) => ({
    type: 'recover',
    userId: a?.user_id,
    agentType: a?.agent_type,
  }));
  register(appendMessageUpdate, (a: { role: 'user' | 'assistant' | 'system'; content: string }) => ({
    type: 'appendMessage',
    message: { role: a?.role, content: a?.content },
  }));
  register(appendTurnUpdate, (a: { user: string; assistant: string; agent_type?: string }) => ({
    type: 'appendTurn',
    user: a?.user,
    assistant: a?.assistant,
    agentType: a?.agent_type,
  }));
  register(clearMessagesUpdate, () => ({ type: 'clearMessages' }));
  register(updateMetadataUpdate, (a: { metadata: Record<string, unknown> }) => ({
    type: 'updateMetadata',
    patch: a?.metadata,
  }));

  // Durable turns: acknowledged by Temporal on receipt, so nothing may throw here; a turn that breaks the
  // rules is recorded as rejected (visible through turnStatus), never applied.
  setHandler(turnSignal, async (args) => {
    const turnId = typeof args?.turn_id === 'string' ? args.turn_id : '';
    if (turnId && turns.has(turnId)) return;
    pendingTurns++;
    try {
      await condition(() => hydrated && !exclusive);
      if (turnId && turns.has(turnId)) return;
      validateTurnId(turnId);
      const command: SessionCommand = {
        type: 'appendTurn',
        user: args.user,
        assistant: args.assistant,
        agentType: args.agent_type,
      };
      validateCommand(command);
      if (!snapshot && args.user_id !== undefined) {
        const create: SessionCommand = { type: 'recover', userId: args.user_id, agentType: args.agent_type };
        validateCommand(create);
        apply(create);
      }
      const next = apply(command);
      remember(turnId, { status: 'applied', version: next.version });
    } catch (err) {
      const e = err instanceof SessionError ? err : new SessionError('internal', String(err));
      if (turnId) remember(turnId, { status: 'rejected', code: e.code, message: e.message });
    } finally {
      pendingTurns--;
    }
  });

  // Delete and expire hold the actor exclusively while Postgres is changed, so no command interleaves.
  const endWith = async (reason: SessionActorResult['reason'], act: () => Promise<boolean>): Promise<boolean> => {
    await ready();
    exclusive = true;
    try {
      const done = await act();
      if (done) {
        snapshot = null;
        persistedVersion = 0;
        closing = true;
        endReason = reason;
      }
      return done;
    } finally {
      exclusive = false;
    }
  };
  setHandler(deleteSessionUpdate, async () => {
    await endWith('deleted', async () => {
      await db.deleteSnapshot.executeWithOptions({ summary: 'delete session row' }, [sessionId]);
      return true;
    });
    return { deleted: true };
  });
  setHandler(expireSessionUpdate, async ({ cutoff }) => {
    const expired = await endWith('expired', async () => {
      if (!snapshot || snapshot.context.updatedAt >= cutoff) return false;
      // Postgres may lag the actor but never leads it, so the actor's updatedAt decides; the row goes with it.
      await db.deleteSnapshot.executeWithOptions({ summary: 'delete expired session row' }, [sessionId]);
      return true;
    });
    return { expired };
  });

  // Read-your-writes: a query must reflect every signal acknowledged before it. Until the state is loaded, or
  // while a received turn waits behind delete/expire, the answer would be stale, so the query fails as busy and
  // the client asks again.
  const loaded = (): SessionSnapshot | null => {
    if (!hydrated || pendingTurns > 0) throw new Error(ACTOR_BUSY);
    return snapshot;
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
    return turns.get(turnId) ?? { status: 'unknown' };
  });
  setHandler(statusQuery, () => ({
    exists: snapshot !== null,
    version: snapshot?.version ?? 0,
    persisted_version: persistedVersion,
    commands_this_run: commandsThisRun,
    closing,
  }));

  // ---- hydrate ----------------------------------------------------------------------------------------
  if (input.carried) {
    const s = input.carried.snapshot;
    snapshot = s ? { context: fromWireContext(s.context), version: s.version } : null;
    persistedVersion = input.carried.persisted_version;
  } else {
    snapshot = await db.loadSnapshot.executeWithOptions({ summary: 'load snapshot from Postgres' }, [sessionId]);
    persistedVersion = snapshot?.version ?? 0;
  }
  hydrated = true;
  describe();

  // One idle timer per idle period (not per command): it re-arms for the remaining time while work goes on.
  let idle = false;
  const watchIdle = async (): Promise<void> => {
    for (;;) {
      const remaining = lastActivityMs + idleTimeoutMs - Date.now();
      if (remaining <= 0) {
        idle = true;
        return;
      }
      await sleep(remaining);
    }
  };
  void watchIdle();

  // ---- persist, continue-as-new, complete ------------------------------------------------------------
  const dirty = (): boolean => snapshot !== null && snapshot.version > persistedVersion && !exclusive;
  const wantsNewRun = (): boolean => commandsThisRun >= continueAsNewAfter || workflowInfo().continueAsNewSuggested;

  for (;;) {
    await condition(() => dirty() || closing || wantsNewRun() || (idle && allHandlersFinished()));
    const current = snapshot;
    if (current && dirty()) {
      // Changes that arrive while this write is in flight are coalesced into the next one.
      await db.persistSnapshot.executeWithOptions({ summary: `persist snapshot v${current.version}` }, [current]);
      persistedVersion = Math.max(persistedVersion, current.version);
      continue;
    }
    if (closing) {
      await condition(allHandlersFinished);
      return { reason: endReason, version: 0 };
    }
    if (wantsNewRun()) {
      await condition(() => allHandlersFinished() && !dirty());
      if (dirty()) continue;
      return continueAsNew<typeof sessionActor>({
        ...input,
        carried: {
          snapshot: snapshot ? { context: toWireContext(snapshot.context), version: snapshot.version } : null,
          persisted_version: persistedVersion,
          turns: [...turns.entries()],
        },
      });
    }
    // Idle: complete, unless a command slipped in while the watcher's last timer ran.
    idle = false;
    if (Date.now() - lastActivityMs >= idleTimeoutMs) {
      closing = true;
      return { reason: 'idle', version: snapshot?.version ?? 0 };
    }
    void watchIdle();
  }
}

/** Caller mistakes become non-retryable failures of the update (the workflow itself never fails for them). */
function toFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SessionError) {
    const type =
      err.code === 'session_not_found'
        ? FAILURE_TYPES.notFound
        : err.code === 'session_conflict'
          ? FAILURE_TYPES.conflict
          : FAILURE_TYPES.validation;
    const field = (err as { field?: string }).field;
    return ApplicationFailure.create({ type, message: err.message, nonRetryable: true, details: [{ field }] });
  }
  // Anything else is a bug in the actor: fail the workflow task so it is retried and visible, not swallowed.
  return err instanceof Error ? err : new Error(String(err));
}
