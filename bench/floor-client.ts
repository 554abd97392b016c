// Client calls of the floor: a no-op Update, a no-op Signal and a bare update-with-start on the no-op workflow.
// Used by the latency, throughput, cold-start and SQLite workloads, on the same Client the service uses.
import { Client, WithStartWorkflowOperation } from '@temporalio/client';
import { backOff } from 'exponential-backoff';
import { isActorGone } from '../src/temporal/failures';
import { FLOOR_LOAD_WORKFLOW_TYPE, FLOOR_WORKFLOW_TYPE, floorSignal, floorUpdate } from './workflows/floor';

/** The floor continues as new every 500 ops like the actor does; an op that meets the closing run is retried. */
function retrying<T>(call: () => Promise<T>): Promise<T> {
  return backOff(call, { numOfAttempts: 12, startingDelay: 10, maxDelay: 500, jitter: 'full', retry: (e) => isActorGone(e) });
}

export class FloorClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  /** Starts a no-op workflow (idempotent on the id). */
  async start(workflowId: string): Promise<void> {
    await this.client.workflow.start(FLOOR_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: this.taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  }

  update(workflowId: string): Promise<null> {
    return retrying(() => this.client.workflow.getHandle(workflowId).executeUpdate(floorUpdate, { args: [{}] }));
  }

  /** The Signal floor uses the product's RPC: signal-with-start (the durable path's `submitTurn`). */
  async signal(workflowId: string): Promise<void> {
    await retrying(() =>
      this.client.workflow.signalWithStart(FLOOR_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        signal: floorSignal,
        signalArgs: [{}],
      }),
    );
  }

  /** A plain Signal to a running workflow (reported beside the signal-with-start floor). */
  signalPlain(workflowId: string): Promise<void> {
    return retrying(() => this.client.workflow.getHandle(workflowId).signal(floorSignal, {}));
  }

  /** The cold-start floor: update-with-start of a workflow id that has never run. */
  updateWithStart(workflowId: string): Promise<null> {
    return this.client.workflow.executeUpdateWithStart(floorUpdate, {
      args: [{}],
      startWorkflowOperation: new WithStartWorkflowOperation(FLOOR_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  }

  /** The cold-start floor with a load: update-with-start of a new workflow that reads `sessionId`'s row first. */
  updateWithStartLoading(workflowId: string, sessionId: string): Promise<null> {
    return this.client.workflow.executeUpdateWithStart(floorUpdate, {
      args: [{}],
      startWorkflowOperation: new WithStartWorkflowOperation(FLOOR_LOAD_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [sessionId],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  }

  async terminate(workflowId: string): Promise<void> {
    await this.client.workflow.getHandle(workflowId).terminate('benchmark done').catch(() => undefined);
  }
}
