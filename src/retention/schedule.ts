// The retention cleanup on Temporal: the Schedule that starts the cleanup workflow every interval, and one-off runs.
// Used by TemporalSessionService (cleanupExpired, cleanupScheduler → SessionCleanupJob) and by operators' tooling.
import { randomUUID } from 'node:crypto';
import {
  type Client,
  ScheduleAlreadyRunning,
  type ScheduleDescription,
  type ScheduleHandle,
  ScheduleNotFoundError,
  WorkflowFailedError,
} from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../config';
import { StorageError, ValidationError } from '../errors';
import { validateRetentionDays } from '../session-rules';
import type { CleanupInput, CleanupResult, sessionCleanup } from '../../workflows/cleanup';

/** The cleanup workflow's type (its function name in workflows/cleanup.ts). */
export const CLEANUP_WORKFLOW_TYPE = 'sessionCleanup';
export const DEFAULT_CLEANUP_SCHEDULE_ID = 'durable-sessions-cleanup';

export interface CleanupScheduleOptions {
  taskQueue: string;
  retentionDays: number;
  intervalMs: number;
  /** Default: 'durable-sessions-cleanup' (see cleanupScheduleId for other task queues). */
  scheduleId?: string;
}

export interface EnsuredSchedule {
  handle: ScheduleHandle;
  /** What ensureCleanupSchedule had to do. */
  outcome: 'created' | 'updated' | 'unchanged';
  /** Whether the schedule is paused (ensuring never changes that). */
  paused: boolean;
}

/**
 * The schedule id of a deployment: the default one on the default task queue, one per task queue otherwise, so
 * deployments (and test runs) that share a namespace never take over each other's schedule.
 */
export function cleanupScheduleId(taskQueue: string): string {
  return taskQueue === DEFAULT_TASK_QUEUE
    ? DEFAULT_CLEANUP_SCHEDULE_ID
    : `${DEFAULT_CLEANUP_SCHEDULE_ID}-${taskQueue}`;
}

/**
 * Creates the cleanup Schedule if it is missing (every `intervalMs`, overlap SKIP, starting the cleanup workflow on
 * `taskQueue` with the retention) and updates it when the interval, retention or task queue differ. Idempotent:
 * two startups leave one schedule. Does not change whether it is paused.
 */
export async function ensureCleanupSchedule(
  client: Client,
  options: CleanupScheduleOptions,
): Promise<EnsuredSchedule> {
  validateRetentionDays(options.retentionDays);
  if (!Number.isInteger(options.intervalMs) || options.intervalMs < 1000)
    throw new ValidationError('cleanup_interval', 'must be a whole number of milliseconds, at least 1000');
  const scheduleId = options.scheduleId ?? DEFAULT_CLEANUP_SCHEDULE_ID;
  const handle = client.schedule.getHandle(scheduleId);
  const action = {
    type: 'startWorkflow' as const,
    workflowType: CLEANUP_WORKFLOW_TYPE,
    workflowId: `cleanup/scheduled/${scheduleId}`,
    taskQueue: options.taskQueue,
    args: [{ retention_days: options.retentionDays } satisfies CleanupInput],
    staticSummary: `Session retention cleanup: delete sessions idle for more than ${options.retentionDays} days`,
  };
  const spec = { intervals: [{ every: options.intervalMs }] };

  for (let attempt = 0; ; attempt++) {
    let current: ScheduleDescription;
    try {
      current = await handle.describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      try {
        await client.schedule.create({
          scheduleId,
          spec,
          action,
          policies: { overlap: 'SKIP', catchupWindow: '1 day' },
        });
        return { handle, outcome: 'created', paused: false };
      } catch (createErr) {
        // Another process created it between our describe and create: compare with theirs.
        if (createErr instanceof ScheduleAlreadyRunning && attempt === 0) continue;
        throw createErr;
      }
    }
    const paused = current.state.paused;
    if (scheduleMatches(current, options)) return { handle, outcome: 'unchanged', paused };
    await handle.update((previous) => ({
      ...previous,
      spec,
      action,
      policies: { ...previous.policies, overlap: 'SKIP' },
    }));
    return { handle, outcome: 'updated', paused };
  }
}

function scheduleMatches(d: ScheduleDescription, o: CleanupScheduleOptions): boolean {
  const intervals = d.spec.intervals ?? [];
  const args = (d.action.args ?? []) as CleanupInput[];
  return (
    intervals.length === 1 &&
    intervals[0].every === o.intervalMs &&
    !intervals[0].offset &&
    !d.spec.calendars?.length &&
    d.action.workflowType === CLEANUP_WORKFLOW_TYPE &&
    d.action.taskQueue === o.taskQueue &&
    args[0]?.retention_days === o.retentionDays &&
    d.policies.overlap === 'SKIP'
  );
}

/** Stops the schedule from starting cleanups (a run under way finishes). A missing schedule is not an error. */
export async function pauseCleanupSchedule(
  client: Client,
  scheduleId = DEFAULT_CLEANUP_SCHEDULE_ID,
): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).pause('paused by durable-sessions');
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

export async function unpauseCleanupSchedule(
  client: Client,
  scheduleId = DEFAULT_CLEANUP_SCHEDULE_ID,
): Promise<void> {
  await client.schedule.getHandle(scheduleId).unpause('unpaused by durable-sessions');
}

/** Starts one cleanup now through the schedule; skipped when one is already running (overlap SKIP). */
export async function triggerCleanupSchedule(
  client: Client,
  scheduleId = DEFAULT_CLEANUP_SCHEDULE_ID,
): Promise<void> {
  await client.schedule.getHandle(scheduleId).trigger('SKIP');
}

/** Runs the cleanup workflow now (not through the schedule) and waits for its result. */
export async function runCleanup(
  client: Client,
  taskQueue: string,
  input: CleanupInput,
  workflowId = `cleanup/manual/${randomUUID()}`,
): Promise<CleanupResult> {
  validateRetentionDays(input.retention_days);
  try {
    return await client.workflow.execute<typeof sessionCleanup>(CLEANUP_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
      staticSummary: `Session retention cleanup (${input.dry_run ? 'dry run, ' : ''}${input.retention_days} days)`,
    });
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? err.cause : err;
    throw new StorageError(
      `cleanup ${workflowId} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause: err,
      },
    );
  }
}
