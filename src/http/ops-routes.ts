// Operator routes: retention cleanup (admin), liveness, readiness (Temporal and Postgres), metrics, OpenAPI.
// Registered by buildApp (app.ts); all but cleanup answer without a key.
import { Type } from '@sinclair/typebox';
import { expiryCutoff } from '../session-rules';
import type { SessionMetrics } from '../metrics';
import type { Api, AppDeps } from './app';
import { HttpError } from './errors';
import { countExpired } from '../retention/sql';
import { errorResponse } from './schemas-errors';

/** What /metrics answers (prom-client's contentType, with its charset parameter left to the reply). */
const METRICS_MEDIA_TYPE = 'text/plain; version=0.0.4';

/** A dependency that does not answer within this long is "down" for readiness. */
const READINESS_TIMEOUT_MS = 2000;

const CleanupBody = Type.Object(
  { retention_days: Type.Integer({ minimum: 0, maximum: 36500 }), dry_run: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const CleanupAnswer = Type.Object({
  deleted: Type.Integer({
    minimum: 0,
    description: 'Sessions deleted (dry run: sessions that are expired now)',
  }),
  dry_run: Type.Boolean(),
});

const Health = Type.Object({ status: Type.Literal('ok') });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  temporal: Type.Union([Type.Literal('ok'), Type.Literal('timeout'), Type.Literal('unavailable')]),
  postgres: Type.Union([Type.Literal('ok'), Type.Literal('timeout'), Type.Literal('unavailable')]),
});

export function registerOpsRoutes(app: Api, deps: AppDeps & { metrics: SessionMetrics }): void {
  const { service, pool, client, metrics, config } = deps;

  app.post(
    '/v1/cleanup',
    {
      schema: {
        tags: ['operations'],
        summary: 'Delete sessions idle longer than retention_days (admin key); dry_run only counts them',
        body: CleanupBody,
        // Cleanup goes through Temporal (overload: 429) and Postgres (outage: 503).
        response: { 200: CleanupAnswer, 429: errorResponse(429), 503: errorResponse(503) },
      },
    },
    async (request) => {
      if (request.principal?.role !== 'admin') throw new HttpError('forbidden', 'cleanup needs an admin key');
      const { retention_days: days, dry_run: dryRun = false } = request.body;
      if (dryRun) return { deleted: await countExpired(pool, expiryCutoff(Date.now(), days)), dry_run: true };
      const deleted = await service.cleanupExpired(days);
      metrics.recordCleanupDeletions(deleted);
      request.log.info({ retention_days: days, deleted }, 'cleanup');
      return { deleted, dry_run: false };
    },
  );

  const open = { public: true };
  app.get(
    '/healthz',
    {
      config: open,
      schema: { tags: ['operations'], summary: 'The process is up', security: [], response: { 200: Health } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: open,
      schema: {
        tags: ['operations'],
        summary: 'Temporal and Postgres answer (503 when either does not)',
        security: [],
        response: {
          200: Readiness,
          503: Type.Object(Readiness.properties, {
            description: 'Not ready: names which dependency failed',
            headers: {
              'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before asking again' }),
            },
          }),
        },
      },
    },
    async (request, reply) => {
      const [temporal, postgres] = await Promise.all([
        probe(() => client.workflowService.getSystemInfo({})),
        probe(() => pool.query('SELECT 1')),
      ]);
      const ready = temporal === 'ok' && postgres === 'ok';
      if (!ready) {
        request.log.warn({ temporal, postgres }, 'not ready');
        void reply.status(503).header('retry-after', String(config.retryAfterSeconds));
      }
      return { status: ready ? ('ready' as const) : ('not_ready' as const), temporal, postgres };
    },
  );

  app.get(
    '/metrics',
    {
      config: open,
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        security: [],
        response: {
          200: {
            description: 'The metrics, docs/http-api.md#observability',
            content: { [METRICS_MEDIA_TYPE]: { schema: Type.String() } },
          },
        },
      },
    },
    async (request, reply) => {
      let text = await metrics.text();
      if (config.temporalMetricsAddress)
        text += await scrapeTemporal(config.temporalMetricsAddress, request.log);
      return reply.type(metrics.contentType).send(text);
    },
  );

  app.get(
    '/openapi.json',
    {
      config: open,
      schema: {
        tags: ['operations'],
        summary: 'This document (OpenAPI 3.1)',
        security: [],
        response: {
          200: Type.Object({}, { additionalProperties: true, description: 'The OpenAPI document' }),
        },
      },
    },
    async () => app.swagger(),
  );
}

/** 'ok', or why not (a short reason: no internals of the dependency). */
async function probe(call: () => Promise<unknown>): Promise<'ok' | 'timeout' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      call(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), READINESS_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return (err as Error).message === 'timeout' ? 'timeout' : 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

/** The Temporal SDK's own Prometheus exporter (worker and client metrics), appended to ours. */
async function scrapeTemporal(
  address: string,
  log: { warn(obj: object, msg: string): void },
): Promise<string> {
  try {
    const res = await fetch(`http://${address}/metrics`, {
      signal: AbortSignal.timeout(READINESS_TIMEOUT_MS),
    });
    return res.ok ? `\n${await res.text()}` : '';
  } catch (err) {
    log.warn({ err, address }, 'temporal metrics unavailable');
    return '';
  }
}
