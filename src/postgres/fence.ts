// The session actor's fenced SQL (migrations/2_session_fence.sql): claim a session on load, write snapshots that a
// deletion can never be undone by, delete with a tombstone. Used by the actor's activities (activities/index.ts);
// retention's fenced SQL is src/retention/sql.ts.
import { rowToSnapshot } from './rows';
import { contextData, query, type Queryable } from './snapshots';
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
