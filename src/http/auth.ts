// API keys: who a bearer token acts for, found in constant time, and the acting user of a request.
// Used by the API's onRequest hook (app.ts) and by the CLI, which decides whether a generated key is allowed.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiConfig, ApiKey, ApiKeyRole } from '../config';
import { HttpError } from './errors';

/** Who a request acts as once its key is known. `userId` is undefined for a service/admin key without X-User-Id. */
export interface Principal {
  role: ApiKeyRole['kind'];
  userId?: number;
}

interface StoredKey {
  digest: Buffer;
  role: ApiKeyRole;
}

const INT32 = /^-?\d{1,10}$/;

export class ApiKeyRing {
  private readonly keys: StoredKey[];

  constructor(keys: ApiKey[]) {
    if (keys.length === 0) throw new Error('the API needs at least one key (DS_API_KEYS)');
    this.keys = keys.map((k) => ({ digest: sha256(k.key), role: k.role }));
  }

  /** The role of `token`, comparing fixed-length digests in constant time and always against every key. */
  lookup(token: string): ApiKeyRole | undefined {
    const digest = sha256(token);
    let found: ApiKeyRole | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.digest, digest) && !found) found = k.role;
    return found;
  }

  /** The principal of a request from its Authorization and X-User-Id headers; throws HttpError. */
  authenticate(authorization: string | undefined, userHeader: string | string[] | undefined): Principal {
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    if (!match) throw new HttpError('unauthorized');
    const role = this.lookup(match[1]);
    if (!role) throw new HttpError('unauthorized', 'the API key is not valid');
    const named = parseUserHeader(userHeader);
    if (role.kind === 'user') {
      if (named !== undefined && named !== role.userId)
        throw new HttpError('forbidden', 'X-User-Id names another user than this key acts for');
      return { role: 'user', userId: role.userId };
    }
    return { role: role.kind, userId: named };
  }
}

function parseUserHeader(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw[0] : raw;
  const n = Number(text);
  if (!INT32.test(text.trim()) || n < -2147483648 || n > 2147483647)
    throw new HttpError('invalid_argument', 'X-User-Id: must be a 32-bit integer');
  return n;
}

/** The acting user of a session route: required, so a service or admin key must name one. */
export function actingUser(principal: Principal): number {
  if (principal.userId === undefined) throw new HttpError('missing_user');
  return principal.userId;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The keys the API runs with. Configured keys win. Without any, a loopback API gets one generated admin key
 * (returned so the caller can print it); any other address refuses to start, so no API is ever open.
 */
export function resolveApiKeys(api: Pick<ApiConfig, 'host' | 'keys'>): {
  keys: ApiKey[];
  generated?: string;
} {
  if (api.keys.length > 0) return { keys: api.keys };
  if (!isLoopback(api.host))
    throw new Error(
      `refusing to serve the API on ${api.host} without keys: set DS_API_KEYS (e.g. "<key>:service,<key>:admin")`,
    );
  const generated = `dsk_${randomBytes(24).toString('base64url')}`;
  return { keys: [{ key: generated, role: { kind: 'admin' } }], generated };
}
