// Classifies Postgres and connection errors (one table keyed by SQLSTATE) and wraps them as typed SessionErrors.
// Used by every module in src/postgres and by the activities that decide whether Temporal should retry.
import { SessionError, StorageError } from '../errors';

/** retryable: try again later (connection, shutdown, contention). caller: the input was bad. internal: our bug. */
export type PgErrorKind = 'retryable' | 'caller' | 'internal';

/**
 * Keys are full SQLSTATEs, two-character SQLSTATE classes, or Node socket error codes; a full code wins over its
 * class. Anything not listed is `unknown` and treated like a storage failure (wrapped as StorageError, not retried).
 */
const KINDS: Readonly<Record<string, PgErrorKind>> = {
  // Class 08: connection exceptions.
  '08': 'retryable',
  // Admin/crash shutdown, cannot connect now (server starting or in recovery).
  '57P01': 'retryable',
  '57P02': 'retryable',
  '57P03': 'retryable',
  // statement_timeout / cancel: the work may well succeed on a second try.
  '57014': 'retryable',
  // Serialization failure, deadlock, lock not available.
  '40001': 'retryable',
  '40P01': 'retryable',
  '55P03': 'retryable',
  // Too many connections.
  '53300': 'retryable',
  // Class 22 (data exception, e.g. \u0000 in jsonb text) and 23 (integrity constraint) come from the caller's values.
  '22': 'caller',
  '23': 'caller',
  // Class 42 (syntax, undefined table/column) means a bug or a missing migration.
  '42': 'internal',
  // Node socket errors.
  ECONNREFUSED: 'retryable',
  ECONNRESET: 'retryable',
  ETIMEDOUT: 'retryable',
  EPIPE: 'retryable',
  EAI_AGAIN: 'retryable',
};

/** Errors node-postgres raises without any code when a connection dies or the pool cannot hand one out. */
const UNCODED_CONNECTION_FAILURES = [/Connection terminated/i, /timeout exceeded when trying to connect/i];

export function classifyPgError(err: unknown): PgErrorKind | 'unknown' {
  const code = errorCode(err);
  if (code !== undefined) {
    const kind = KINDS[code] ?? (code.length === 5 ? KINDS[code.slice(0, 2)] : undefined);
    if (kind) return kind;
  }
  const message = err instanceof Error ? err.message : '';
  if (UNCODED_CONNECTION_FAILURES.some((re) => re.test(message))) return 'retryable';
  return 'unknown';
}

/**
 * A failure no retry can fix: the values were refused (class 22/23) or the SQL itself is wrong (class 42, e.g. a
 * missing migration). Unknown errors are not permanent: retrying them is the safe default.
 */
export function isPermanentPgError(err: unknown): boolean {
  if (err instanceof SessionError && err.cause !== undefined) return isPermanentPgError(err.cause);
  const kind = classifyPgError(err);
  return kind === 'caller' || kind === 'internal';
}

/** The SQLSTATE (or socket code) of a driver error, looking through SessionError causes. */
export function pgErrorCode(err: unknown): string | undefined {
  if (err instanceof SessionError && err.cause !== undefined) return pgErrorCode(err.cause);
  return errorCode(err);
}

export function isRetryablePgError(err: unknown): boolean {
  if (err instanceof SessionError && err.cause !== undefined) return isRetryablePgError(err.cause);
  return classifyPgError(err) === 'retryable';
}

/**
 * Wraps a driver error with `{ cause }`: caller mistakes become `invalid_argument`, our bugs `internal`,
 * everything else (retryable or unknown) a StorageError. A SessionError passes through unchanged.
 */
export function wrapPgError(err: unknown, what: string): SessionError {
  if (err instanceof SessionError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  switch (classifyPgError(err)) {
    case 'caller':
      return new SessionError('invalid_argument', `${what}: ${detail}`, { cause: err });
    case 'internal':
      return new SessionError('internal', `${what}: ${detail}`, { cause: err });
    default:
      return new StorageError(`${what} failed: ${detail}`, { cause: err });
  }
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
