// Erasure and expiry on Temporal: delete exactly the runs of a session's workflow id that existed when the session
// was removed (never one started after it), and expire a batch of sessions through their actor when one holds them,
// or by one guarded SQL statement when none does. Used by TemporalSessionService.deleteSession and activities/cleanup.ts.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Pool } from 'pg';
import { forgetSessionKey } from '../codec/session-keys';
import { StorageError } from '../errors';
import { type ExpiryCandidate, expireIdleSessions } from '../postgres/expiry';
import { SESSION_WORKFLOW_TYPE, expireSessionUpdate, sessionWorkflowId } from '../../workflows/messages';
import { isActorGone, toSessionError } from './failures';

/** Rounds of list-and-delete before giving up on visibility catching up (sleeps grow 50 ms per round). */
const ERASE_ROUNDS = 20;
/** Workflow ids per visibility query (`WorkflowId IN (...)`). */
const LIST_CHUNK = 100;
/** Deletes, updates and lists in flight at once. */
export const ERASE_CONCURRENCY = 16;
/** How long the run that removed a session may take to close after answering (it closes in the same task). */
const CLOSE_WAIT_MS = 30_000;
/**
 * A session whose actor chain loaded it, or one of whose runs closed, this recently may have a running actor that
 * visibility does not show yet; it is asked about directly. Visibility lags by milliseconds on the dev server and
 * seconds on a busy cluster.
 */
const VISIBILITY_GRACE_SECONDS = 60;

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
    const run = {
      workflowId: e.workflowId,
      runId: e.runId,
      running: e.status.name === 'RUNNING',
      startTime: e.startTime,
      closeTime: e.closeTime,
    };
    const listed = runs.get(e.workflowId);
    if (listed) listed.push(run);
    else runs.set(e.workflowId, [run]);
    if (++seen % 1000 === 0) onProgress?.();
  }
  return { listedAtMs, runs };
}

export interface ExpireBatchResult {
  /** Sessions deleted (by their actor or by SQL). */
  expired: string[];
  /** Sessions kept: their actor holds a state written at or after the cutoff, or one loaded them meanwhile. */
  kept: string[];
}

/**
 * Expires a batch of sessions whose snapshot was older than `cutoff`. A session held by a running actor is asked
 * through its `expireSession` update and decides on its own state: a turn racing the expiry is either before it
 * (kept) or after it (it meets no session). The rest are deleted by one SQL statement that re-checks the cutoff and
 * that no actor loaded them since they were selected. Then exactly the runs that existed at each removal are erased.
 */
export async function expireSessions(
  client: Client,
  pool: Pool,
  candidates: ExpiryCandidate[],
  cutoff: number,
  options: {
    concurrency?: number;
    onProgress?: () => void;
    /** The cleanup's listing of every actor run (see indexSessionRuns), used for sessions claimed before it. */
    index?: RunIndex | null;
    /**
     * Step 3, the SQL deletion of the sessions no actor holds, given what the batch's actors did; answers the ids it
     * deleted. By default the fenced statement of migration 2, which records nothing else.
     */
    deleteCold?: (cold: ExpiryCandidate[], byActors: { expired: number; kept: number }) => Promise<string[]>;
  } = {},
): Promise<ExpireBatchResult> {
  const concurrency = options.concurrency ?? ERASE_CONCURRENCY;
  const expired: string[] = [];
  const kept: string[] = [];
  const index = options.index ?? null;
  // "Closed recently" is counted back from the index's listing when there is one (the earlier, so the wider, window).
  const now = index ? index.listedAtMs : Date.now();

  // 1. Every run of every candidate, listed before anything is deleted: a session deleted by SQL loses exactly these.
  // From the cleanup's index for a session no actor claimed since shortly before the index was made (a chain that
  // started later has claimed it); by a query of its own otherwise.
  const sinceIndexed = index ? (Date.now() - index.listedAtMs) / 1000 + VISIBILITY_GRACE_SECONDS : 0;
  const unindexed = index
    ? candidates.filter((c) => c.claimedSecondsAgo !== null && c.claimedSecondsAgo < sinceIndexed)
    : candidates;
  const runsOf = new Map<string, RunRef[]>();
  if (index) {
    for (const c of candidates) {
      const workflowId = sessionWorkflowId(c.sessionId);
      const indexed = index.runs.get(workflowId);
      if (indexed) runsOf.set(workflowId, indexed);
    }
  }
  for (const c of unindexed) runsOf.delete(sessionWorkflowId(c.sessionId));
  const listed = await listRuns(
    client,
    unindexed.map((c) => sessionWorkflowId(c.sessionId)),
    concurrency,
  );
  options.onProgress?.();
  for (const r of listed) runsOf.set(r.workflowId, [...(runsOf.get(r.workflowId) ?? []), r]);
  // Held: an actor runs. Visibility says so for all but the last moments of a change: a run that started (claimed)
  // or closed (a continue-as-new, whose successor of the same chain may not show yet) within the grace period is
  // asked about directly. A new chain that started unseen is caught by the holder guard of the SQL in step 3.
  const held = new Set<string>();
  await forEachLimit(candidates, concurrency, async (c) => {
    const workflowId = sessionWorkflowId(c.sessionId);
    const listed = runsOf.get(workflowId) ?? [];
    if (listed.some((r) => r.running)) held.add(c.sessionId);
    else if (
      (c.claimedSecondsAgo !== null && c.claimedSecondsAgo < VISIBILITY_GRACE_SECONDS) ||
      listed.some((r) => r.closeTime && now - r.closeTime.getTime() < VISIBILITY_GRACE_SECONDS * 1000)
    ) {
      if (await isRunning(client, workflowId)) held.add(c.sessionId);
    }
  });

  // 2. Held sessions: their actor decides (and deletes through its single writer).
  const cold: ExpiryCandidate[] = candidates.filter((c) => !held.has(c.sessionId));
  const erasures: { workflowId: string; runId?: string }[] = [];
  await forEachLimit([...held], concurrency, async (sessionId, i) => {
    const outcome = await expireThroughActor(client, sessionId, cutoff);
    if (outcome === 'gone') cold.push(candidates.find((c) => c.sessionId === sessionId) as ExpiryCandidate);
    else if (outcome === 'kept') kept.push(sessionId);
    else {
      expired.push(sessionId);
      erasures.push({ workflowId: sessionWorkflowId(sessionId), runId: outcome.runId });
    }
    if (i % concurrency === 0) options.onProgress?.();
  });

  // 3. Cold sessions: one statement; a row written or loaded by an actor since it was selected survives.
  const deleteCold = options.deleteCold ?? ((rows) => expireIdleSessions(pool, rows, cutoff));
  const deleted = new Set(await deleteCold(cold, { expired: expired.length, kept: kept.length }));
  for (const id of deleted) forgetSessionKey(id);
  options.onProgress?.();
  for (const c of cold) (deleted.has(c.sessionId) ? expired : kept).push(c.sessionId);

  // 4. Erase: through the removing run for the actor-expired; the listed runs (all closed) for the SQL-expired.
  await forEachLimit(erasures, concurrency, async ({ workflowId, runId }) => {
    // A run recorded before the lifecycle machine does not name itself: every run of the id goes, as it used to.
    await (runId ? eraseRunsThrough(client, workflowId, runId) : eraseWorkflowHistories(client, workflowId));
  });
  const runsOfDeleted = [...deleted].flatMap((id) => runsOf.get(sessionWorkflowId(id)) ?? []);
  await forEachLimit(runsOfDeleted, concurrency, async (run, i) => {
    // Listed as running a moment ago: delete it only once it has closed (it was the holder, now gone).
    if (!run.running || !(await isRunning(client, run.workflowId, run.runId))) await deleteRun(client, run);
    if (i % concurrency === 0) options.onProgress?.();
  });
  return { expired, kept };
}

/** Expired (by the run `runId`; absent from runs recorded before the lifecycle machine), kept, or no actor runs. */
type ActorOutcome = { runId?: string } | 'kept' | 'gone';

/** Sends `expireSession` to the session's current run; 'gone' when no actor runs. */
async function expireThroughActor(client: Client, sessionId: string, cutoff: number): Promise<ActorOutcome> {
  const workflowId = sessionWorkflowId(sessionId);
  try {
    const answer = await client.workflow
      .getHandle(workflowId)
      .executeUpdate(expireSessionUpdate, { args: [{ cutoff }] });
    return answer.expired ? { runId: answer.run_id } : 'kept';
  } catch (err) {
    if (isActorGone(err)) return 'gone';
    throw toSessionError(err, sessionId);
  }
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
async function isRunning(client: Client, workflowId: string, runId?: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId, runId).describe()).status.name === 'RUNNING';
  } catch (err) {
    if (isActorGone(err)) return false;
    throw err;
  }
}

async function listRuns(client: Client, workflowIds: string[], concurrency: number): Promise<RunRef[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < workflowIds.length; i += LIST_CHUNK) chunks.push(workflowIds.slice(i, i + LIST_CHUNK));
  const runs: RunRef[] = [];
  await forEachLimit(chunks, concurrency, async (chunk) => {
    const query =
      chunk.length === 1
        ? `WorkflowId = ${quoteVisibility(chunk[0])}`
        : `WorkflowId IN (${chunk.map(quoteVisibility).join(', ')})`;
    for await (const e of client.workflow.list({ query })) {
      runs.push({
        workflowId: e.workflowId,
        runId: e.runId,
        running: e.status.name === 'RUNNING',
        startTime: e.startTime,
        closeTime: e.closeTime,
      });
    }
  });
  return runs;
}

/** Deletes one run's history; false when it was already gone. */
async function deleteRun(client: Client, run: Pick<RunRef, 'workflowId' | 'runId'>): Promise<boolean> {
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
