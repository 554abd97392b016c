// Erasure of a session's Temporal histories: delete exactly the runs of its workflow id that existed when it was
// removed (never one started after it), list every run of the session actors once for a cleanup, and the helpers
// retention shares (bounded concurrency, visibility quoting). Used by TemporalSessionService.deleteSession and by
// the cleanup's batches (expire.ts).
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { StorageError } from '../errors';
import { isActorGone } from '../temporal/failures';
import { SESSION_WORKFLOW_TYPE } from '../../workflows/messages';

/** Rounds of list-and-delete before giving up on visibility catching up (sleeps grow 50 ms per round). */
const ERASE_ROUNDS = 20;
/** Workflow ids per visibility query (`WorkflowId IN (...)`). */
const LIST_CHUNK = 100;
/** Deletes, updates and lists in flight at once. */
export const ERASE_CONCURRENCY = 16;
/** How long the run that removed a session may take to close after answering (it closes in the same task). */
const CLOSE_WAIT_MS = 30_000;

export interface RunRef {
  workflowId: string;
  runId: string;
  running: boolean;
  startTime: Date;
  closeTime?: Date;
}

/**
 * Deletes the history of the run `runId` (which removed the session) and of every run of the workflow id that
 * started before it. The removing run is waited for until it has closed: it may still hand durable turns received
 * after the removal to a successor run, which starts later and is never deleted. Returns the runs deleted.
 */
export async function eraseRunsThrough(client: Client, workflowId: string, runId: string): Promise<number> {
  const boundary = await waitClosed(client, workflowId, runId);
  // Already deleted by another erasure (a delete and an expiry of the same session): that erasure's boundary is at
  // or after this run, so every run before it is that erasure's to delete too.
  if (boundary === null) return 0;
  const deleted = new Set<string>();
  if (await deleteRun(client, { workflowId, runId })) deleted.add(runId);
  for (let round = 0; round < ERASE_ROUNDS; round++) {
    if (round > 0) await sleep(50 * round);
    const earlier = (await listRuns(client, [workflowId], 1)).filter(
      (r) => r.runId !== runId && !deleted.has(r.runId) && r.startTime.getTime() <= boundary.getTime(),
    );
    if (earlier.length === 0) break;
    await forEachLimit(earlier, ERASE_CONCURRENCY, async (run) => {
      if (await deleteRun(client, run)) deleted.add(run.runId);
    });
  }
  return deleted.size;
}

/**
 * Deletes every run of a workflow id, running or not. For answers of runs recorded before the lifecycle machine,
 * which do not say which run removed the session. Returns how many runs it deleted.
 */
export async function eraseWorkflowHistories(client: Client, workflowId: string): Promise<number> {
  const deleted = new Set<string>();
  for (let round = 0; round < ERASE_ROUNDS; round++) {
    if (round > 0) await sleep(50 * round);
    const runs = (await listRuns(client, [workflowId], 1)).filter((r) => !deleted.has(r.runId));
    if (runs.length === 0) break;
    await forEachLimit(runs, ERASE_CONCURRENCY, async (run) => {
      if (await deleteRun(client, run)) deleted.add(run.runId);
    });
  }
  return deleted.size;
}

/**
 * Every run of every session actor that Temporal keeps (running, or closed and within the namespace retention),
 * listed once by a cleanup so that its batches need no visibility query for sessions no actor claimed since.
 */
export interface RunIndex {
  /** When the listing started (this process' clock). */
  listedAtMs: number;
  runs: Map<string, RunRef[]>;
}

/**
 * Lists every session actor run into a RunIndex; null when Temporal keeps more than `maxRuns` (the batches then ask
 * visibility for their own ids, 100 per query). Expired sessions are mostly idle for weeks, past the namespace
 * retention: their runs are gone and the index has none of them.
 */
export async function indexSessionRuns(
  client: Client,
  maxRuns: number,
  onProgress?: () => void,
): Promise<RunIndex | null> {
  const query = `WorkflowType = ${quoteVisibility(SESSION_WORKFLOW_TYPE)}`;
  const listedAtMs = Date.now();
  if ((await client.workflow.count(query)).count > maxRuns) return null;
  const runs = new Map<string, RunRef[]>();
  let seen = 0;
  for await (const e of client.workflow.list({ query })) {
    addRun(runs, toRunRef(e));
    if (++seen % 1000 === 0) onProgress?.();
  }
  return { listedAtMs, runs };
}

/** Adds a run to the runs of its workflow id. */
export function addRun(runs: Map<string, RunRef[]>, run: RunRef): void {
  const listed = runs.get(run.workflowId);
  if (listed) listed.push(run);
  else runs.set(run.workflowId, [run]);
}

function toRunRef(e: WorkflowExecutionInfo): RunRef {
  return {
    workflowId: e.workflowId,
    runId: e.runId,
    running: e.status.name === 'RUNNING',
    startTime: e.startTime,
    closeTime: e.closeTime,
  };
}

/** Waits until the run has closed and returns its start time; null when the run no longer exists. */
async function waitClosed(client: Client, workflowId: string, runId: string): Promise<Date | null> {
  const deadline = Date.now() + CLOSE_WAIT_MS;
  for (let wait = 10; ; wait = Math.min(wait * 2, 500)) {
    let d;
    try {
      d = await client.workflow.getHandle(workflowId, runId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
    if (d.status.name !== 'RUNNING') return d.startTime;
    if (Date.now() > deadline)
      throw new StorageError(
        `${workflowId}: the run that removed the session has not closed; retry the delete`,
      );
    await sleep(wait);
  }
}

/** True when the workflow id's current run (or the given run) is running, as Temporal itself knows it. */
export async function isRunning(client: Client, workflowId: string, runId?: string): Promise<boolean> {
  return (await openRun(client, workflowId, runId)) !== undefined;
}

/** The workflow id's current run (or the given run) when it is running: its run id and start time. */
export async function openRun(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<{ runId: string; startTime: Date } | undefined> {
  try {
    const run = await client.workflow.getHandle(workflowId, runId).describe();
    return run.status.name === 'RUNNING' ? { runId: run.runId, startTime: run.startTime } : undefined;
  } catch (err) {
    if (isActorGone(err)) return undefined;
    throw err;
  }
}

export async function listRuns(
  client: Client,
  workflowIds: string[],
  concurrency: number,
): Promise<RunRef[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < workflowIds.length; i += LIST_CHUNK) chunks.push(workflowIds.slice(i, i + LIST_CHUNK));
  const runs: RunRef[] = [];
  await forEachLimit(chunks, concurrency, async (chunk) => {
    const query =
      chunk.length === 1
        ? `WorkflowId = ${quoteVisibility(chunk[0])}`
        : `WorkflowId IN (${chunk.map(quoteVisibility).join(', ')})`;
    for await (const e of client.workflow.list({ query })) runs.push(toRunRef(e));
  });
  return runs;
}

/** Deletes one run's history; false when it was already gone. */
export async function deleteRun(client: Client, run: Pick<RunRef, 'workflowId' | 'runId'>): Promise<boolean> {
  try {
    await client.workflowService.deleteWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId: run.workflowId, runId: run.runId },
    });
    return true;
  } catch (err) {
    if (/not found/i.test(String((err as Error)?.message))) return false;
    throw err;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; the first failure rejects (after the rest settle). */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure) throw failure.error;
}

/** A visibility query string literal; ids are restricted to [A-Za-z0-9._:-/] but escape anyway. */
export function quoteVisibility(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
