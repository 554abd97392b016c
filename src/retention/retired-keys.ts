// Destroying session keys that the actor's delete retired (migrations/7_session_key_retire.sql). A key is destroyed
// once no open run can hold its payloads: the run that deleted the session has closed (it answered the delete), and
// a later run, which could hold a write sealed with the key a moment before the delete (the next incarnation, started
// by it), has been sent on to a new run whose history starts from the actor's state, sealed with the new key. Whoever
// sent the delete does this at once (TemporalSessionService.deleteSession, the cleanup's expiry through actors); each
// cleanup sweeps what a caller that died in between left retired. Used by activities/cleanup.ts and src/temporal.
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { forgetSessionKeys } from '../codec/session-keys';
import { type Queryable, query } from '../postgres/snapshots';
import { sleep } from '../runtime/process';
import { isActorGone } from '../temporal/failures';
import { drainSignal, sessionWorkflowId } from '../../workflows/messages';
import { ERASE_CONCURRENCY, forEachLimit, openRun } from './erasure';

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
  const workflowId = sessionWorkflowId(sessionId);
  const current = await openRun(client, workflowId);
  if (!current) return 'none open';
  if (removedAt !== 'answered' && current.startTime.getTime() <= removedAt * 1000 + 1000) return 'not yet';
  try {
    await client.workflow.getHandle(workflowId).signal(drainSignal);
  } catch (err) {
    if (isActorGone(err)) return 'none open';
    throw err;
  }
  const deadline = Date.now() + MOVE_ON_MS;
  while (Date.now() < deadline) {
    const now = await openRun(client, workflowId);
    if (!now) return 'none open';
    if (now.runId !== current.runId) return 'moved on';
    await sleep(50);
  }
  return 'not yet';
}

/**
 * Destroys the retired keys of these sessions: call once the run that deleted them has answered (so no task of it
 * runs again). With `unused`, also the live key of each that has no row (made after the retirement, for the removing
 * run's last payloads): only for sessions with no open run. From then on every copy of their payloads is unreadable.
 * Returns how many keys it destroyed.
 */
export async function destroyRetiredKeys(
  db: Queryable,
  sessionIds: readonly string[],
  options: { unused?: boolean } = {},
): Promise<number> {
  if (sessionIds.length === 0) return 0;
  const { rows } = await query<{ n: string }>(
    db,
    'destroy session keys',
    'SELECT ds_destroy_retired_keys($1::text[], $2::boolean) AS n',
    [sessionIds, options.unused ?? false],
  );
  forgetSessionKeys(sessionIds);
  return Number(rows[0].n);
}

/**
 * Sessions whose keys a delete's caller left: a key retired at least `olderThanSeconds` ago, or a live key that old
 * whose session has no row; each with the time of its newest such key (epoch seconds); at most `limit`, oldest first.
 */
export async function staleRetiredKeys(
  db: Queryable,
  olderThanSeconds: number,
  limit: number,
): Promise<{ sessionId: string; retiredAt: number }[]> {
  const { rows } = await query<{ session_id: string; retired_at: string }>(
    db,
    'retired session keys',
    `SELECT k.session_id, max(coalesce(k.retired_at, k.created_at)) AS retired_at FROM session_key k
     WHERE coalesce(k.retired_at, k.created_at) <= ds_epoch() - $1::bigint
       AND (k.retired_at IS NOT NULL
            OR NOT EXISTS (SELECT 1 FROM conversation_context c WHERE c.session_id = k.session_id))
     GROUP BY k.session_id ORDER BY min(coalesce(k.retired_at, k.created_at)) LIMIT $2::integer`,
    [Math.max(0, Math.floor(olderThanSeconds)), limit],
  );
  return rows.map((r) => ({ sessionId: r.session_id, retiredAt: Number(r.retired_at) }));
}
