// watch(): a session's changes as an async iterator, over any service's `changes` poll (the actor's awaitChanges
// long-poll, or the in-memory service's). Used by TemporalSessionService, InMemorySessionService and the HTTP feed.
import { SessionConflictError, SessionNotFoundError } from './errors';
import type { ChangesAnswer, ChangesOptions, WatchOptions } from './service';
import type { SessionChange } from './session-changes';

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Every change after `fromVersion` (absent: the whole session first), in order, each once. The watch ends after a
 * `deleted` change, which it also makes up when the session it was following is gone or was created anew (a new
 * incarnation, or another user's) between two polls. A session that never existed is a SessionNotFoundError.
 */
export async function* watchChanges(
  poll: (options: ChangesOptions) => Promise<ChangesAnswer>,
  options: WatchOptions = {},
): AsyncGenerator<SessionChange> {
  let after = options.fromVersion;
  let born: number | undefined;
  const { signal } = options;
  // A poll still waiting when the watch is stopped is given the signal, and otherwise left to end on its own (the
  // actor answers it when its wait ends): the watch itself ends at once.
  const stopped = new Promise<null>((resolve) =>
    signal?.addEventListener('abort', () => resolve(null), { once: true }),
  );
  while (!signal?.aborted) {
    let answer: ChangesAnswer;
    try {
      const pending = poll({
        afterVersion: after,
        waitMs: options.waitMs,
        expectedUserId: options.expectedUserId,
        signal,
      });
      pending.catch(() => undefined);
      const raced = signal ? await Promise.race([pending, stopped]) : await pending;
      if (raced === null) return;
      answer = raced;
    } catch (err) {
      if (signal?.aborted) return;
      const gone = err instanceof SessionNotFoundError || err instanceof SessionConflictError;
      if (gone && born !== undefined && after !== undefined) {
        yield { type: 'deleted', version: after };
        return;
      }
      throw err;
    }
    // A session created after the version the watcher has is a new incarnation: the one it followed was deleted
    // (versions never go back, so a new incarnation is always born above everything the old one had).
    const knew = born !== undefined || (after ?? 0) > 0;
    if (knew && after !== undefined && answer.bornVersion > after) {
      yield { type: 'deleted', version: after };
      return;
    }
    born = answer.bornVersion;
    for (const change of answer.changes) {
      if (after !== undefined && change.version <= after && change.type !== 'deleted') continue;
      yield change;
      if (change.type === 'deleted') return;
      after = change.version;
    }
    after ??= answer.version;
    if (answer.reconnect) await pause(25, signal);
  }
}
