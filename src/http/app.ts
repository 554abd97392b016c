// The HTTP API: buildApp() wires auth, limits, the error registry, request logs, metrics and the routes.
// Used by the CLI (`start`, `api`) and by the tests through app.inject(); see docs/http-api.md.
import swagger from '@fastify/swagger';
import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import { type CodecRouteOptions, adminKeyOnly, codecRoutes } from '../codec/routes';
import type { ApiConfig } from '../config';
import type { Logger } from '../logger';
import type { Queryable } from '../postgres/snapshots';
import type { CommandOptions } from '../service';
import type { SessionCommand } from '../session-rules';
import type { DurableTurnOptions } from '../temporal/service';
import type { CommandResult, ConversationContext, ListOptions, SessionPage } from '../types';
import { type AckMode, SessionMetrics } from '../metrics';
import { ApiKeyRing, type Principal } from './auth';
import { HttpError, toHttpError } from './errors';
import { registerOpsRoutes } from './ops-routes';
import { registerSessionRoutes } from './session-routes';

/** What the API needs of the session service; TemporalSessionService provides all of it. */
export interface SessionBackend {
  execute(sessionId: string, command: SessionCommand, options?: CommandOptions): Promise<CommandResult>;
  submitTurn(
    sessionId: string,
    user: string,
    assistant: string,
    options?: DurableTurnOptions,
  ): Promise<string>;
  loadContext(sessionId: string): Promise<ConversationContext | null>;
  listSessionsPage(userId: number, limit: number, options?: ListOptions): Promise<SessionPage>;
  deleteSession(sessionId: string): Promise<void>;
  cleanupExpired(retentionDays: number): Promise<number>;
}

export interface AppDeps {
  service: SessionBackend;
  /** The snapshots' Postgres: readiness and the cleanup dry run. */
  pool: Queryable;
  /** The Temporal client, for readiness. */
  client: Pick<Client, 'workflowService'>;
  /** `keys` must not be empty (see resolveApiKeys for a generated loopback key). */
  config: ApiConfig;
  logger: Logger;
  /** Shared with the worker in one process; a private registry when absent. */
  metrics?: SessionMetrics;
  /** The payload codec (Stack.codec): serves /codec/encode and /codec/decode, see docs/encryption.md. */
  codec?: Omit<CodecRouteOptions, 'authenticate'>;
}

export type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on /v1 routes. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Skip the API key check (health, readiness, metrics, the OpenAPI document). */
    public?: boolean;
  }
}

export async function buildApp(deps: AppDeps): Promise<Api> {
  const { config, logger } = deps;
  const keys = new ApiKeyRing(config.keys);
  const metrics = deps.metrics ?? new SessionMetrics();
  const app = Fastify({
    loggerInstance: logger,
    // Fastify's own request lines would carry the raw URL and no session id; onResponse writes ours.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Session ids are at most 128 characters; longer params are answered 404 before any work.
    routerOptions: { maxParamLength: 200 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as Api;
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // JSON only: a text/plain body is 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'durable-sessions',
        version: '1',
        description: 'Session persistence for AI agents. Wire names are the reference session package JSON.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.public || request.is404) return;
    request.principal = keys.authenticate(request.headers.authorization, request.headers['x-user-id']);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.observeRequest(request.method, route, reply.statusCode, seconds);
    const params = request.params as { id?: unknown } | undefined;
    // Never the body, the query of a list, or headers: ids, the route and the outcome only.
    request.log.info(
      {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        session_id: typeof params?.id === 'string' ? params.id : undefined,
        user_id: request.principal?.userId,
        key: request.principal?.role,
      },
      'request',
    );
  });

  app.setErrorHandler(async (err, request, reply) => {
    const params = request.params as { id?: unknown } | undefined;
    const sessionId = typeof params?.id === 'string' ? params.id : '';
    const { error, expected } = toHttpError(err, config.retryAfterSeconds, sessionId);
    if (!expected) request.log.error({ err, session_id: sessionId || undefined }, 'request failed');
    if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
    if (error.code === 'unauthorized') void reply.header('www-authenticate', 'Bearer');
    return reply.status(error.status).send({ code: error.code, message: error.message });
  });

  app.setNotFoundHandler(async (request, reply) => {
    const error = new HttpError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
    return reply.status(error.status).send({ code: error.code, message: error.message });
  });

  const turns = (ack: AckMode): void => metrics.recordTurn(ack);
  registerSessionRoutes(app, { service: deps.service, config, recordTurn: turns });
  registerOpsRoutes(app, { ...deps, metrics });
  if (deps.codec) await codecRoutes(app, { ...deps.codec, authenticate: adminKeyOnly(keys) });
  return app;
}
