// The cleanup's batches: expire a keyset batch of sessions through their actor when one holds them, or by one
// guarded SQL statement when none does, then erase their runs; and expireRange, the loop the cleanup activity runs,
// batch after batch from where the cleanup's progress stands in Postgres. Used by activities/cleanup.ts.
import type { Client } from '@temporalio/client';
import { backOff } from 'exponential-backoff';
import type { Pool } from 'pg';
import { forgetSessionKeys } from '../codec/session-keys';
import { isActorGone, toSessionError } from '../temporal/failures';
import { expireSessionUpdate, sessionWorkflowId } from '../../workflows/messages';
import {
  ERASE_CONCURRENCY,
  type RunIndex,
  type RunRef,
  deleteRun,
  eraseRunsThrough,
  eraseWorkflowHistories,
  addRun,
  forEachLimit,
  indexSessionRuns,
  isRunning,
  listRuns,
} from './erasure';
import { destroyOnceClosed } from './retired-keys';
import type {
  ExpireBatchInput,
  ExpireBatchOutput,
  ExpireRangeInput,
  ExpireRangeOutput,
} from '../../activities/cleanup';
import {
  type CleanupProgress,
  type ExpiryCandidate,
  expireBatchRecorded,
  expireIdleSessions,
  readCleanupProgress,
  selectExpiryCandidates,
} from './sql';

/** Actor runs a cleanup lists once and holds in memory; beyond it, each batch asks visibility for its own ids. */
export const RUN_INDEX_MAX = 200_000;
/** How long one expireRange works before handing back to the workflow (which calls it again until done). */
export const EXPIRE_RANGE_BUDGET_MS = 120_000;

interface Deps {
  pool: Pool;
  client: Client;
  /** Payloads are sealed with keys per session: runs of deleted sessions are left to the namespace retention. */
  shredded?: boolean;
}

/**
 * Expires batch after batch from where the cleanup's progress stands, each batch's deletions and progress in one
 * statement, until none is left or the time budget is spent. A retry (its worker killed) continues after the last
 * batch that committed, with the same totals.
 */
export async function expireRange(
  deps: Deps,
  { cleanup_id, cutoff, batch_size }: ExpireRangeInput,
  heartbeat: () => void,
): Promise<ExpireRangeOutput> {
  const started = Date.now();
  const index = await indexSessionRuns(deps.client, RUN_INDEX_MAX, heartbeat);
  let progress = await readCleanupProgress(deps.pool, cleanup_id);
  let next = selectExpiryCandidates(deps.pool, cutoff, progress.after, batch_size);
  for (;;) {
    heartbeat();
    const candidates = await next;
    if (candidates.length === 0) return { done: true, ...totals(progress) };
    const last = candidates[candidates.length - 1].sessionId;
    const more = candidates.length === batch_size;
    // The next batch is selected while this one is deleted: it reads only ids after `last`, which this batch's
    // statement does not touch, and a session loaded or written in between is caught by the statement's guard as
    // always. If this batch fails, the selection is dropped and the retry starts from the recorded progress.
    next = more ? selectExpiryCandidates(deps.pool, cutoff, last, batch_size) : Promise.resolve([]);
    next.catch(() => undefined);
    const { expired, kept } = await expireSessions(deps.client, deps.pool, candidates, cutoff, {
      index,
      eraseRuns: !deps.shredded,
      onProgress: heartbeat,
      deleteCold: (cold, byActors) =>
        expireBatchRecorded(deps.pool, {
          cleanupId: cleanup_id,
          cutoff,
          cold,
          last,
          expiredByActor: byActors.expired,
          keptByActor: byActors.kept,
        }),
    });
    progress = {
      after: last,
      deleted: progress.deleted + expired.length,
      kept: progress.kept + kept.length,
      batches: progress.batches + 1,
    };
    if (!more) return { done: true, ...totals(progress) };
    if (Date.now() - started >= EXPIRE_RANGE_BUDGET_MS) return { done: false, ...totals(progress) };
  }
}

function totals(p: CleanupProgress): Omit<ExpireRangeOutput, 'done'> {
  return { deleted: p.deleted, kept: p.kept, batches: p.batches };
}

/** One batch, its position kept by the workflow (cleanups recorded before expireRange). */
export async function expireOneBatch(
  deps: Deps,
  { cutoff, after, batch_size, dry_run }: ExpireBatchInput,
  heartbeat: () => void,
): Promise<ExpireBatchOutput> {
  const candidates = await selectExpiryCandidates(deps.pool, cutoff, after, batch_size);
  const last = candidates.length > 0 ? candidates[candidates.length - 1].sessionId : after;
  if (dry_run || candidates.length === 0)
    return { selected: candidates.length, deleted: candidates.length, kept: 0, last };
  const { expired, kept } = await expireSessions(deps.client, deps.pool, candidates, cutoff, {
    eraseRuns: !deps.shredded,
    onProgress: heartbeat,
  });
  return { selected: candidates.length, deleted: expired.length, kept: kept.length, last };
}

/**
 * A session whose actor chain loaded it, or one of whose runs closed, this recently may have a running actor that
 * visibility does not show yet; it is asked about directly. Visibility lags by milliseconds on the dev server and
 * seconds on a busy cluster.
 */
const VISIBILITY_GRACE_SECONDS = 60;

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
    /**
     * Erase the runs of the sessions deleted (step 4); default true. False when their keys were destroyed with them:
     * the runs no longer decode, and the namespace retention removes them.
     */
    eraseRuns?: boolean;
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
  const runsOf = new Map<string, RunRef[]>();
  const unindexed: string[] = [];
  for (const c of candidates) {
    const workflowId = sessionWorkflowId(c.sessionId);
    const claimedSince = c.claimedSecondsAgo !== null && c.claimedSecondsAgo < sinceIndexed;
    if (!index || claimedSince) unindexed.push(workflowId);
    else runsOf.set(workflowId, index.runs.get(workflowId) ?? []);
  }
  for (const run of await listRuns(client, unindexed, concurrency)) addRun(runsOf, run);
  options.onProgress?.();
  // Held: an actor runs. Visibility says so for all but the last moments of a change: a run that started (claimed)
  // or closed (a continue-as-new, whose successor of the same chain may not show yet) within the grace period is
  // asked about directly. A new chain that started unseen is caught by the holder guard of the SQL in step 3.
  // Decided from the listing in one pass; only the sessions in the grace period wait for a describe each.
  const held = new Set<string>();
  const unsure: string[] = [];
  for (const c of candidates) {
    const runs = runsOf.get(sessionWorkflowId(c.sessionId)) ?? [];
    if (runs.some((r) => r.running)) held.add(c.sessionId);
    else if (
      (c.claimedSecondsAgo !== null && c.claimedSecondsAgo < VISIBILITY_GRACE_SECONDS) ||
      runs.some((r) => r.closeTime && now - r.closeTime.getTime() < VISIBILITY_GRACE_SECONDS * 1000)
    ) {
      unsure.push(c.sessionId);
    }
  }
  await forEachLimit(unsure, concurrency, async (sessionId) => {
    if (await isRunning(client, sessionWorkflowId(sessionId))) held.add(sessionId);
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

  // Their runs have answered: the keys their deletes retired go now (migrations/7_session_key_retire.sql).
  await destroyOnceClosed(
    pool,
    client,
    expired.map((sessionId) => ({ sessionId, removedAt: 'answered' as const })),
  );

  // 3. Cold sessions: one statement; a row written or loaded by an actor since it was selected survives.
  const deleteCold = options.deleteCold ?? ((rows) => expireIdleSessions(pool, rows, cutoff));
  const deleted = new Set(await deleteCold(cold, { expired: expired.length, kept: kept.length }));
  forgetSessionKeys(deleted);
  options.onProgress?.();
  for (const c of cold) (deleted.has(c.sessionId) ? expired : kept).push(c.sessionId);

  // 4. Erase: through the removing run for the actor-expired; the listed runs (all closed) for the SQL-expired.
  // Not when the sessions' keys went with them: what their runs hold no longer decodes.
  if (options.eraseRuns === false) return { expired, kept };
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

/** How often an expiry asks again when the run it reached ended under it and a run of its chain still runs. */
const SUCCESSOR_ATTEMPTS = 12;

/**
 * Sends `expireSession` to the session's current run; 'gone' only when no actor runs. A run that ended under the
 * update (a continue-as-new, a hand-over) leaves a successor of the same chain holding the session, under the same
 * holder: the SQL path's guard cannot tell it from an ended chain, and would delete the row behind a live actor, which
 * would go on answering with a session Postgres no longer has until its next write is fenced. So the update goes to
 * the successor. (Read from the code; this server hands an update that meets a continue-as-new to the next run
 * itself, so test/lifecycle.test.ts could not make the race happen.)
 */
async function expireThroughActor(client: Client, sessionId: string, cutoff: number): Promise<ActorOutcome> {
  const workflowId = sessionWorkflowId(sessionId);
  const handle = client.workflow.getHandle(workflowId);
  let chainRunning = true;
  try {
    const answer = await backOff(() => handle.executeUpdate(expireSessionUpdate, { args: [{ cutoff }] }), {
      numOfAttempts: SUCCESSOR_ATTEMPTS,
      startingDelay: 20,
      maxDelay: 500,
      // Asked again only while a run of the chain runs; no run at all means no actor holds the session.
      retry: async (err) => isActorGone(err) && (chainRunning = await isRunning(client, workflowId)),
    });
    return answer.expired ? { runId: answer.run_id } : 'kept';
  } catch (err) {
    if (!isActorGone(err)) throw toSessionError(err, sessionId);
    // Still refused by a running chain after every attempt (its tasks fail, say): left for the next cleanup, never
    // deleted behind it, and the rest of the batch goes on.
    return chainRunning ? 'kept' : 'gone';
  }
}
