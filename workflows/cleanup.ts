// The cleanup workflow: deletes every session idle for longer than the retention, batch by batch, and counts them.
// Started by the cleanup Schedule, by TemporalSessionService.cleanupExpired and by SessionCleanupJob.runOnce.
import {
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

// Each batch heartbeats per few sessions; a worker lost mid-batch is noticed within the heartbeat timeout and the
// batch is retried, which is harmless: it selects again after the same keyset position.
const { expireBatch, purgeTombstones } = proxyActivities<CleanupActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
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
  const batchSize =
    input.batch_size && input.batch_size > 0 ? Math.floor(input.batch_size) : DEFAULT_CLEANUP_BATCH_SIZE;
  // Once per cleanup (carried across runs), from workflow time: every batch uses the same cutoff.
  const cutoff = input.carried?.cutoff ?? expiryCutoff(Date.now(), input.retention_days);
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
