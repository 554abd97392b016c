// The SQL of session transcripts (`session_transcript`, migrations/3_session_transcript.sql): pages in order, and
// the rows PostgresSessionStore adds in its save transaction. The actor's rows are written by ds_persist_session.
import { StorageError, ValidationError } from '../errors';
import { LIMITS, type Message, type TranscriptOptions, type TranscriptPage, toWireMessage } from '../types';
import { decodeTranscriptCursor, encodeTranscriptCursor } from './cursor';
import { storedMessage } from './rows';
import { query, type Queryable } from './snapshots';

const PAGE = `
SELECT version, seq, message FROM session_transcript
WHERE session_id = $1::text AND (version, seq) > ($2::bigint, $3::integer)
ORDER BY version, seq
LIMIT $4::integer`;

/** A transcript page's size: 1..LIMITS.transcriptMaxLimit, absent or 0 for the default. */
export function transcriptLimit(limit: unknown): number {
  if (limit === undefined || limit === 0) return LIMITS.transcriptDefaultLimit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > LIMITS.transcriptMaxLimit)
    throw new ValidationError('limit', `must be an integer 0..${LIMITS.transcriptMaxLimit}`);
  return limit;
}

/** One page of a session's transcript, oldest first (an unknown session has an empty one). */
export async function readTranscript(
  db: Queryable,
  sessionId: string,
  options: TranscriptOptions = {},
): Promise<TranscriptPage> {
  const limit = transcriptLimit(options.limit);
  const after =
    options.cursor !== undefined ? decodeTranscriptCursor(options.cursor) : { version: -1, seq: -1 };
  const { rows } = await query<{ version: string | number; seq: number; message: unknown }>(
    db,
    'read transcript',
    PAGE,
    [sessionId, after.version, after.seq, limit + 1],
  );
  const page = rows.slice(0, limit);
  const entries = page.map((r) => {
    const message = storedMessage(r.message);
    if (!message)
      throw new StorageError(`session ${sessionId} has a corrupt transcript row (version ${r.version})`);
    return { version: Number(r.version), message };
  });
  const last = page[page.length - 1];
  return rows.length > limit && last
    ? { entries, nextCursor: encodeTranscriptCursor({ version: Number(last.version), seq: last.seq }) }
    : { entries };
}

const INSERT = `
INSERT INTO session_transcript (session_id, version, seq, message)
SELECT $1::text, $2::bigint, (m.ordinality - 1)::integer, m.value
FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS m(value, ordinality)
ON CONFLICT DO NOTHING`;

/** Adds the messages that entered a session's transcript with `version` (the session's row must exist). */
export async function insertTranscript(
  db: Queryable,
  sessionId: string,
  version: number,
  messages: Message[],
): Promise<void> {
  if (messages.length === 0) return;
  await query(db, 'write transcript', INSERT, [
    sessionId,
    version,
    JSON.stringify(messages.map(toWireMessage)),
  ]);
}
