// The one registry of HTTP error codes (code → status, default message) and the mapping of every error to it.
// Used by the API's error handler and routes; docs/http-api.md lists the same table.
import type { FastifyError } from 'fastify';
import { SessionError } from '../errors';

export const HTTP_ERRORS = {
  invalid_argument: { status: 400, message: 'the request is invalid' },
  missing_user: { status: 400, message: 'a service key must name the acting user in X-User-Id' },
  unauthorized: { status: 401, message: 'a valid API key is required (Authorization: Bearer <key>)' },
  forbidden: { status: 403, message: 'this key may not do that' },
  session_not_found: { status: 404, message: 'session not found' },
  not_found: { status: 404, message: 'no such route' },
  method_not_allowed: { status: 405, message: 'method not allowed' },
  session_exists: { status: 409, message: 'a session with this id exists already' },
  request_timeout: { status: 408, message: 'the request did not arrive in time' },
  version_mismatch: {
    status: 412,
    message: 'the session is no longer at the version in If-Match; read it again (GET gives its ETag)',
  },
  payload_too_large: { status: 413, message: 'the request body is too large' },
  unsupported_media_type: { status: 415, message: 'send JSON (Content-Type: application/json)' },
  too_many_in_flight: { status: 429, message: 'too many writes in flight on this session; retry shortly' },
  headers_too_large: { status: 431, message: 'the request headers are too large' },
  internal: { status: 500, message: 'internal error' },
  storage_unavailable: { status: 503, message: 'storage is unavailable; retry shortly' },
  not_ready: { status: 503, message: 'a dependency is not ready' },
} as const satisfies Record<string, { status: number; message: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** An error the API answers as `{ code, message }` with the registry's status. */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly status: number;
  /** Seconds for Retry-After (429, 503). */
  readonly retryAfter?: number;
  constructor(code: HttpErrorCode, message?: string, options?: { retryAfter?: number; cause?: unknown }) {
    super(message ?? HTTP_ERRORS[code].message, { cause: options?.cause });
    this.code = code;
    this.status = HTTP_ERRORS[code].status;
    this.retryAfter = options?.retryAfter;
  }
}

/** The answer to a session the acting user may not see: the same as for one that does not exist. */
export function sessionNotFound(sessionId: string): HttpError {
  return new HttpError('session_not_found', `session not found: ${sessionId}`);
}

/**
 * Any thrown value as an HttpError. `expected` is false for errors nobody anticipated (logged in full, answered
 * 500 `internal` without internals). Library errors map by their `code`; Fastify's by theirs.
 */
export function toHttpError(
  err: unknown,
  retryAfter: number,
  sessionId = '',
): { error: HttpError; expected: boolean } {
  if (err instanceof HttpError) return { error: err, expected: true };
  if (err instanceof SessionError) {
    switch (err.code) {
      case 'invalid_argument':
        return { error: new HttpError('invalid_argument', err.message), expected: true };
      case 'session_not_found':
      // Another user's session id: answered exactly like a missing session, so existence does not leak.
      // eslint-disable-next-line no-fallthrough
      case 'session_conflict':
        return { error: sessionNotFound(sessionId), expected: true };
      case 'session_exists':
        return {
          error: new HttpError('session_exists', 'session_id: a session with this id exists already'),
          expected: true,
        };
      case 'version_mismatch':
        return { error: new HttpError('version_mismatch'), expected: true };
      case 'too_many_in_flight':
        return { error: new HttpError('too_many_in_flight', undefined, { retryAfter }), expected: true };
      case 'storage_unavailable':
        // Expected in an outage, but the cause is worth a log line: answered without it.
        return { error: new HttpError('storage_unavailable', undefined, { retryAfter }), expected: false };
      default:
        return { error: new HttpError('internal'), expected: false };
    }
  }
  const fst = err as Partial<FastifyError> & { validation?: unknown };
  if (fst && typeof fst === 'object') {
    if (fst.validation)
      return { error: new HttpError('invalid_argument', validationMessage(fst)), expected: true };
    const known = typeof fst.code === 'string' ? fromFastify(fst.code) : undefined;
    if (known) return { error: known, expected: true };
    // A 4xx nobody mapped yet is still the caller's: answered with the registry code of its status (or 400), and
    // logged, so it gets its own entry.
    if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500)
      return { error: new HttpError(codeOfStatus(fst.statusCode)), expected: false };
  }
  return { error: new HttpError('internal'), expected: false };
}

/** Fastify's own errors (router, body parsing) by their stable code. */
function fromFastify(code: string): HttpError | undefined {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError('unsupported_media_type');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError('invalid_argument', 'the body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError('invalid_argument', 'the body is not as long as Content-Length says');
    case 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE':
      return new HttpError('unsupported_media_type');
    case 'FST_ERR_BAD_URL':
      return new HttpError('invalid_argument', 'the path is not a valid URL (a malformed %-escape)');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HttpError('invalid_argument', 'a path parameter is too long');
    case 'FST_ERR_NOT_FOUND':
      return new HttpError('not_found');
    default:
      return undefined;
  }
}

/** The first registry code answering with `status`, or invalid_argument. */
export function codeOfStatus(status: number): HttpErrorCode {
  const found = (Object.keys(HTTP_ERRORS) as HttpErrorCode[]).find(
    (code) => HTTP_ERRORS[code].status === status,
  );
  return found ?? 'invalid_argument';
}

/** The answer to an error: its status, the `{code, message}` body and the headers that go with the code. */
export function errorAnswer(error: HttpError): {
  status: number;
  headers: Record<string, string>;
  body: { code: HttpErrorCode; message: string };
} {
  const headers: Record<string, string> = {};
  if (error.retryAfter !== undefined) headers['retry-after'] = String(error.retryAfter);
  if (error.code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
  return { status: error.status, headers, body: { code: error.code, message: error.message } };
}

function validationMessage(err: { message?: string; validationContext?: string }): string {
  // Fastify's text, e.g. "body/role Expected union value"; it names fields, never echoes values.
  return err.message ?? HTTP_ERRORS.invalid_argument.message;
}
