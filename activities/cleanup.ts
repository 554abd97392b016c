// Activities of the cleanup workflow: expire one keyset batch of sessions and erase their histories.
// Built by the worker around the pg Pool and a Temporal Client; workflows/cleanup.ts sees only the type.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { purgeTombstones, selectExpiryCandidates } from '../src/postgres/fence';
import { expireSessions } from '../src/temporal/erasure';

export interface ExpireBatchInput {
  /** Unix seconds: sessions with updated_at strictly below it are expired. */
  cutoff: number;
  /** Keyset position: the last session id of the previous batch, null for the first. */
  after: string | null;
  batch_size: number;
  /** Count the batch, delete nothing. */
  dry_run?: boolean;
}

export interface ExpireBatchOutput {
  /** Ids selected by the keyset query (a short batch means the end was reached). */
  selected: number;
  /** Sessions deleted (or, in a dry run, that would have been considered). */
  deleted: number;
  /** Sessions kept because their actor holds a state written after the cutoff. */
  kept: number;
  /** Keyset position for the next batch. */
  last: string | null;
}

export interface CleanupActivities {
  expireBatch(input: ExpireBatchInput): Promise<ExpireBatchOutput>;
  /** Forgets the tombstones of sessions deleted before the cutoff (they fenced in-flight writes long enough). */
  purgeTombstones(cutoff: number): Promise<number>;
}

export function createCleanupActivities(deps: { pool: Pool; client: Client }): CleanupActivities {
  return {
    async expireBatch({ cutoff, after, batch_size, dry_run }) {
      const candidates = await selectExpiryCandidates(deps.pool, cutoff, after, batch_size);
      const last = candidates.length > 0 ? candidates[candidates.length - 1].sessionId : after;
      if (dry_run || candidates.length === 0)
        return { selected: candidates.length, deleted: candidates.length, kept: 0, last };
      const heartbeat = (): void => Context.current().heartbeat();
      const { expired, kept } = await expireSessions(deps.client, deps.pool, candidates, cutoff, {
        onProgress: heartbeat,
      });
      return { selected: candidates.length, deleted: expired.length, kept: kept.length, last };
    },
    purgeTombstones: (cutoff) => purgeTombstones(deps.pool, cutoff),
  };
}
