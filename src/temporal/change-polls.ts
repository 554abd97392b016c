// One long-poll of a session's actor for its changes (the `awaitChanges` update), starting the actor of a session
// that lives only in Postgres. Used by TemporalSessionService.changes (its watch and the HTTP change feeds use it).
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { loadSnapshot } from '../postgres/snapshots';
import { isRunning } from '../retention/erasure';
import { SessionNotFoundError } from '../errors';
import type { ChangesAnswer, ChangesOptions } from '../service';
import { fromWireChange } from '../session-changes';
import { validateSessionId, validateUserId } from '../session-rules';
import {
  EPHEMERAL_UPDATE_ID_PREFIX,
  type AwaitChangesArgs,
  awaitChangesUpdate,
  sessionWorkflowId,
} from '../../workflows/messages';
import type { SessionActorClient } from './actor-client';
import { isActorGone } from './failures';

/** TemporalSessionService.changes: a missing session is a SessionNotFoundError, and no actor is started for it. */
export async function pollChanges(
  actors: SessionActorClient,
  pool: Pool,
  sessionId: string,
  options: ChangesOptions = {},
): Promise<ChangesAnswer> {
  validateSessionId(sessionId);
  if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
  const args: AwaitChangesArgs = {
    ...(options.afterVersion === undefined ? {} : { after_version: options.afterVersion }),
    ...(options.waitMs === undefined ? {} : { wait_ms: options.waitMs }),
    ...(options.expectedUserId === undefined ? {} : { expected_user_id: options.expectedUserId }),
  };
  const { client } = actors;
  const updateId = () => `${EPHEMERAL_UPDATE_ID_PREFIX}${randomUUID()}`;
  const handle = client.workflow.getHandle(sessionWorkflowId(sessionId));
  const { signal } = options;
  const call = <T>(fn: () => Promise<T>): Promise<T> => (signal ? client.withAbortSignal(signal, fn) : fn());
  const poll = () =>
    call(() => handle.executeUpdate(awaitChangesUpdate, { args: [args], updateId: updateId() }));
  // No run answered: a run that continued as new has a successor, asked again (retryingActor); a run that completed
  // wrote its snapshot first, so Postgres says whether there is a session to start an actor for.
  const ask = () =>
    actors.retryingActor(sessionId, async () => {
      // A signal aborted before the call starts would not reach it (the client listens for the abort event).
      signal?.throwIfAborted();
      try {
        return await poll();
      } catch (err) {
        if (!isActorGone(err) || (await isRunning(client, sessionWorkflowId(sessionId)))) throw err;
        if (!(await loadSnapshot(pool, sessionId))) throw new SessionNotFoundError(sessionId);
        return call(() =>
          client.workflow.executeUpdateWithStart(awaitChangesUpdate, {
            args: [args],
            updateId: updateId(),
            startWorkflowOperation: actors.startOperation(sessionId),
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
