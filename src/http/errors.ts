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
  payload_too_large: { status: 413, message: 'the request body is too large' },
  unsupported_media_type: { status: 415, message: 'send JSON (Content-Type: application/json)' },
  too_many_in_flight: { status: 429, message: 'too many writes in flight on this session; retry shortly' },
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
    switch (fst.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return { error: new HttpError('payload_too_large'), expected: true };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return { error: new HttpError('unsupported_media_type'), expected: true };
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return { error: new HttpError('invalid_argument', 'the body is not valid JSON'), expected: true };
    }
    // Other 4xx from Fastify or its parsers (e.g. a prototype-poisoning body) are the caller's input.
    if (typeof fst.statusCode === 'number' && fst.statusCode >= 400 && fst.statusCode < 500)
      return { error: new HttpError('invalid_argument', 'the request is invalid'), expected: true };
  }
  return { error: new HttpError('internal'), expected: false };
}

function validationMessage(err: { message?: string; validationContext?: string }): string {
  // Fastify's text, e.g. "body/role Expected union value"; it names fields, never echoes values.
  return err.message ?? HTTP_ERRORS.invalid_argument.message;
}
