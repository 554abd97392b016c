// Destroying session keys that the actor's delete retired (migrations/7_session_key_retire.sql). A key is destroyed
// once no open run can hold its payloads: the run that deleted the session has closed (it answered the delete), and
// a later run, which could hold a write sealed with the key a moment before the delete (the next incarnation, started
// by it), has been sent on to a new run whose history starts from the actor's state, sealed with the new key. Whoever
// sent the delete does this at once (TemporalSessionService.deleteSession, the cleanup's expiry through actors); each
// cleanup sweeps what a caller that died in between left retired. Used by activities/cleanup.ts and src/temporal.
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { destroyRetiredKeys, staleRetiredKeys } from '../codec/session-keys';
import { sleep } from '../runtime/process';
import { isActorGone } from '../temporal/failures';
import { drainSignal, sessionWorkflowId } from '../../workflows/messages';
import { ERASE_CONCURRENCY, forEachLimit } from './erasure';

/** A retired key older than this is left by a caller that died (a delete's caller destroys it within seconds). */
export const RETIRED_KEY_GRACE_SECONDS = 600;
/** How long a later run is given to move to a new run before its session's keys are left to the next sweep. */
const MOVE_ON_MS = 5_000;
const SWEEP_BATCH = 1000;

/**
 * Destroys the retired keys of sessions whose deleting run has answered. `removedAt` is when each was retired (epoch
 * seconds), or, from the caller of the delete, `'answered'`: the run that retired it has closed. Returns the ids whose
 * keys went; the others are left retired for the next sweep (their removing run is still open, or a later run did not
 * move on in time).
 */
export async function destroyOnceClosed(
  pool: Pool,
  client: Client,
  sessions: readonly { sessionId: string; removedAt: number | 'answered' }[],
): Promise<string[]> {
  const closed: string[] = [];
  const movedOn: string[] = [];
  await forEachLimit([...sessions], ERASE_CONCURRENCY, async ({ sessionId, removedAt }) => {
    const runs = await noOpenRunHolds(client, sessionId, removedAt);
    if (runs === 'none open') closed.push(sessionId);
    else if (runs === 'moved on') movedOn.push(sessionId);
  });
  // No run is open: a live key without a row seals nothing any more (the removal's own result was its only use).
  await destroyRetiredKeys(pool, closed, { unused: true });
  // A later run is the next incarnation: its key stays.
  await destroyRetiredKeys(pool, movedOn);
  return [...closed, ...movedOn];
}

/**
 * Destroys the keys retired more than `graceSeconds` ago by deletes whose caller did not (see destroyOnceClosed).
 * Returns how many sessions' keys it destroyed.
 */
export async function sweepRetiredKeys(
  pool: Pool,
  client: Client,
  graceSeconds = RETIRED_KEY_GRACE_SECONDS,
): Promise<number> {
  let destroyed = 0;
  // Sessions left retired are read again by the next batch (oldest first): stop when one destroys nothing.
  for (;;) {
    const stale = await staleRetiredKeys(pool, graceSeconds, SWEEP_BATCH);
    const gone = await destroyOnceClosed(
      pool,
      client,
      stale.map((k) => ({ sessionId: k.sessionId, removedAt: k.retiredAt })),
    );
    destroyed += gone.length;
    if (gone.length === 0 || stale.length < SWEEP_BATCH) return destroyed;
  }
}

/**
 * Whether an open run of the session can still hold payloads sealed with its retired keys. None open: no. A run open
 * since before the retirement may be the removing run itself: not yet. A later one (the next incarnation) is asked to
 * move on (the drain signal: it continues as new, from the actor's state under its own key) and waited for.
 */
async function noOpenRunHolds(
  client: Client,
  sessionId: string,
  removedAt: number | 'answered',
): Promise<'none open' | 'moved on' | 'not yet'> {
  const handle = client.workflow.getHandle(sessionWorkflowId(sessionId));
  const current = await describeOpen(client, sessionId);
  if (!current) return 'none open';
  if (removedAt !== 'answered' && current.startTime.getTime() <= removedAt * 1000 + 1000) return 'not yet';
  try {
    await handle.signal(drainSignal);
  } catch (err) {
    if (isActorGone(err)) return 'none open';
    throw err;
  }
  const deadline = Date.now() + MOVE_ON_MS;
  while (Date.now() < deadline) {
    const now = await describeOpen(client, sessionId);
    if (!now) return 'none open';
    if (now.runId !== current.runId) return 'moved on';
    await sleep(50);
  }
  return 'not yet';
}

/** The session's current run if it is open. */
async function describeOpen(
  client: Client,
  sessionId: string,
): Promise<{ runId: string; startTime: Date } | undefined> {
  try {
    const run = await client.workflow.getHandle(sessionWorkflowId(sessionId)).describe();
    return run.status.name === 'RUNNING' ? { runId: run.runId, startTime: run.startTime } : undefined;
  } catch (err) {
    if (isActorGone(err)) return undefined;
    throw err;
  }
}
