// The floor of the benchmark: a workflow that does nothing but accept a no-op Update and a no-op Signal.
// Bundled on its own (bench/workflows/index.ts) and run by its own worker on its own task queue.
import { allHandlersFinished, condition, continueAsNew, defineSignal, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';

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
