// A stopping worker hands its sessions to the workers that still poll (issue 15: a rolling restart stalls nothing).
// While it shuts down, the SDK keeps asking the server for each cached run's next task with every completion (sticky
// attributes and `return_new_workflow_task` on every workflow task completion), so under steady load a draining
// worker keeps its busy sessions to the end of its grace period, and a SIGKILL then leaves them waiting on its sticky
// queue. The actor tells its worker which runs it holds (workflow sinks, workflows/messages.ts HeldRunSinks); on
// stop, after polling has stopped, the worker signals each of them `drain`, and each continues as new: a new run's
// first task goes to the task queue, which only the other workers poll. Used by createSessionWorker and the stack.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { InjectedSinks } from '@temporalio/worker';
import { drainSignal, type HeldRunSinks } from '../../workflows/messages';
import { forEachLimit } from '../retention/erasure';

/** More than any worker caches by default (the SDK's maxCachedWorkflows is far below). */
const MAX_HELD = 20_000;
const DRAIN_CONCURRENCY = 32;

export class HeldRuns {
  /** Workflow ids, oldest first (a Map keeps insertion order). */
  private readonly held = new Map<string, true>();

  constructor(private readonly max: number = MAX_HELD) {}

  /** The sinks the worker is created with. `holds` runs during replay too: a run replayed here is held here. */
  sinks(): InjectedSinks<HeldRunSinks> {
    return {
      heldRuns: {
        holds: { fn: (info) => this.add(info.workflowId), callDuringReplay: true },
        releases: {
          fn: (info) => {
            this.held.delete(info.workflowId);
          },
        },
      },
    };
  }

  get size(): number {
    return this.held.size;
  }

  private add(workflowId: string): void {
    this.held.delete(workflowId);
    this.held.set(workflowId, true);
    if (this.held.size > this.max) this.held.delete(this.held.keys().next().value as string);
  }

  /**
   * Signals `drain` to every session this worker holds (call it once the worker has stopped polling). A session that
   * has moved on meanwhile continues as new once more, harmlessly; one that has ended is skipped. Returns how many
   * were signalled.
   */
  async drain(client: Client): Promise<number> {
    const ids = [...this.held.keys()];
    this.held.clear();
    let signalled = 0;
    await forEachLimit(ids, DRAIN_CONCURRENCY, async (workflowId) => {
      try {
        await client.workflow.getHandle(workflowId).signal(drainSignal);
        signalled++;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
    });
    return signalled;
  }
}
