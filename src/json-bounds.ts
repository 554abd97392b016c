// What JSON, jsonb and Postgres text can hold: UTF-8 lengths, storable text, plain JSON values, deep copies.
// Pure helpers of the session rules (src/session-rules.ts), which bound every value to what its stores keep.
import { LIMITS } from './types';

export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text Postgres jsonb accepts: no NUL, no lone surrogate (well-formed UTF-16). */
export function storableText(s: string): boolean {
  return !s.includes('\u0000') && !LONE_SURROGATE.test(s);
}

/** Why a metadata value would not survive JSON and jsonb unchanged, or null when it would. */
export function jsonProblem(value: unknown, depth: number): string | null {
  if (depth > LIMITS.metadataMaxDepth) return `must nest at most ${LIMITS.metadataMaxDepth} levels deep`;
  switch (typeof value) {
    case 'string':
      return storableText(value) ? null : 'must be valid Unicode without the NUL character';
    case 'number':
      return Number.isFinite(value) ? null : 'numbers must be finite (JSON has no NaN or Infinity)';
    case 'boolean':
      return null;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        for (const v of value) {
          const p = jsonProblem(v, depth + 1);
          if (p) return p;
        }
        return null;
      }
      // A Date, Map or class instance would reach JSON as something else (toString works across realms).
      if (Object.prototype.toString.call(value) !== '[object Object]')
        return 'must be plain JSON (objects, arrays, strings, numbers, booleans, null)';
      for (const [k, v] of Object.entries(value)) {
        if (!storableText(k)) return 'must be valid Unicode without the NUL character';
        const p = jsonProblem(v, depth + 1);
        if (p) return p;
      }
      return null;
    }
    default:
      return 'must be serialisable as JSON';
  }
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

export function cloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
