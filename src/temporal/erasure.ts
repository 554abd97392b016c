// Erasure and expiry on Temporal: delete every run's history of a session's workflow id, and expire a batch of
// sessions through their actor when it runs (single writer) or by one guarded SQL statement when it does not.
// Used by TemporalSessionService.deleteSession and by the cleanup activities (activities/cleanup.ts).
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { deleteExpiredAmong } from '../postgres/expiry';
import {
  expireSessionUpdate,
  sessionWorkflowId,
  SESSION_WORKFLOW_TYPE,
  statusQuery,
  WORKFLOW_ID_PREFIX,
} from '../../workflows/messages';
import { isActorGone, toSessionError } from './failures';

/** Rounds of list-and-delete before giving up on visibility catching up (sleeps grow 50 ms per round). */
const ERASE_ROUNDS = 20;
/** Workflow ids per visibility query (`WorkflowId IN (...)`). */
const LIST_CHUNK = 100;
/** Deletes, updates and lists in flight at once. */
export const ERASE_CONCURRENCY = 16;
const RUNNING_ACTORS = `WorkflowType = '${SESSION_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;

export interface EraseOptions {
  concurrency?: number;
  /**
   * Asked once per workflow id that visibility shows with a running run: true deletes that run too, false leaves
   * it (and waits for it no longer). Without it, running runs are deleted (which terminates them).
   */
  mayDeleteRunning?: (workflowId: string) => Promise<boolean>;
  /** Called after every list and every few deletes (the cleanup activity heartbeats here). */
  onProgress?: () => void;
}

interface RunRef {
  workflowId: string;
  runId: string;
  running: boolean;
}

/**
 * Deletes the history of every execution (each continue-as-new run is one) of a workflow id. Visibility is
 * eventually consistent, so it lists and deletes until the list comes back empty; when the first list finds
 * nothing (a session that never had an actor) it returns at once. Returns how many runs it deleted.
 */
export function eraseWorkflowHistories(
  client: Client,
  workflowId: string,
  options: EraseOptions = {},
): Promise<number> {
  return eraseHistories(client, [workflowId], options);
}

/** eraseWorkflowHistories for many workflow ids: one visibility query per 100 ids, bounded concurrent deletes. */
export async function eraseHistories(
  client: Client,
  workflowIds: string[],
  options: EraseOptions = {},
): Promise<number> {
  const concurrency = options.concurrency ?? ERASE_CONCURRENCY;
  const asked = new Set<string>();
  const spared = new Set<string>();
  const deletedRuns = new Set<string>();
  let pending = [...new Set(workflowIds)];
  for (let round = 0; round < ERASE_ROUNDS && pending.length > 0; round++) {
    if (round > 0) await sleep(50 * round);
    const runs = (await listRuns(client, pending, concurrency)).filter(
      (r) => !(r.running && spared.has(r.workflowId)),
    );
    options.onProgress?.();
    if (runs.length === 0) break;

    const ask = options.mayDeleteRunning;
    if (ask) {
      const toAsk = [
        ...new Set(runs.filter((r) => r.running && !asked.has(r.workflowId)).map((r) => r.workflowId)),
      ];
      await forEachLimit(toAsk, concurrency, async (workflowId) => {
        asked.add(workflowId);
        if (!(await ask(workflowId))) spared.add(workflowId);
      });
    }
    const doomed = runs.filter((r) => !(r.running && spared.has(r.workflowId)));
    await forEachLimit(doomed, concurrency, async (run, i) => {
      if (await deleteRun(client, run)) deletedRuns.add(run.runId);
      if (i % concurrency === 0) options.onProgress?.();
    });
    // Only ids that still had something are listed again, until visibility shows none of their runs.
    pending = [...new Set(doomed.map((r) => r.workflowId))];
  }
  return deletedRuns.size;
}

export interface ExpireBatchResult {
  /** Sessions deleted (by their actor or by SQL). */
  expired: string[];
  /** Sessions kept: their actor holds a state written at or after the cutoff. */
  kept: string[];
}

/**
 * Expires a batch of sessions whose snapshot was older than `cutoff`. Each running actor (found by one visibility
 * query per 100 ids) is asked first, through its `expireSession` update, and decides on its own state: a turn
 * racing the expiry is either before it, and the session is kept, or after it, and meets no session. The rest are
 * deleted by one SQL statement that re-checks the cutoff. Then every run of every expired session is erased.
 */
export async function expireSessions(
  client: Client,
  pool: Pool,
  sessionIds: string[],
  cutoff: number,
  options: { concurrency?: number; onProgress?: () => void } = {},
): Promise<ExpireBatchResult> {
  const concurrency = options.concurrency ?? ERASE_CONCURRENCY;
  const expired: string[] = [];
  const kept: string[] = [];
  const cold: string[] = [];

  // 1. Running actors, found by one visibility query per 100 ids, are asked; a session without one answers the
  //    SQL below. Visibility may miss an actor started a moment ago: step 3 asks it, once it shows.
  const running = new Set(
    (await listRuns(client, sessionIds.map(sessionWorkflowId), concurrency, RUNNING_ACTORS)).map((r) =>
      r.workflowId.slice(WORKFLOW_ID_PREFIX.length),
    ),
  );
  options.onProgress?.();
  for (const id of sessionIds) if (!running.has(id)) cold.push(id);
  await forEachLimit([...running], concurrency, async (sessionId, i) => {
    const outcome = await expireThroughActor(client, sessionId, cutoff);
    if (outcome === 'gone') cold.push(sessionId);
    else (outcome === 'expired' ? expired : kept).push(sessionId);
    if (i % concurrency === 0) options.onProgress?.();
  });

  // 2. Cold sessions: one statement; a row written since it was selected survives the re-check.
  const deleted = await deleteExpiredAmong(pool, cold, cutoff);
  options.onProgress?.();
  const deletedSet = new Set(deleted);

  // 3. Erase every run. A run still running here started after, or was not yet visible at, step 1 (a turn racing
  //    the expiry): its actor decides again. If it holds the session at a fresh state, the turn won and the session is kept.
  const mayDeleteRunning = async (workflowId: string): Promise<boolean> => {
    const sessionId = workflowId.slice(WORKFLOW_ID_PREFIX.length);
    const outcome = await expireThroughActor(client, sessionId, cutoff);
    if (outcome !== 'kept') return true;
    if (deletedSet.has(sessionId) && (await actorHoldsSession(client, workflowId))) {
      deletedSet.delete(sessionId);
      kept.push(sessionId);
    }
    return false;
  };
  const erasable = [...expired, ...deleted];
  await eraseHistories(client, erasable.map(sessionWorkflowId), {
    concurrency,
    mayDeleteRunning,
    onProgress: options.onProgress,
  });
  return { expired: [...expired, ...deleted.filter((id) => deletedSet.has(id))], kept };
}

type ActorOutcome = 'expired' | 'kept' | 'gone';

/** Sends `expireSession` to the session's current run; 'gone' when no actor runs. */
async function expireThroughActor(client: Client, sessionId: string, cutoff: number): Promise<ActorOutcome> {
  try {
    const { expired } = await client.workflow
      .getHandle(sessionWorkflowId(sessionId))
      .executeUpdate(expireSessionUpdate, { args: [{ cutoff }] });
    return expired ? 'expired' : 'kept';
  } catch (err) {
    if (isActorGone(err)) return 'gone';
    throw toSessionError(err, sessionId);
  }
}

async function actorHoldsSession(client: Client, workflowId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(workflowId).query(statusQuery)).exists;
  } catch (err) {
    if (isActorGone(err)) return false;
    throw err;
  }
}

async function listRuns(
  client: Client,
  workflowIds: string[],
  concurrency: number,
  filter?: string,
): Promise<RunRef[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < workflowIds.length; i += LIST_CHUNK) chunks.push(workflowIds.slice(i, i + LIST_CHUNK));
  const runs: RunRef[] = [];
  await forEachLimit(chunks, concurrency, async (chunk) => {
    const ids =
      chunk.length === 1
        ? `WorkflowId = ${quoteVisibility(chunk[0])}`
        : `WorkflowId IN (${chunk.map(quoteVisibility).join(', ')})`;
    const query = filter ? `${filter} AND ${ids}` : ids;
    for await (const e of client.workflow.list({ query })) {
      runs.push({ workflowId: e.workflowId, runId: e.runId, running: e.status.name === 'RUNNING' });
    }
  });
  return runs;
}

/** Deletes one run's history; false when it was already gone. */
async function deleteRun(client: Client, run: RunRef): Promise<boolean> {
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
