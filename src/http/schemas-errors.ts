// The schemas of error answers (TypeBox): the body every error has, and per status the codes a route can answer
// with and the headers that go with them. Used by every route's response map and by openapi.ts.
import { Type, type TSchema } from '@sinclair/typebox';
import { HTTP_ERRORS, type HttpErrorCode } from './errors';

const ERROR_CODES = Object.keys(HTTP_ERRORS) as HttpErrorCode[];

export const ErrorBody = Type.Object(
  {
    code: Type.Unsafe<HttpErrorCode>({
      type: 'string',
      enum: ERROR_CODES,
      description: 'Stable error code from the registry (docs/http-api.md)',
    }),
    message: Type.String({ description: 'What is wrong, in words; never echoes the values sent' }),
  },
  { description: 'Every error answer' },
);

/** The response headers that go with an error status (src/http/errors.ts errorAnswer sets them). */
const ERROR_HEADERS: Record<number, Record<string, TSchema>> = {
  401: { 'www-authenticate': Type.Literal('Bearer', { description: 'The auth scheme to use' }) },
  429: { 'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before retrying' }) },
  503: { 'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before retrying' }) },
};

/**
 * Codes no route answers with: not_found and method_not_allowed are for requests no route matched
 * (src/http/unmatched.ts); /readyz says not ready in its own body.
 */
const NOT_FROM_ROUTES = new Set<HttpErrorCode>(['not_found', 'method_not_allowed', 'not_ready']);

/** The error answer for `status` in a route's response map: the codes it can carry on a route, and its headers. */
export function errorResponse(status: number): TSchema {
  const codes = ERROR_CODES.filter(
    (code) => HTTP_ERRORS[code].status === status && !NOT_FROM_ROUTES.has(code),
  );
  const headers = ERROR_HEADERS[status];
  return Type.Object(
    {
      code: Type.Unsafe<HttpErrorCode>({ type: 'string', enum: codes }),
      message: ErrorBody.properties.message,
    },
    { description: `Error: ${codes.map((c) => `\`${c}\``).join(', ')}`, ...(headers ? { headers } : {}) },
  );
}

/**
 * Error answers of the session routes beyond those every authenticated route gives (src/http/openapi.ts adds
 * those: 400, 401, 403, 408, 413 and 415 where a body is read, 431, 500).
 */
export const errorResponses = {
  404: errorResponse(404),
  429: errorResponse(429),
  503: errorResponse(503),
} as const;
