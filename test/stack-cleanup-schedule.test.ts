// Starting workers never runs a retention cleanup: startStack (what `npm start` and `durable-sessions worker` run)
// only makes sure the cleanup Schedule exists. Two stacks at once, then a restart, on the shared test stack.
import { loadConfig } from '../src/config';
import { silentLogger } from '../src/logger';
import { insertSnapshotsRaw, loadSnapshot } from '../src/postgres/snapshots';
import { type Stack, startStack } from '../src/runtime/stack';
import { cleanupScheduleId } from '../src/retention/schedule';
import { makeContext, nowSec, uniqueIds } from './support/contract';
import { createTestDatabase, type TestDatabase, testStack, uniqueTaskQueue } from './support/stack';
import { sleep } from '../src/runtime/process';

const HOUR = 3_600_000;

describe('starting workers and the cleanup Schedule', () => {
  let db: TestDatabase;
  const taskQueue = uniqueTaskQueue('stack-cleanup');
  const stacks: Stack[] = [];
  const config = (): ReturnType<typeof loadConfig> =>
    loadConfig({
      TEMPORAL_ADDRESS: testStack().temporalAddress,
      TEMPORAL_NAMESPACE: testStack().namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: db.url,
      DS_WORKFLOW_BUNDLE: testStack().workflowBundlePath ?? '',
      SESSION_CLEANUP_INTERVAL_MS: String(24 * HOUR),
    });
  const start = async (): Promise<Stack> => {
    const stack = await startStack(config(), { logger: silentLogger, worker: true });
    stacks.push(stack);
    return stack;
  };

  beforeAll(async () => {
    db = await createTestDatabase('stack_cleanup');
  });
  afterAll(async () => {
    const client = stacks[stacks.length - 1]?.client;
    await client?.schedule
      .getHandle(cleanupScheduleId(taskQueue))
      .delete()
      .catch(() => undefined);
    await Promise.all(stacks.map((s) => s.stop()));
    await db?.drop();
  });

  /** The cleanup workflows visibility knows of on this task queue (started by the schedule or anyone). */
  async function cleanupRuns(stack: Stack): Promise<string[]> {
    const ids: string[] = [];
    for await (const wf of stack.client.workflow.list({
      query: `WorkflowType = 'sessionCleanup' AND TaskQueue = '${taskQueue}'`,
    }))
      ids.push(wf.workflowId);
    return ids;
  }

  test('two workers starting together, and a restart, create one schedule and run no cleanup', async () => {
    const ids = uniqueIds();
    const longAgo = nowSec() - 90 * 86_400;
    const expired = makeContext(ids.sessionId('expired'), ids.userId(), {
      createdAt: longAgo,
      updatedAt: longAgo,
    });
    await insertSnapshotsRaw(db.pool, [expired]);

    const [a, b] = await Promise.all([start(), start()]);
    const scheduleOf = (stack: Stack) => stack.client.schedule.getHandle(cleanupScheduleId(taskQueue));
    let handle = scheduleOf(a);
    const described = await handle.describe();
    expect(described.spec.intervals).toEqual([expect.objectContaining({ every: 24 * HOUR })]);
    expect(described.action).toMatchObject({ workflowType: 'sessionCleanup', taskQueue });
    expect(described.state.paused).toBe(false);

    // A run the start-up triggered would show within a second or two (schedule, then visibility).
    await sleep(3_000);
    let info = (await handle.describe()).info;
    expect(info.recentActions).toEqual([]);
    expect(info.runningActions).toEqual([]);
    expect(await cleanupRuns(a)).toEqual([]);
    expect(await loadSnapshot(db.pool, expired.sessionId)).not.toBeNull();

    await Promise.all([a.stop(), b.stop()]);
    const again = await start();
    handle = scheduleOf(again);
    await sleep(3_000);
    info = (await handle.describe()).info;
    expect(info.recentActions).toEqual([]);
    expect(await cleanupRuns(again)).toEqual([]);
    expect(await loadSnapshot(db.pool, expired.sessionId)).not.toBeNull();

    // A schedule an operator paused stays paused when a worker starts.
    await handle.pause('test: maintenance');
    await again.stop();
    const last = await start();
    expect((await scheduleOf(last).describe()).state.paused).toBe(true);
  });
});
