// The SQL of session snapshots in `conversation_context`: monotonic upsert, load, list pages, delete, expiry, seeding.
// Used by the session actor's activities, TemporalSessionService (reads of closed sessions) and PostgresSessionStore.
import type pg from 'pg';
import { normaliseLimit, type SessionSnapshot, validateAgentType, validateUserId } from '../session-rules';
import {
  type ConversationContext,
  type ListOptions,
  type SessionPage,
  toWireMessage,
  toWireSettings,
} from '../types';
import { decodeCursor, encodeCursor } from './cursor';
import { wrapPgError } from './errors';
import { type SnapshotRow, int, rowToSnapshot } from './rows';

/** A pool or a checked-out client (for callers that need a transaction). */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

interface SummaryRow {
  session_id: string;
  agent_type: string;
  last_message: string;
  updated_at: number | string;
}

/** Runs one parameterised statement; every driver error leaves here as a SessionError with `{ cause }`. */
export async function query<R extends pg.QueryResultRow>(
  db: Queryable,
  what: string,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  try {
    return await (db as Pick<pg.Pool, 'query'>).query<R>(text, values);
  } catch (err) {
    throw wrapPgError(err, what);
  }
}

/**
 * `context_data` as the reference stores it, `{metadata, messages}`, messages in their wire form; plus `settings`
 * when the session has any (a row without them is a session with the defaults).
 */
export function contextData(c: ConversationContext): string {
  const settings = c.settings && toWireSettings(c.settings);
  return JSON.stringify({
    metadata: c.metadata ?? {},
    messages: (c.messages ?? []).map(toWireMessage),
    ...(settings ? { settings } : {}),
  });
}

const SAVE_OWNED = `
INSERT INTO conversation_context AS c
  (session_id, user_id, agent_type, context_data, created_at, updated_at, version, persisted_at)
VALUES ($1::text, $2::integer, $3::text, $4::jsonb, $5::bigint, $6::bigint, 1, now())
ON CONFLICT (session_id) DO UPDATE SET
  agent_type = EXCLUDED.agent_type,
  context_data = EXCLUDED.context_data,
  updated_at = EXCLUDED.updated_at,
  version = c.version + 1,
  persisted_at = now()
WHERE c.user_id = EXCLUDED.user_id
RETURNING created_at, version`;

/**
 * PostgresSessionStore's save: inserts at version 1 or bumps the version, keeping owner and creation time.
 * Returns null when the id belongs to another user: ON CONFLICT locks the existing row and evaluates the
 * WHERE on its latest version, so "no row returned" can only mean the owner differs.
 */
export async function saveOwnedRow(
  db: Queryable,
  c: ConversationContext,
): Promise<{ createdAt: number; version: number } | null> {
  const result = await query<{ created_at: number | string; version: number | string }>(
    db,
    'save context',
    SAVE_OWNED,
    [c.sessionId, c.userId, c.agentType ?? '', contextData(c), c.createdAt, c.updatedAt],
  );
  const row = result.rows[0];
  return row ? { createdAt: int(row.created_at), version: int(row.version) } : null;
}

const LOAD_SNAPSHOT = `
SELECT session_id, user_id, agent_type, context_data, created_at, updated_at, version
FROM conversation_context
WHERE session_id = $1::text`;

/** The stored snapshot, or null. A row whose context_data is not `{metadata, messages}` is a StorageError. */
export async function loadSnapshot(db: Queryable, sessionId: string): Promise<SessionSnapshot | null> {
  const result = await query<SnapshotRow>(db, 'load snapshot', LOAD_SNAPSHOT, [sessionId]);
  const row = result.rows[0];
  return row ? rowToSnapshot(row) : null;
}

const LIST_SUMMARIES = `
SELECT session_id, agent_type, updated_at,
       coalesce(context_data->'messages'->-1->>'content', '') AS last_message
FROM conversation_context
WHERE user_id = $1::integer
  AND ($2::text IS NULL OR agent_type = $2::text)
  AND ($3::bigint IS NULL OR (updated_at, session_id) < ($3::bigint, $4::text))
ORDER BY updated_at DESC, session_id DESC
LIMIT $5::integer`;

/**
 * One page of a user's summaries, newest `updated_at` first, ties by session id descending. An empty
 * `agentType` means no filter. `nextCursor` is set when more rows follow (one extra row is fetched to know).
 */
export async function listSummaries(
  db: Queryable,
  userId: number,
  limit: number,
  options: ListOptions = {},
): Promise<SessionPage> {
  validateUserId(userId);
  const pageSize = normaliseLimit(limit);
  const agentType = options.agentType ? options.agentType : null;
  if (agentType !== null) validateAgentType(agentType);
  const after = options.cursor !== undefined ? decodeCursor(options.cursor) : null;
  const result = await query<SummaryRow>(db, 'list sessions', LIST_SUMMARIES, [
    userId,
    agentType,
    after?.updatedAt ?? null,
    after?.sessionId ?? null,
    pageSize + 1,
  ]);
  const rows = result.rows.slice(0, pageSize);
  const sessions = rows.map((r) => ({
    sessionId: r.session_id,
    agentType: r.agent_type,
    lastMessage: r.last_message,
    updatedAt: int(r.updated_at),
  }));
  const last = rows[rows.length - 1];
  return result.rows.length > pageSize && last
    ? { sessions, nextCursor: encodeCursor({ updatedAt: int(last.updated_at), sessionId: last.session_id }) }
    : { sessions };
}

const DELETE_SESSION = `DELETE FROM conversation_context WHERE session_id = $1::text`;

/** True when a row was deleted. */
export async function deleteSessionRow(db: Queryable, sessionId: string): Promise<boolean> {
  const result = await query(db, 'delete session', DELETE_SESSION, [sessionId]);
  return (result.rowCount ?? 0) > 0;
}

// From `$3` on in the updated_at index: a cleanup resumes each batch where the last one ended, instead of walking
// again over the index entries of the rows it has just deleted (dead until a vacuum), which made a cleanup of N rows
// cost N² / batch.
const DELETE_EXPIRED_BATCH = `
DELETE FROM conversation_context
WHERE session_id IN (
  SELECT session_id FROM conversation_context
  WHERE updated_at < $1::bigint AND updated_at >= $3::bigint
  ORDER BY updated_at
  LIMIT $2::integer
  FOR UPDATE SKIP LOCKED)
RETURNING session_id, updated_at`;

/**
 * Deletes up to `batchSize` sessions with `from ≤ updated_at < cutoff` (strictly below the cutoff), oldest first.
 * Returns their ids and the newest updated_at among them: the next batch's `from`.
 */
export async function deleteExpiredBatch(
  db: Queryable,
  cutoff: number,
  batchSize: number,
  from = Number.MIN_SAFE_INTEGER,
): Promise<{ ids: string[]; reached: number }> {
  const result = await query<{ session_id: string; updated_at: string }>(
    db,
    'delete expired sessions',
    DELETE_EXPIRED_BATCH,
    [cutoff, batchSize, from],
  );
  let reached = from;
  for (const r of result.rows) reached = Math.max(reached, Number(r.updated_at));
  return { ids: result.rows.map((r) => r.session_id), reached };
}

const DELETE_IF_EXPIRED = `
DELETE FROM conversation_context
WHERE session_id = $1::text AND updated_at < $2::bigint`;

/** Deletes one session only if it is still expired (it may have been written since it was selected). */
export async function deleteIfExpired(db: Queryable, sessionId: string, cutoff: number): Promise<boolean> {
  const result = await query(db, 'delete expired session', DELETE_IF_EXPIRED, [sessionId, cutoff]);
  return (result.rowCount ?? 0) > 0;
}

const INSERT_RAW = `
INSERT INTO conversation_context
  (session_id, user_id, agent_type, context_data, created_at, updated_at, version)
SELECT t.session_id, t.user_id, t.agent_type, t.context_data, t.created_at, t.updated_at, 1
FROM unnest($1::text[], $2::integer[], $3::text[], $4::jsonb[], $5::bigint[], $6::bigint[])
  AS t(session_id, user_id, agent_type, context_data, created_at, updated_at)`;

/** Seeds rows exactly as given (timestamps untouched, version 1) in one statement. For tests and benchmarks. */
export async function insertSnapshotsRaw(db: Queryable, contexts: ConversationContext[]): Promise<number> {
  if (contexts.length === 0) return 0;
  const result = await query(db, 'insert snapshots', INSERT_RAW, [
    contexts.map((c) => c.sessionId),
    contexts.map((c) => c.userId),
    contexts.map((c) => c.agentType ?? ''),
    contexts.map(contextData),
    contexts.map((c) => c.createdAt),
    contexts.map((c) => c.updatedAt),
  ]);
  return result.rowCount ?? 0;
}
