// The floor of the benchmark: a workflow that does nothing but accept a no-op Update and a no-op Signal; and the
// cold start's second floor, which reads one row from Postgres in an activity before it answers.
// Bundled on its own (bench/workflows/index.ts) and run by its own worker on its own task queue.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';

export const FLOOR_WORKFLOW_TYPE = 'benchFloor';
export const floorUpdate = defineUpdate<null, [unknown]>('noop');
export const floorSignal = defineSignal<[unknown]>('noop');

/** Like the actor, a run continues as new well before Temporal's 2,000-updates-per-run limit. */
const OPS_PER_RUN = 500;

export async function benchFloor(): Promise<void> {
  let ops = 0;
  setHandler(floorUpdate, () => {
    ops++;
    return null;
  });
  setHandler(floorSignal, () => {
    ops++;
  });
  await condition(() => ops >= OPS_PER_RUN || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  await continueAsNew<typeof benchFloor>();
}

export const FLOOR_LOAD_WORKFLOW_TYPE = 'benchFloorLoad';

/** The floor worker's one activity: reads a session's row (bench/worker-process.ts). */
export interface FloorActivities {
  floorLoad(sessionId: string): Promise<number>;
}

// As the actor's Postgres work: a regular activity on the workflow's own task queue, eagerly dispatched to its worker.
const floor = proxyActivities<FloorActivities>({ startToCloseTimeout: '10 seconds' });

/**
 * What a cold start costs with the least a fenced load can do: the update waits until one activity has read the
 * session's row from Postgres (the actor's claim does that under the session's lock, and records its holder).
 */
export async function benchFloorLoad(sessionId: string): Promise<void> {
  let loaded = false;
  let answered = false;
  setHandler(floorUpdate, async () => {
    await condition(() => loaded);
    answered = true;
    return null;
  });
  await floor.floorLoad(sessionId);
  loaded = true;
  await condition(() => answered);
  await condition(allHandlersFinished);
}
