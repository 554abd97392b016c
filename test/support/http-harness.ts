// The HTTP API over a real TemporalSessionService (shared test stack): keys for two users, a service and an admin.
// Used by test/http-*.test.ts; close() stops the app and the Temporal harness.
import type { ApiConfig } from '../../src/config';
import { type Api, buildApp } from '../../src/http/app';
import { silentLogger } from '../../src/logger';
import { SessionMetrics } from '../../src/metrics';
import { startTemporalHarness, type TemporalHarness } from './temporal-harness';

export const ALICE = 4201;
export const BOB = 4202;

export const KEYS = {
  alice: 'alice-key-0123456789abcdef',
  bob: 'bob-key-0123456789abcdef00',
  service: 'service-key-0123456789abcdef',
  admin: 'admin-key-0123456789abcdef00',
} as const;

export function apiConfig(overrides: Partial<ApiConfig> = {}): ApiConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    keys: [
      { key: KEYS.alice, role: { kind: 'user', userId: ALICE } },
      { key: KEYS.bob, role: { kind: 'user', userId: BOB } },
      { key: KEYS.service, role: { kind: 'service' } },
      { key: KEYS.admin, role: { kind: 'admin' } },
    ],
    bodyLimitBytes: 1024 * 1024,
    maxInFlightWritesPerSession: 32,
    retryAfterSeconds: 1,
    ...overrides,
  };
}

export interface HttpHarness {
  app: Api;
  h: TemporalHarness;
  metrics: SessionMetrics;
  close(): Promise<void>;
}

export async function startHttpHarness(
  prefix: string,
  overrides: Partial<ApiConfig> = {},
): Promise<HttpHarness> {
  const h = await startTemporalHarness(prefix);
  const metrics = new SessionMetrics({ processMetrics: false });
  try {
    const app = await buildApp({
      service: h.service,
      pool: h.pool,
      client: h.client,
      config: apiConfig(overrides),
      logger: silentLogger,
      metrics,
    });
    await app.ready();
    return {
      app,
      h,
      metrics,
      close: async () => {
        await app.close();
        await h.close();
      },
    };
  } catch (err) {
    await h.close();
    throw err;
  }
}

/** Authorization header of a named key, plus X-User-Id when given. */
export function as(key: keyof typeof KEYS, userId?: number): Record<string, string> {
  const headers: Record<string, string> = { authorization: `Bearer ${KEYS[key]}` };
  if (userId !== undefined) headers['x-user-id'] = String(userId);
  return headers;
}
