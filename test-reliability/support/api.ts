// The HTTP API (buildApp) over a rig's service, for the contention and bad-input tests (driven by app.inject).
// Keys: alice and bob act for one user each; service names the user per request; admin may run cleanup.
import { Writable } from 'node:stream';
import pino from 'pino';
import type { ApiConfig } from '../../src/config';
import { type Api, buildApp } from '../../src/http/app';
import { silentLogger } from '../../src/logger';
import { SessionMetrics } from '../../src/metrics';
import { apiConfig } from '../../test/support/http-harness';
import type { Rig } from './rig';

export const ALICE = 5101;
export const BOB = 5102;
export const KEYS = {
  alice: 'rel-alice-key-0123456789abcdef',
  bob: 'rel-bob-key-0123456789abcdef00',
  service: 'rel-service-key-0123456789abcd',
  admin: 'rel-admin-key-0123456789abcdef',
} as const;

/** Causes the API logged for answers nobody anticipated (5xx): the answer itself hides them. */
export class LoggedFailures {
  readonly causes: string[] = [];
  readonly logger = pino(
    { level: 'error' },
    new Writable({
      write: (chunk: Buffer, _enc, done) => {
        const line = JSON.parse(chunk.toString()) as {
          err?: { type?: string; message?: string };
          msg?: string;
        };
        this.causes.push(`${line.err?.type ?? ''}: ${line.err?.message ?? line.msg ?? ''}`.slice(0, 400));
        done();
      },
    }),
  );
}

export async function startApi(
  rig: Rig,
  overrides: Partial<ApiConfig> = {},
  failures?: LoggedFailures,
): Promise<Api> {
  const app = await buildApp({
    service: rig.service,
    pool: rig.pool,
    client: rig.client,
    logger: failures?.logger ?? silentLogger,
    metrics: new SessionMetrics({ processMetrics: false }),
    config: apiConfig({
      keys: [
        { key: KEYS.alice, role: { kind: 'user', userId: ALICE } },
        { key: KEYS.bob, role: { kind: 'user', userId: BOB } },
        { key: KEYS.service, role: { kind: 'service' } },
        { key: KEYS.admin, role: { kind: 'admin' } },
      ],
      ...overrides,
    }),
  });
  await app.ready();
  return app;
}

export function bearer(key: keyof typeof KEYS): Record<string, string> {
  return { authorization: `Bearer ${KEYS[key]}` };
}
