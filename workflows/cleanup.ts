// The cleanup workflow: deletes every session idle for longer than the retention, batch by batch, and counts them.
// Started by the cleanup Schedule, by TemporalSessionService.cleanupExpired and by SessionCleanupJob.runOnce.
import {
  type RetryPolicy,
  ApplicationFailure,
  continueAsNew,
  patched,
  proxyActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { CleanupActivities } from '../activities/cleanup';
import { FAILURE_TYPES } from '../src/errors';
import { expiryCutoff, validateRetentionDays } from '../src/session-rules';

export const DEFAULT_CLEANUP_BATCH_SIZE = 500;
/** Patch id of the tombstone purge at the end of a cleanup. */
const PURGE_TOMBSTONES = 'purge-tombstones';
/** Patch id of cleanups whose batches run inside expireRange, progress kept in Postgres. */
const EXPIRE_RANGES = 'expire-ranges';
/** Sessions per batch of expireRange: one set-wise statement each. */
export const DEFAULT_RANGE_BATCH_SIZE = 2_000;
/** Batches per run before continuing as new, so one run's history stays small whatever the backlog. */
const BATCHES_PER_RUN = 200;

export interface CleanupInput {
  retention_days: number;
  batch_size?: number;
  /** Count what would be deleted, delete nothing. */
  dry_run?: boolean;
  /** Internal: what a run hands to the next one on continue-as-new. */
  carried?: { cutoff: number; after: string | null; deleted: number; batches: number };
}

export interface CleanupResult {
  /** Sessions deleted (a dry run: sessions that are expired). */
  deleted: number;
  /** Unix seconds: sessions with updated_at strictly below it were expired. */
  cutoff: number;
  batches: number;
}

const RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
};
// Each batch heartbeats per few sessions; a worker lost mid-batch is noticed within the heartbeat timeout and the
// batch is retried, which is harmless: it selects again after the same keyset position.
const { expireBatch, countExpiredSessions, purgeTombstones } = proxyActivities<CleanupActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: RETRY,
});
// expireRange heartbeats every batch (a second or less) and every page of its listing of runs: a killed worker's
// range is retried on another within 10 s, from the progress its last committed batch recorded.
const { expireRange } = proxyActivities<CleanupActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: RETRY,
});

export async function sessionCleanup(input: CleanupInput): Promise<CleanupResult> {
  try {
    validateRetentionDays(input?.retention_days);
  } catch (err) {
    // The caller's mistake: failing the workflow for good, a retry would not change the answer.
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.validation,
      message: (err as Error).message,
      nonRetryable: true,
    });
  }
  // Once per cleanup (carried across runs), from workflow time: every batch uses the same cutoff.
  const cutoff = input.carried?.cutoff ?? expiryCutoff(Date.now(), input.retention_days);
  if (patched(EXPIRE_RANGES)) return cleanupByRanges(input, cutoff);
  const batchSize =
    input.batch_size && input.batch_size > 0 ? Math.floor(input.batch_size) : DEFAULT_CLEANUP_BATCH_SIZE;
  let after = input.carried?.after ?? null;
  let deleted = input.carried?.deleted ?? 0;
  let batches = input.carried?.batches ?? 0;

  for (let batchesThisRun = 0; ; batchesThisRun++) {
    if (batchesThisRun >= BATCHES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof sessionCleanup>({ ...input, carried: { cutoff, after, deleted, batches } });
    }
    const batch = await expireBatch({ cutoff, after, batch_size: batchSize, dry_run: input.dry_run });
    batches++;
    deleted += batch.deleted;
    after = batch.last;
    if (batch.selected < batchSize) {
      // Tombstones outlive their sessions by the retention period; runs recorded before them skip this step.
      if (!input.dry_run && patched(PURGE_TOMBSTONES)) await purgeTombstones(cutoff);
      return { deleted, cutoff, batches };
    }
  }
}

/**
 * The batches run inside expireRange, which records each one's deletions and the cleanup's position in one statement:
 * a worker killed half way loses nothing and counts nothing twice. A dry run is one count.
 */
async function cleanupByRanges(input: CleanupInput, cutoff: number): Promise<CleanupResult> {
  if (input.dry_run) return { deleted: await countExpiredSessions(cutoff), cutoff, batches: 1 };
  const batchSize =
    input.batch_size && input.batch_size > 0 ? Math.floor(input.batch_size) : DEFAULT_RANGE_BATCH_SIZE;
  const { workflowId, firstExecutionRunId } = workflowInfo();
  // A run of the older, batch-per-activity kind hands its totals over; the ranges start again from the first id (what
  // it deleted is gone).
  const before = input.carried ?? { deleted: 0, batches: 0 };
  for (;;) {
    if (workflowInfo().continueAsNewSuggested)
      return continueAsNew<typeof sessionCleanup>({
        ...input,
        carried: { cutoff, after: null, deleted: before.deleted, batches: before.batches },
      });
    const range = await expireRange({
      cleanup_id: `${workflowId}/${firstExecutionRunId}`,
      cutoff,
      batch_size: batchSize,
    });
    if (range.done) {
      await purgeTombstones(cutoff);
      return { deleted: before.deleted + range.deleted, cutoff, batches: before.batches + range.batches };
    }
  }
}
