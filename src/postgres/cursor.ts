// The opaque keyset cursors of listSessions pages ((updated_at, session_id) of a page's last row) and of transcript
// pages ((version, seq) of the last entry), versioned. Used by snapshots.ts, transcript.ts and the in-memory
// service; callers only ever see the base64url string.
import { ValidationError } from '../errors';
import { validateSessionId } from '../session-rules';

export interface ListCursor {
  updatedAt: number;
  sessionId: string;
}

const CURSOR_VERSION = 1;
const MAX_CURSOR_LENGTH = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(cursor: ListCursor): string {
  const json = JSON.stringify({ v: CURSOR_VERSION, u: cursor.updatedAt, s: cursor.sessionId });
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** Throws ValidationError('cursor', ...) for anything encodeCursor did not produce. */
export function decodeCursor(raw: unknown): ListCursor {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw))
    throw new ValidationError('cursor', 'is not a cursor returned by a previous page');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw new ValidationError('cursor', 'is not a cursor returned by a previous page');
  }
  const { v, u, s } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  if (v !== CURSOR_VERSION) throw new ValidationError('cursor', 'has an unknown version');
  if (typeof u !== 'number' || !Number.isSafeInteger(u))
    throw new ValidationError('cursor', 'is not a cursor returned by a previous page');
  try {
    validateSessionId(s);
  } catch {
    throw new ValidationError('cursor', 'is not a cursor returned by a previous page');
  }
  return { updatedAt: u, sessionId: s };
}

/** Where a transcript page ends: the version and place of its last entry. */
export interface TranscriptCursor {
  version: number;
  seq: number;
}

export function encodeTranscriptCursor(cursor: TranscriptCursor): string {
  return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, t: [cursor.version, cursor.seq] }), 'utf8').toString(
    'base64url',
  );
}

/** Throws ValidationError('cursor', ...) for anything encodeTranscriptCursor did not produce. */
export function decodeTranscriptCursor(raw: unknown): TranscriptCursor {
  const refuse = () =>
    new ValidationError('cursor', 'is not a cursor returned by a previous transcript page');
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw))
    throw refuse();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  const { v, t } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (v !== CURSOR_VERSION || !Array.isArray(t) || t.length !== 2) throw refuse();
  const [version, seq] = t as unknown[];
  if (
    !Number.isSafeInteger(version) ||
    !Number.isSafeInteger(seq) ||
    (version as number) < 0 ||
    (seq as number) < 0
  )
    throw refuse();
  return { version: version as number, seq: seq as number };
}
