// A stopping worker hands its sessions to the workers that still poll (issue 15: a rolling restart stalls nothing).
// While it shuts down, the SDK keeps asking the server for each cached run's next task with every completion (sticky
// attributes and `return_new_workflow_task` on every workflow task completion), so under steady load a draining
// worker keeps its busy sessions to the end of its grace period, and a SIGKILL then leaves them waiting on its sticky
// queue. The actor tells its worker which runs it holds (workflow sinks, workflows/messages.ts HeldRunSinks); on
// stop the worker signals each of them `drain` and each continues as new, still here, from its cache; then it stops
// polling, so the next runs' tasks go to the other workers. Used by createSessionWorker and the stack.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { InjectedSinks } from '@temporalio/worker';
import { drainSignal, type HeldRunSinks } from '../../workflows/messages';
import { forEachLimit } from '../retention/erasure';
import { sleep } from '../runtime/process';

/** More than any worker caches by default (the SDK's maxCachedWorkflows is far below). */
const MAX_HELD = 20_000;
const DRAIN_CONCURRENCY = 32;
/** How long a stopping worker waits for its sessions to continue as new before it stops polling. */
const HAND_OVER_WAIT_MS = 5_000;

export class HeldRuns {
  /** Workflow id → the run this worker holds, oldest first (a Map keeps insertion order). */
  private readonly held = new Map<string, string>();
  /** While handing over: the runs signalled so far, and the client to signal the runs that start here meanwhile. */
  private handing?: { client: Client; signalled: Set<string> };

  constructor(private readonly max: number = MAX_HELD) {}

  /** The sinks the worker is created with. `holds` runs during replay too: a run replayed here is held here. */
  sinks(): InjectedSinks<HeldRunSinks> {
    return {
      heldRuns: {
        holds: { fn: (info) => this.add(info.workflowId, info.runId), callDuringReplay: true },
        releases: {
          fn: (info) => {
            if (this.held.get(info.workflowId) === info.runId) this.held.delete(info.workflowId);
          },
        },
      },
    };
  }

  private add(workflowId: string, runId: string): void {
    this.held.delete(workflowId);
    this.held.set(workflowId, runId);
    if (this.held.size > this.max) this.held.delete(this.held.keys().next().value as string);
    // A run that starts here while this worker hands over (a drained run continued as new here, it still polled) is
    // signalled as soon as it says so: it leaves too, whether that is before or after the worker stops polling.
    const handing = this.handing;
    if (handing && !handing.signalled.has(runKey(workflowId, runId))) {
      handing.signalled.add(runKey(workflowId, runId));
      void signalDrain(handing.client, [[workflowId, runId]]).catch(() => 0);
    }
  }

  /**
   * Hands every session this worker holds to the other workers, and stops the worker. First, while it still polls,
   * each held run is signalled `drain` and continues as new here, from its cache (a run handled elsewhere would be
   * replayed from its whole history first, seconds for a long one); this waits until those runs have ended, up to
   * `waitMs`. Then `stopPolling` (the worker's shutdown). A run that starts here from then on, or started meanwhile, is
   * signalled in turn as soon as it reports (`holds`): short histories, cheap wherever they are replayed. Returns how
   * many runs were signalled before it returned.
   */
  async handOver(client: Client, stopPolling: () => void, waitMs = HAND_OVER_WAIT_MS): Promise<number> {
    const first = [...this.held];
    const handing = { client, signalled: new Set(first.map(([id, run]) => runKey(id, run))) };
    this.handing = handing;
    let signalled = 0;
    try {
      signalled += await signalDrain(client, first);
      const deadline = Date.now() + waitMs;
      while (first.some(([id, run]) => this.held.get(id) === run) && Date.now() < deadline) await sleep(50);
    } finally {
      stopPolling();
    }
    const next = [...this.held].filter(([id, run]) => !handing.signalled.has(runKey(id, run)));
    for (const [id, run] of next) handing.signalled.add(runKey(id, run));
    return signalled + (await signalDrain(client, next));
  }
}

function runKey(workflowId: string, runId: string): string {
  return `${workflowId}\u0000${runId}`;
}

/** Signals `drain` to the current run of each workflow id; one that has ended is skipped. Returns how many. */
async function signalDrain(client: Client, runs: [string, string][]): Promise<number> {
  let signalled = 0;
  await forEachLimit(runs, DRAIN_CONCURRENCY, async ([workflowId]) => {
    try {
      await client.workflow.getHandle(workflowId).signal(drainSignal);
      signalled++;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  });
  return signalled;
}
