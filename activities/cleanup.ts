// Activities of the cleanup workflow, bound to the worker's pg Pool and Temporal Client: the retention code they run
// is src/retention/ (expire.ts for the batches, sql.ts for the statements). workflows/cleanup.ts sees only the types.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { expireOneBatch, expireRange } from '../src/retention/expire';
import { sweepRetiredKeys } from '../src/retention/retired-keys';
import { countExpired, purgeCleanupProgress, purgeTombstones } from '../src/retention/sql';

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

export interface ExpireRangeInput {
  /** Names the cleanup's progress row: the cleanup workflow's id and first run id. */
  cleanup_id: string;
  cutoff: number;
  batch_size: number;
}

export interface ExpireRangeOutput {
  /** Every expired session was met (false: the time budget ran out; call again). */
  done: boolean;
  /** The cleanup's totals so far, as recorded in Postgres. */
  deleted: number;
  kept: number;
  batches: number;
}

export interface CleanupActivities {
  /** Runs recorded before expireRange: one batch per activity, its position kept by the workflow. */
  expireBatch(input: ExpireBatchInput): Promise<ExpireBatchOutput>;
  /**
   * Expires batch after batch from where the cleanup's progress stands, each batch's deletions and progress in one
   * statement, until none is left or the time budget is spent. A retry (its worker killed) continues after the last
   * batch that committed, with the same totals.
   */
  expireRange(input: ExpireRangeInput): Promise<ExpireRangeOutput>;
  /** Sessions expired at the cutoff (a dry run). */
  countExpiredSessions(cutoff: number): Promise<number>;
  /**
   * Forgets the tombstones of sessions deleted before the cutoff (they fenced in-flight writes long enough), and
   * destroys the session keys that a delete's caller left retired (src/retention/retired-keys.ts).
   */
  purgeTombstones(cutoff: number): Promise<number>;
}

/**
 * `shredded`: the worker seals payloads with a key per session, destroyed with the session; the cleanup then leaves
 * the closed runs of the sessions it deletes to the namespace retention (they no longer decode) instead of erasing
 * them one by one.
 */
export function createCleanupActivities(deps: {
  pool: Pool;
  client: Client;
  shredded?: boolean;
}): CleanupActivities {
  const heartbeat = (): void => Context.current().heartbeat();
  return {
    expireBatch: (input) => expireOneBatch(deps, input, heartbeat),
    expireRange: (input) => expireRange(deps, input, heartbeat),
    countExpiredSessions: (cutoff) => countExpired(deps.pool, cutoff),
    async purgeTombstones(cutoff) {
      await sweepRetiredKeys(deps.pool, deps.client);
      await purgeCleanupProgress(deps.pool, cutoff);
      return purgeTombstones(deps.pool, cutoff);
    },
  };
}
