// The cleanup Schedule and SessionCleanupJob on TemporalSessionService, on a real dev server and Postgres.
// Idempotent creation, updates of interval and retention, pause/unpause, and the job's semantics backed by it.
import { SessionCleanupJob, type CleanupLogger } from '../src/retention/job';
import { insertSnapshotsRaw, loadSnapshot } from '../src/postgres/snapshots';
import {
  cleanupScheduleId,
  DEFAULT_CLEANUP_SCHEDULE_ID,
  ensureCleanupSchedule,
  pauseCleanupSchedule,
  unpauseCleanupSchedule,
} from '../src/retention/schedule';
import { DEFAULT_TASK_QUEUE } from '../src/config';
import { eventually, makeContext, nowSec, uniqueIds } from './support/contract';
import { temporalCli } from './support/stack';
import { startTemporalHarness, TemporalHarness } from './support/temporal-harness';

const HOUR = 3_600_000;

const silent: CleanupLogger = { info: () => undefined, error: () => undefined };

async function describeSchedule(scheduleId: string): Promise<Record<string, unknown>> {
  const { stdout } = await temporalCli(['schedule', 'describe', '--schedule-id', scheduleId, '-o', 'json']);
  return JSON.parse(stdout) as Record<string, unknown>;
}

async function seedExpired(h: TemporalHarness, count: number): Promise<string[]> {
  const ids = uniqueIds();
  const old = nowSec() - 31 * 86_400;
  const contexts = Array.from({ length: count }, () =>
    makeContext(ids.sessionId('old'), ids.userId(), { createdAt: old, updatedAt: old }),
  );
  await insertSnapshotsRaw(h.pool, contexts);
  return contexts.map((c) => c.sessionId);
}

describe('cleanup schedule', () => {
  let h: TemporalHarness;
  const created: string[] = [];

  beforeAll(async () => {
    h = await startTemporalHarness('cleanup_sched');
  });
  afterAll(async () => {
    for (const id of created)
      await h.client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    await h?.close();
  });

  test('one schedule per task queue; the default queue gets the default id', () => {
    expect(cleanupScheduleId(DEFAULT_TASK_QUEUE)).toBe(DEFAULT_CLEANUP_SCHEDULE_ID);
    expect(cleanupScheduleId('other')).toBe(`${DEFAULT_CLEANUP_SCHEDULE_ID}-other`);
  });

  test('created once by two startups, updated when the interval or retention changes, paused and unpaused', async () => {
    const scheduleId = `cleanup-test-${uniqueIds().sessionId()}`;
    created.push(scheduleId);
    const options = { scheduleId, taskQueue: h.taskQueue, retentionDays: 30, intervalMs: 24 * HOUR };
    const [a, b] = [
      await ensureCleanupSchedule(h.client, options),
      await ensureCleanupSchedule(h.client, options),
    ];
    expect([a.outcome, b.outcome]).toEqual(['created', 'unchanged']);
    // Two startups at the same moment still leave one schedule.
    const racing = await Promise.all([
      ensureCleanupSchedule(h.client, options),
      ensureCleanupSchedule(h.client, options),
    ]);
    expect(racing.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged']);

    const described = await h.client.schedule.getHandle(scheduleId).describe();
    expect(described.spec.intervals).toEqual([expect.objectContaining({ every: 24 * HOUR })]);
    expect(described.policies.overlap).toBe('SKIP');
    expect(described.action).toMatchObject({ workflowType: 'sessionCleanup', taskQueue: h.taskQueue });
    expect(described.action.args).toEqual([{ retention_days: 30 }]);
    expect(described.state.paused).toBe(false);
    // The CLI (what an operator uses) sees it.
    expect(JSON.stringify(await describeSchedule(scheduleId))).toContain('sessionCleanup');

    expect((await ensureCleanupSchedule(h.client, { ...options, intervalMs: 6 * HOUR })).outcome).toBe(
      'updated',
    );
    expect((await h.client.schedule.getHandle(scheduleId).describe()).spec.intervals).toEqual([
      expect.objectContaining({ every: 6 * HOUR }),
    ]);
    expect(JSON.stringify(await describeSchedule(scheduleId))).toMatch(/21600s|"6h"|21600/);
    expect(
      (await ensureCleanupSchedule(h.client, { ...options, intervalMs: 6 * HOUR, retentionDays: 7 })).outcome,
    ).toBe('updated');
    expect((await h.client.schedule.getHandle(scheduleId).describe()).action.args).toEqual([
      { retention_days: 7 },
    ]);

    await pauseCleanupSchedule(h.client, scheduleId);
    expect((await h.client.schedule.getHandle(scheduleId).describe()).state.paused).toBe(true);
    // Ensuring does not unpause a paused schedule (stop stays stopped across restarts).
    await ensureCleanupSchedule(h.client, { ...options, intervalMs: 6 * HOUR, retentionDays: 7 });
    expect((await h.client.schedule.getHandle(scheduleId).describe()).state.paused).toBe(true);
    await unpauseCleanupSchedule(h.client, scheduleId);
    expect((await h.client.schedule.getHandle(scheduleId).describe()).state.paused).toBe(false);
    await pauseCleanupSchedule(h.client, `missing-${scheduleId}`); // a missing schedule is not an error
  });

  test('SessionCleanupJob backed by the schedule: start runs now, second start no-op, stop pauses at once', async () => {
    const scheduleId = cleanupScheduleId(h.taskQueue);
    created.push(scheduleId);
    const first = await seedExpired(h, 3);
    const job = new SessionCleanupJob(
      h.service,
      { retentionDays: 30, cleanupIntervalMs: HOUR },
      { logger: silent },
    );
    expect(job.isRunning()).toBe(false);
    await job.start();
    expect(job.isRunning()).toBe(true);
    await job.start(); // no-op
    const handle = h.client.schedule.getHandle(scheduleId);
    const running = await handle.describe();
    expect(running.state.paused).toBe(false);
    expect(running.spec.intervals).toEqual([expect.objectContaining({ every: HOUR })]);
    // The immediate run, started through the schedule.
    await eventually(async () => {
      for (const id of first) expect(await loadSnapshot(h.pool, id)).toBeNull();
    }, 20_000);
    expect((await handle.describe()).info.recentActions.length).toBe(1);

    const stopping = job.stop();
    expect(job.isRunning()).toBe(false);
    await stopping;
    expect((await handle.describe()).state.paused).toBe(true);
    await job.stop(); // idempotent

    // runOnce works whether or not the job runs, and returns the count.
    const more = await seedExpired(h, 2);
    expect(await job.runOnce()).toBe(2);
    for (const id of more) expect(await loadSnapshot(h.pool, id)).toBeNull();

    // Cancelling through an AbortSignal stops it too.
    const controller = new AbortController();
    await job.start(controller.signal);
    expect(job.isRunning()).toBe(true);
    controller.abort();
    expect(job.isRunning()).toBe(false);
    await eventually(async () => expect((await handle.describe()).state.paused).toBe(true));
  });
});
