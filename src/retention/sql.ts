// The SQL of retention (migrations 2 and 5): select a keyset batch of expired sessions, delete them under the
// sessions' fence (each leaving a tombstone) while recording the cleanup's progress in the same statement, count the
// expired, and purge what outlived the retention (tombstones, finished cleanups' progress).
// Used by the cleanup's batches (expire.ts), the cleanup activities (activities/cleanup.ts), the CLI and the API.
import { query, type Queryable } from '../postgres/snapshots';

/** A session past the cutoff, with the actor chain that last held it (null: none ever did). */
export interface ExpiryCandidate {
  sessionId: string;
  holder: string | null;
  /** Seconds since the holder loaded it (null when unknown). */
  claimedSecondsAgo: number | null;
}

const SELECT_CANDIDATES = `
SELECT session_id, holder, ds_epoch() - claimed_at AS claimed_ago FROM conversation_context
WHERE updated_at < $1::bigint
  AND ($2::text IS NULL OR session_id > $2::text)
ORDER BY session_id
LIMIT $3::integer`;

/** Expired sessions in id order after `afterId` (null for the first batch); deletes nothing. */
export async function selectExpiryCandidates(
  db: Queryable,
  cutoff: number,
  afterId: string | null,
  batchSize: number,
): Promise<ExpiryCandidate[]> {
  const { rows } = await query<{ session_id: string; holder: string | null; claimed_ago: string | null }>(
    db,
    'select expired sessions',
    SELECT_CANDIDATES,
    [cutoff, afterId, batchSize],
  );
  return rows.map((r) => ({
    sessionId: r.session_id,
    holder: r.holder,
    claimedSecondsAgo: r.claimed_ago === null ? null : Number(r.claimed_ago),
  }));
}

const EXPIRE_IDLE = `SELECT ds_expire_idle_sessions($1::text[], $2::text[], $3::bigint) AS session_id`;

/**
 * Deletes those candidates that are still expired and still held by the holder they had when selected (no actor
 * loaded them since), each leaving a tombstone. Returns the ids it deleted.
 */
export async function expireIdleSessions(
  db: Queryable,
  candidates: Pick<ExpiryCandidate, 'sessionId' | 'holder'>[],
  cutoff: number,
): Promise<string[]> {
  if (candidates.length === 0) return [];
  const { rows } = await query<{ session_id: string }>(db, 'expire idle sessions', EXPIRE_IDLE, [
    candidates.map((c) => c.sessionId),
    candidates.map((c) => c.holder),
    cutoff,
  ]);
  return rows.map((r) => r.session_id);
}

const PURGE_TOMBSTONES = `DELETE FROM session_tombstone WHERE deleted_at < $1::bigint`;

/** Forgets tombstones of sessions deleted before `cutoff` (Unix seconds); returns how many. */
export async function purgeTombstones(db: Queryable, cutoff: number): Promise<number> {
  const result = await query(db, 'purge tombstones', PURGE_TOMBSTONES, [cutoff]);
  return result.rowCount ?? 0;
}

/** Where a cleanup stands: the last id of its last committed batch and its totals so far. */
export interface CleanupProgress {
  after: string | null;
  deleted: number;
  kept: number;
  batches: number;
}

const READ_PROGRESS = `SELECT after_id, deleted, kept, batches FROM cleanup_progress WHERE cleanup_id = $1::text`;

/** The progress recorded for a cleanup (nothing yet: at the start, no totals). */
export async function readCleanupProgress(db: Queryable, cleanupId: string): Promise<CleanupProgress> {
  const { rows } = await query<{ after_id: string | null; deleted: string; kept: string; batches: string }>(
    db,
    'read cleanup progress',
    READ_PROGRESS,
    [cleanupId],
  );
  const r = rows[0];
  return r
    ? { after: r.after_id, deleted: Number(r.deleted), kept: Number(r.kept), batches: Number(r.batches) }
    : { after: null, deleted: 0, kept: 0, batches: 0 };
}

const EXPIRE_BATCH = `
SELECT ds_expire_batch($1::text, $2::bigint, $3::text[], $4::text[], $5::text, $6::bigint, $7::bigint) AS session_id`;

/**
 * One batch of a cleanup in one statement: deletes those of `cold` that are still expired and still held by the
 * holder they had when selected (each leaving a tombstone), and records the batch in the cleanup's progress (its last
 * id `last`, plus the sessions the batch's actors expired and kept). Returns the ids it deleted.
 */
export async function expireBatchRecorded(
  db: Queryable,
  batch: {
    cleanupId: string;
    cutoff: number;
    cold: Pick<ExpiryCandidate, 'sessionId' | 'holder'>[];
    last: string;
    expiredByActor: number;
    keptByActor: number;
  },
): Promise<string[]> {
  const { rows } = await query<{ session_id: string }>(db, 'expire a cleanup batch', EXPIRE_BATCH, [
    batch.cleanupId,
    batch.cutoff,
    batch.cold.map((c) => c.sessionId),
    batch.cold.map((c) => c.holder),
    batch.last,
    batch.expiredByActor,
    batch.keptByActor,
  ]);
  return rows.map((r) => r.session_id);
}

const PURGE_PROGRESS = `DELETE FROM cleanup_progress WHERE updated_at < $1::bigint`;

/** Forgets the progress of cleanups last advanced before `cutoff` (Unix seconds); returns how many. */
export async function purgeCleanupProgress(db: Queryable, cutoff: number): Promise<number> {
  const result = await query(db, 'purge cleanup progress', PURGE_PROGRESS, [cutoff]);
  return result.rowCount ?? 0;
}

const COUNT_EXPIRED = `
SELECT count(*)::bigint AS expired FROM conversation_context WHERE updated_at < $1::bigint`;

/** Sessions whose snapshot has `updated_at` strictly below `cutoff` (Unix seconds): what a cleanup would delete. */
export async function countExpired(db: Queryable, cutoff: number): Promise<number> {
  const result = await query<{ expired: string | number }>(db, 'count expired sessions', COUNT_EXPIRED, [
    cutoff,
  ]);
  return Number(result.rows[0]?.expired ?? 0);
}
