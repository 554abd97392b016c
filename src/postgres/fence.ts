// The session actor's fenced SQL (migrations/2_session_fence.sql): claim a session on load, write snapshots that a
// deletion can never be undone by, delete with a tombstone, expire idle sessions without an actor, purge tombstones.
// Used by the actor's activities (activities/index.ts) and the retention path (src/temporal/erasure.ts).
import { contextData, query, rowToSnapshot, type Queryable } from './snapshots';
import type { SessionSnapshot } from '../session-rules';
import type { ClaimAnswer, PersistOutcome } from '../../workflows/lifecycle';
import type { TranscriptBatch } from '../../workflows/messages';

interface ClaimRow {
  user_id: number | null;
  agent_type: string | null;
  context_data: unknown;
  created_at: string | number | null;
  updated_at: string | number | null;
  version: string | number | null;
  born_version: string | number | null;
  tombstone_version: string | number | null;
}

const CLAIM = `SELECT * FROM ds_claim_session($1::text, $2::text)`;

/** Loads a session for its actor and records `holder` (the actor's chain id) as the one holding it. */
export async function claimSession(db: Queryable, sessionId: string, holder: string): Promise<ClaimAnswer> {
  const { rows } = await query<ClaimRow>(db, 'load snapshot', CLAIM, [sessionId, holder]);
  const row = rows[0];
  if (!row || row.version === null)
    return { kind: 'missing', floorVersion: Number(row?.tombstone_version ?? 0) };
  try {
    const snapshot = rowToSnapshot({
      session_id: sessionId,
      user_id: row.user_id as number,
      agent_type: row.agent_type ?? '',
      context_data: row.context_data,
      created_at: row.created_at as string | number,
      updated_at: row.updated_at as string | number,
      version: row.version,
    });
    return { kind: 'found', snapshot, bornVersion: Number(row.born_version ?? 1) };
  } catch (err) {
    return {
      kind: 'corrupt',
      reason: (err as Error).message,
      userId: row.user_id as number,
      version: Number(row.version),
      updatedAt: Number(row.updated_at),
    };
  }
}

const PERSIST = `SELECT outcome, tombstone_version FROM ds_persist_session($1::text, $2::integer, $3::text,
  $4::jsonb, $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::text, $10::jsonb)`;

/**
 * Writes the actor's snapshot and the transcript messages that came with it: 'written', 'stale' (Postgres holds this
 * version or a newer one: retries and reordered writes are harmless) or 'fenced' (this incarnation was deleted;
 * nothing was written).
 */
export async function persistSession(
  db: Queryable,
  snap: SessionSnapshot,
  bornVersion: number,
  holder: string,
  transcript: TranscriptBatch[] = [],
): Promise<PersistOutcome> {
  const c = snap.context;
  const { rows } = await query<{ outcome: PersistOutcome['outcome']; tombstone_version: string | null }>(
    db,
    'persist snapshot',
    PERSIST,
    [
      c.sessionId,
      c.userId,
      c.agentType ?? '',
      contextData(c),
      c.createdAt,
      c.updatedAt,
      snap.version,
      bornVersion,
      holder,
      transcript.length > 0 ? JSON.stringify(transcript) : null,
    ],
  );
  const row = rows[0];
  return row.outcome === 'fenced'
    ? { outcome: 'fenced', tombstoneVersion: Number(row.tombstone_version) }
    : { outcome: row.outcome };
}

const DELETE = `SELECT ds_delete_session($1::text, $2::bigint) AS fence`;

/** Deletes a session, leaving a tombstone at its last version (at least `version`). Returns the tombstone's version. */
export async function deleteSessionFenced(
  db: Queryable,
  sessionId: string,
  version: number,
): Promise<number> {
  const { rows } = await query<{ fence: string | number }>(db, 'delete session', DELETE, [
    sessionId,
    version,
  ]);
  return Number(rows[0].fence);
}

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
