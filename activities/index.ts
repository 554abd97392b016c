// Activities of the session actor (the Postgres side effects: claim, write and delete a session, all fenced against
// deletion) and of the cleanup workflow. The worker builds them around one pg pool and a Temporal client.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { type CleanupActivities, createCleanupActivities } from './cleanup';
import { isPermanentPgError, pgErrorCode } from '../src/postgres/errors';
import { forgetSessionKey } from '../src/codec/session-keys';
import { claimSession, deleteSessionFenced, persistSession } from '../src/postgres/fence';
import { deleteIfExpired, deleteSessionRow, loadSnapshot } from '../src/postgres/snapshots';
import type { SessionSnapshot } from '../src/session-rules';
import { PERMANENT_STORAGE_FAILURE, type ClaimAnswer, type PersistOutcome } from '../workflows/lifecycle';
import type { TranscriptBatch } from '../workflows/messages';

export interface SessionActivities {
  /** Loads the session for its actor and records the actor chain `holder` as the one holding it. */
  claimSession(sessionId: string, holder: string): Promise<ClaimAnswer>;
  /**
   * Writes a snapshot unless Postgres holds this version or newer ('stale') or the incarnation was deleted
   * ('fenced'), with the transcript messages that entered the window since the last write (idempotent by version).
   */
  writeSnapshot(
    snapshot: SessionSnapshot,
    bornVersion: number,
    holder: string,
    transcript?: TranscriptBatch[],
  ): Promise<PersistOutcome>;
  /** Deletes the session and leaves a tombstone at its last version (at least `version`); returns that version. */
  removeSession(sessionId: string, version: number): Promise<number>;

  // Runs started before the lifecycle machine (workflows/legacy-session-actor.ts) replay with these.
  /** The stored snapshot of a session, or null when Postgres has none. */
  loadSnapshot(sessionId: string): Promise<SessionSnapshot | null>;
  /** Writes a snapshot unless Postgres already holds this version or a newer one. */
  persistSnapshot(snapshot: SessionSnapshot): Promise<boolean>;
  /** Removes a session's row; true when there was one. */
  deleteSnapshot(sessionId: string): Promise<boolean>;
  /** Removes a session's row only if it is still older than the cutoff; true when it did. */
  expireSnapshot(sessionId: string, cutoff: number): Promise<boolean>;
}

/** Where snapshot writes and failures are counted; `SessionMetrics` (src/metrics.ts) fits. */
export interface SnapshotObserver {
  recordSnapshotWrite(lagSeconds: number): void;
  /** A snapshot write failed (it will be retried unless the failure is permanent). */
  recordSnapshotFailure?(error: unknown): void;
  /** A failure no retry can fix: the actor goes to its failed state. */
  recordPermanentStorageFailure?(operation: string, code: string): void;
}

export function createSessionActivities(pool: Pool, observer?: SnapshotObserver): SessionActivities {
  /**
   * A permanent failure (refused values, missing schema) becomes a non-retryable ApplicationFailure: the actor
   * turns it into its visible failed state instead of retrying for ever. Anything else is thrown as is: retried.
   */
  const classified = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (!isPermanentPgError(err)) throw err;
      const code = pgErrorCode(err) ?? 'unknown';
      observer?.recordPermanentStorageFailure?.(operation, code);
      // One line per failure: it is not retried, so this is not repeated every backoff interval.
      Context.current().log.error(`${operation} failed permanently`, { code, error: (err as Error).message });
      throw ApplicationFailure.create({
        type: PERMANENT_STORAGE_FAILURE,
        message: `${operation}: ${(err as Error).message}`,
        nonRetryable: true,
        details: [{ code }],
      });
    }
  };

  return {
    claimSession: (sessionId, holder) =>
      classified('load session', async () => {
        const claimed = await claimSession(pool, sessionId, holder);
        if (claimed.kind === 'corrupt')
          Context.current().log.error('session row is corrupt', { sessionId, reason: claimed.reason });
        return claimed;
      }),
    writeSnapshot: (snapshot, bornVersion, holder, transcript) =>
      classified('write snapshot', async () => {
        try {
          const outcome = await persistSession(pool, snapshot, bornVersion, holder, transcript);
          // Lag: from the command that produced this version to the row being written.
          if (outcome.outcome === 'written')
            observer?.recordSnapshotWrite(Date.now() / 1000 - snapshot.context.updatedAt);
          return outcome;
        } catch (err) {
          observer?.recordSnapshotFailure?.(err);
          throw err;
        }
      }),
    removeSession: (sessionId, version) =>
      classified('delete session', async () => {
        const fence = await deleteSessionFenced(pool, sessionId, version);
        // The key is retired with the row (destroyed once this run has answered): no cache of this process seals
        // with it any more.
        forgetSessionKey(sessionId);
        return fence;
      }),

    loadSnapshot: (sessionId) => loadSnapshot(pool, sessionId),
    persistSnapshot: async (snapshot) =>
      (await persistSession(pool, snapshot, 1, `legacy:${snapshot.context.sessionId}`)).outcome === 'written',
    deleteSnapshot: (sessionId) => deleteSessionRow(pool, sessionId),
    expireSnapshot: (sessionId, cutoff) => deleteIfExpired(pool, sessionId, cutoff),
  };
}

export type { CleanupActivities, ExpireBatchInput, ExpireBatchOutput } from './cleanup';

/** Every activity the worker registers: the actor's and the cleanup workflow's. */
export function createActivities(deps: {
  pool: Pool;
  client: Client;
  observer?: SnapshotObserver;
  /** Payloads sealed with a key per session: see createCleanupActivities. */
  shredded?: boolean;
}): SessionActivities & CleanupActivities {
  return { ...createSessionActivities(deps.pool, deps.observer), ...createCleanupActivities(deps) };
}
