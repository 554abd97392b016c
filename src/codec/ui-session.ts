// Sessions of the Temporal UI at the codec server: an operator signs in once with an admin key (/codec/login) and
// the browser keeps an HttpOnly cookie that the UI sends with "include cross-origin credentials". Used by routes.ts.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie's name; its path is /codec, so no other route of the API ever sees it. */
export const UI_SESSION_COOKIE = 'ds_codec_ui';
export const UI_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/**
 * Signed, expiring tokens: `<expiry ms>.<nonce>.<HMAC-SHA256 of both>` under a secret of this process. Nothing to
 * store; a token dies with its expiry or with the process (a restarted API asks the operator to sign in again).
 * The token is not the admin key, so a leaked cookie grants decoding, never the API.
 */
export class UiSessions {
  private readonly secret = randomBytes(32);

  constructor(
    readonly ttlMs = UI_SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(): string {
    const body = `${this.now() + this.ttlMs}.${randomBytes(16).toString('base64url')}`;
    return `${body}.${this.mac(body)}`;
  }

  valid(token: string | undefined): boolean {
    if (!token) return false;
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return false;
    const body = token.slice(0, dot);
    // The signature's characters, compared as issued: decoding first would take other spellings of the same bytes
    // (the unused bits of the last base64url character, padding, characters the decoder skips).
    const given = Buffer.from(token.slice(dot + 1), 'utf8');
    const expected = Buffer.from(this.mac(body), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    const expiry = Number(body.split('.')[0]);
    return Number.isFinite(expiry) && expiry > this.now();
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

/** The value of one cookie in a Cookie header (the first one of that name). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
