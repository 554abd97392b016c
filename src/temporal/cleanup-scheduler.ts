// SessionCleanupJob's scheduler on Temporal: the cleanup Schedule of a task queue, created or updated, paused,
// unpaused and triggered. Used by TemporalSessionService.cleanupScheduler.
import type { Client } from '@temporalio/client';
import type { CleanupConfig, CleanupScheduler } from '../retention/job';
import {
  cleanupScheduleId,
  ensureCleanupSchedule,
  pauseCleanupSchedule,
  triggerCleanupSchedule,
  unpauseCleanupSchedule,
} from '../retention/schedule';

/** See TemporalSessionService.cleanupScheduler; `runOnce` runs one cleanup and answers its count. */
export function scheduledCleanup(
  client: Client,
  taskQueue: string,
  config: CleanupConfig,
  runOnce: () => Promise<number>,
): CleanupScheduler {
  const scheduleId = cleanupScheduleId(taskQueue);
  return {
    start: async () => {
      await ensureCleanupSchedule(client, {
        scheduleId,
        taskQueue,
        retentionDays: config.retentionDays,
        intervalMs: config.cleanupIntervalMs,
      });
      await unpauseCleanupSchedule(client, scheduleId);
      await triggerCleanupSchedule(client, scheduleId);
    },
    stop: () => pauseCleanupSchedule(client, scheduleId),
    runOnce,
  };
}
