// Watchers of the session actor: the `awaitChanges` long-poll. Each waits until the session moves past the version
// the watcher has, the run ends, or its wait is over, then is answered from the actor's log of recent changes.
// Not a command (nothing is queued or applied); registered by workflows/session-actor.ts.
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import { SessionConflictError, SessionNotFoundError, ValidationError } from '../src/errors';
import { type WireSessionChange, toWireChange } from '../src/session-changes';
import { validateUserId } from '../src/session-rules';
import { toWireContext } from '../src/types';
import type { ActorState } from './actor-state';
import type { Phase } from './lifecycle';
import { ACTOR_CLOSING, type AwaitChangesArgs, type ChangesAnswer, awaitChangesUpdate } from './messages';
import { toFailure } from './wire-commands';

export const DEFAULT_WAIT_MS = 30_000;
export const MAX_WAIT_MS = 60_000;

export interface WatcherDeps {
  sessionId: string;
  state: ActorState;
  phase(): Phase;
  /** No received turn waits in the queue (an answer now would miss an acknowledged one). */
  settled(): boolean;
  /** The run wants to end: every watcher is answered now and asks the next run. */
  releasing(): boolean;
  /** A failure to answer with when reads fail (a run whose load failed), else null. */
  readFailure(): Error | null;
  /** Counts an answered watch towards the run's size. */
  answered(): void;
}

export function registerWatchers(deps: WatcherDeps): void {
  const { state } = deps;
  const gone = (): boolean => deps.phase().name === 'removed' || deps.phase().name === 'ending';

  const answer = (args: AwaitChangesArgs | null): ChangesAnswer => {
    const failure = deps.readFailure();
    if (failure) throw failure;
    const version = state.highestVersion;
    const base = { version, born_version: state.bornVersion };
    if (deps.phase().name === 'removed') {
      // The changes the watcher has not seen yet, when the log still has them, then the deletion.
      const before =
        args?.after_version === undefined ? [] : (state.changes.since(args.after_version, version) ?? []);
      return { ...base, changes: [...before.map(toWireChange), { type: 'deleted', version }] };
    }
    const s = state.snapshot;
    if (!s) throw toFailure(new SessionNotFoundError(deps.sessionId));
    const expected = args?.expected_user_id;
    if (expected !== undefined && s.context.userId !== expected)
      throw toFailure(new SessionConflictError(deps.sessionId));
    const after = args?.after_version;
    const logged = after === undefined ? null : state.changes.since(after, s.version);
    const changes: WireSessionChange[] = logged
      ? logged.map(toWireChange)
      : [{ type: 'session', version: s.version, session: toWireContext(s.context) }];
    return { ...base, changes, ...(changes.length === 0 && deps.releasing() ? { reconnect: true } : {}) };
  };

  setHandler(
    awaitChangesUpdate,
    async (args) => {
      const after = args?.after_version;
      const ready = (): boolean =>
        deps.phase().name !== 'loading' &&
        deps.settled() &&
        (after === undefined ||
          gone() ||
          deps.releasing() ||
          state.snapshot === null ||
          state.highestVersion > after);
      const wait = args?.wait_ms ?? DEFAULT_WAIT_MS;
      if (!ready()) {
        // A wait of 0 still lets the run finish loading (no timer: loading takes no timer either).
        if (wait > 0) await condition(ready, wait, { summary: `watch: wait for a version after ${after}` });
        else await condition(() => deps.phase().name !== 'loading' && deps.settled());
      }
      deps.answered();
      return answer(args);
    },
    {
      // Bad arguments are refused before history; a run that is ending sends the watcher to the next run.
      validator: (args): void => {
        const a = (args ?? {}) as AwaitChangesArgs;
        const bad = (field: string, rule: string) => toFailure(new ValidationError(field, rule));
        if (a.after_version !== undefined && (!Number.isSafeInteger(a.after_version) || a.after_version < 0))
          throw bad('after_version', 'must be a non-negative integer');
        if (
          a.wait_ms !== undefined &&
          (!Number.isInteger(a.wait_ms) || a.wait_ms < 0 || a.wait_ms > MAX_WAIT_MS)
        )
          throw bad('wait_ms', `must be an integer 0..${MAX_WAIT_MS}`);
        if (a.expected_user_id !== undefined)
          try {
            validateUserId(a.expected_user_id);
          } catch {
            throw bad('expected_user_id', 'must be a 32-bit integer');
          }
        if (deps.phase().name === 'ending')
          throw ApplicationFailure.create({ type: ACTOR_CLOSING, message: 'actor is completing; retry' });
      },
    },
  );
}
