// Activities of the cleanup workflow: expire the expired sessions batch after batch, recording each batch's progress
// in Postgres, and erase their histories; count them (a dry run); purge what outlived the retention.
// Built by the worker around the pg Pool and a Temporal Client; workflows/cleanup.ts sees only the type.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import {
  countExpired,
  expireBatchRecorded,
  purgeCleanupProgress,
  purgeTombstones,
  readCleanupProgress,
  selectExpiryCandidates,
} from '../src/postgres/expiry';
import { expireSessions, indexSessionRuns } from '../src/temporal/erasure';

/** Actor runs a cleanup lists once and holds in memory; beyond it, each batch asks visibility for its own ids. */
export const RUN_INDEX_MAX = 200_000;
/** How long one expireRange works before handing back to the workflow (which calls it again until done). */
export const EXPIRE_RANGE_BUDGET_MS = 120_000;

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
    async expireRange({ cleanup_id, cutoff, batch_size }) {
      const started = Date.now();
      const heartbeat = (): void => Context.current().heartbeat();
      const index = await indexSessionRuns(deps.client, RUN_INDEX_MAX, heartbeat);
      let progress = await readCleanupProgress(deps.pool, cleanup_id);
      for (;;) {
        heartbeat();
        const candidates = await selectExpiryCandidates(deps.pool, cutoff, progress.after, batch_size);
        if (candidates.length === 0) return { done: true, ...totals(progress) };
        const last = candidates[candidates.length - 1].sessionId;
        const { expired, kept } = await expireSessions(deps.client, deps.pool, candidates, cutoff, {
          index,
          onProgress: heartbeat,
          deleteCold: (cold, byActors) =>
            expireBatchRecorded(deps.pool, {
              cleanupId: cleanup_id,
              cutoff,
              cold,
              last,
              expiredByActor: byActors.expired,
              keptByActor: byActors.kept,
            }),
        });
        progress = {
          after: last,
          deleted: progress.deleted + expired.length,
          kept: progress.kept + kept.length,
          batches: progress.batches + 1,
        };
        if (candidates.length < batch_size) return { done: true, ...totals(progress) };
        if (Date.now() - started >= EXPIRE_RANGE_BUDGET_MS) return { done: false, ...totals(progress) };
      }
    },
    countExpiredSessions: (cutoff) => countExpired(deps.pool, cutoff),
    async purgeTombstones(cutoff) {
      await purgeCleanupProgress(deps.pool, cutoff);
      return purgeTombstones(deps.pool, cutoff);
    },
  };
}

function totals(p: { deleted: number; kept: number; batches: number }): Omit<ExpireRangeOutput, 'done'> {
  return { deleted: p.deleted, kept: p.kept, batches: p.batches };
}
