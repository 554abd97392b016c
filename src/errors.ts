// Typed errors of the library, each with a stable `code` (the HTTP layer maps codes to statuses).
// Pure: the workflow raises the same names as ApplicationFailure types and the client maps them back.

export type ErrorCode =
  | 'invalid_argument'
  | 'session_not_found'
  | 'session_conflict'
  | 'session_exists'
  | 'version_mismatch'
  | 'too_many_in_flight'
  | 'storage_unavailable'
  | 'internal';

export class SessionError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The caller's input breaks a rule (bad id, role, size, ...). Nothing was changed. */
export class ValidationError extends SessionError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('invalid_argument', `${field}: ${message}`);
    this.field = field;
  }
}

/** A change was asked of a session that does not exist. Nothing was changed. */
export class SessionNotFoundError extends SessionError {
  readonly sessionId: string;
  constructor(sessionId: string) {
    super('session_not_found', `session not found: ${sessionId}`);
    this.sessionId = sessionId;
  }
}

/** The session id is taken by another user's session. */
export class SessionConflictError extends SessionError {
  constructor(sessionId: string) {
    super('session_conflict', `session id is in use by another user: ${sessionId}`);
  }
}

/** A session was to be created (a fork) under an id that is already a session. Nothing was changed. */
export class SessionExistsError extends SessionError {
  readonly sessionId: string;
  constructor(sessionId: string) {
    super('session_exists', `a session with this id exists already: ${sessionId}`);
    this.sessionId = sessionId;
  }
}

/**
 * A command made on the condition that the session is at a given version (`expectedVersion`) found it at another:
 * a write landed since the caller read it. Nothing was changed; read again and decide again.
 */
export class VersionMismatchError extends SessionError {
  readonly sessionId: string;
  readonly expectedVersion: number;
  readonly actualVersion: number;
  constructor(sessionId: string, expectedVersion: number, actualVersion: number) {
    super(
      'version_mismatch',
      `session ${sessionId} is at version ${actualVersion}, not the expected ${expectedVersion}`,
    );
    this.sessionId = sessionId;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** Too many writes are waiting on one session; retry after a short pause. */
export class TooManyInFlightError extends SessionError {
  readonly retryAfterMs: number;
  constructor(sessionId: string, retryAfterMs: number) {
    super('too_many_in_flight', `too many writes in flight on session ${sessionId}`);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Postgres or Temporal could not be reached or failed; safe to retry. */
export class StorageError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('storage_unavailable', message, options);
  }
}

/** ApplicationFailure types the actor raises for caller mistakes (non-retryable by construction). */
export const FAILURE_TYPES = {
  validation: 'ValidationError',
  notFound: 'SessionNotFoundError',
  conflict: 'SessionConflictError',
  exists: 'SessionExistsError',
  versionMismatch: 'VersionMismatchError',
} as const;
