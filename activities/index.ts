// Activities of the session actor (the Postgres side effects: load, persist, delete a snapshot) and of the
// cleanup workflow. The worker builds them around one pg pool and a Temporal client; workflows see only the types.
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { type CleanupActivities, createCleanupActivities } from './cleanup';
import { deleteIfExpired, deleteSessionRow, loadSnapshot, upsertSnapshot } from '../src/postgres/snapshots';
import type { SessionSnapshot } from '../src/session-rules';

export interface SessionActivities {
  /** The stored snapshot of a session, or null when Postgres has none. */
  loadSnapshot(sessionId: string): Promise<SessionSnapshot | null>;
  /** Writes a snapshot unless Postgres already holds this version or a newer one. */
  persistSnapshot(snapshot: SessionSnapshot): Promise<boolean>;
  /** Removes a session's row; true when there was one. */
  deleteSnapshot(sessionId: string): Promise<boolean>;
  /** Removes a session's row only if it is still older than the cutoff; true when it did. */
  expireSnapshot(sessionId: string, cutoff: number): Promise<boolean>;
}

/** Where snapshot writes are counted; `SessionMetrics` (src/metrics.ts) fits. */
export interface SnapshotObserver {
  recordSnapshotWrite(lagSeconds: number): void;
}

export function createSessionActivities(pool: Pool, observer?: SnapshotObserver): SessionActivities {
  return {
    loadSnapshot: (sessionId) => loadSnapshot(pool, sessionId),
    persistSnapshot: async (snapshot) => {
      const wrote = await upsertSnapshot(pool, snapshot);
      // Lag: from the command that produced this version to the row being written.
      if (wrote) observer?.recordSnapshotWrite(Date.now() / 1000 - snapshot.context.updatedAt);
      return wrote;
    },
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
}): SessionActivities & CleanupActivities {
  return { ...createSessionActivities(deps.pool, deps.observer), ...createCleanupActivities(deps) };
}
