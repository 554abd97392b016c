// The API's only body parser (application/json): an empty body is no body, and every refusal says what is wrong.
// Registered by buildApp (app.ts) in place of Fastify's parser; routes that need a body refuse a missing one.
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors';

/** Fastify content-type parser (parseAs: 'string'): undefined for an empty body, else the checked JSON value. */
export function parseJsonBody(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, value?: unknown) => void,
): void {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  // `curl -X DELETE -H 'Content-Type: application/json'` sends no body: that is a request without one.
  if (text.length === 0) {
    done(null, undefined);
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    done(new HttpError('invalid_argument', 'the body is not valid JSON'));
    return;
  }
  try {
    checkJson(value);
  } catch (err) {
    done(err as Error);
    return;
  }
  done(null, value);
}

/**
 * How deep a body may nest. The deepest a route takes is metadata (LIMITS.metadataMaxDepth levels) two levels
 * down; far deeper input would overflow the stack of the recursive checks after this one (a 500, not a 400).
 */
export const MAX_BODY_DEPTH = 64;

/**
 * Refuses what JSON.parse accepts but the API must not take: nesting beyond MAX_BODY_DEPTH, keys that would reach
 * an object's prototype when copied with plain assignment, and numbers too large for a double (JSON.parse makes
 * them Infinity, which JSON.stringify would later turn into null). Iterative, so no body can overflow its stack.
 */
function checkJson(root: unknown): void {
  const pending: [unknown, number][] = [[root, 1]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop() as [unknown, number];
    if (typeof value === 'number') {
      if (!Number.isFinite(value))
        throw new HttpError('invalid_argument', 'a number in the body is too large (beyond ±1.8e308)');
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_BODY_DEPTH)
      throw new HttpError('invalid_argument', `the body nests deeper than ${MAX_BODY_DEPTH} levels`);
    if (Array.isArray(value)) {
      for (const item of value) pending.push([item, depth + 1]);
      continue;
    }
    const record = value as Record<string, unknown>;
    if (Object.hasOwn(record, '__proto__'))
      throw new HttpError('invalid_argument', '`__proto__` is not allowed as a key');
    const ctor = Object.hasOwn(record, 'constructor') ? record.constructor : undefined;
    if (typeof ctor === 'object' && ctor !== null && Object.hasOwn(ctor, 'prototype'))
      throw new HttpError('invalid_argument', '`constructor.prototype` is not allowed as a key');
    for (const key of Object.keys(record)) pending.push([record[key], depth + 1]);
  }
}
