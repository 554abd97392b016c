// The HTTP API: buildApp() wires auth, limits, the error registry, request logs, metrics and the routes.
// Used by the CLI (`start`, `api`) and by the tests through app.inject(); see docs/http-api.md.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
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
import { type ApiConfig, DEFAULT_SSE_MAX_SECONDS } from '../config';
import type { Logger } from '../logger';
import type { Queryable } from '../postgres/snapshots';
import type { ChangesAnswer, ChangesOptions, CommandOptions, DeleteOptions, ForkOptions } from '../service';
import type { TurnOutcome } from '../../workflows/messages';
import type { SessionCommand } from '../session-rules';
import type { DurableTurnOptions } from '../temporal/durable-turns';
import type {
  CommandResult,
  CommandVersion,
  ConversationContext,
  ListOptions,
  SessionPage,
  TranscriptOptions,
  TranscriptPage,
} from '../types';
import { type AckMode, SessionMetrics } from '../metrics';
import { registerAgentRoutes } from './agent-routes';
import { ApiKeyRing, type Principal } from './auth';
import { ChangeFeeds } from './change-feed';
import { registerEventRoutes } from './event-routes';
import { errorAnswer, toHttpError } from './errors';
import { parseJsonBody } from './json-body';
import { registerOpenApi } from './openapi';
import { registerOpsRoutes } from './ops-routes';
import { sessionAccess } from './session-access';
import { registerSessionRoutes } from './session-routes';
import { RouteTable, answerClientError, answerFrameworkError, answerUnmatched } from './unmatched';
import { validatorCompiler } from './validation';

/** What the API needs of the session service; TemporalSessionService provides all of it. */
export interface SessionBackend {
  execute(sessionId: string, command: SessionCommand, options?: CommandOptions): Promise<CommandResult>;
  /** Like execute, answering with the version only (`Prefer: return=minimal`). */
  commit(sessionId: string, command: SessionCommand, options?: CommandOptions): Promise<CommandVersion>;
  submitTurn(
    sessionId: string,
    user: string,
    assistant: string,
    options?: DurableTurnOptions,
  ): Promise<string>;
  /** What became of a durable turn (the actor's turnStatus query). */
  turnStatus(sessionId: string, turnId: string): Promise<TurnOutcome | { status: 'unknown' }>;
  loadContext(sessionId: string): Promise<ConversationContext | null>;
  /** The session with its version (the ETag of GET /v1/sessions/{id}). */
  getSnapshot(sessionId: string): Promise<CommandResult | null>;
  listSessionsPage(userId: number, limit: number, options?: ListOptions): Promise<SessionPage>;
  deleteSession(sessionId: string, options?: DeleteOptions): Promise<void>;
  cleanupExpired(retentionDays: number): Promise<number>;
  forkSession(sourceId: string, targetId: string, options?: ForkOptions): Promise<CommandResult>;
  getTranscript(sessionId: string, options?: TranscriptOptions): Promise<TranscriptPage>;
  /** One long-poll of the session's changes (the actor's awaitChanges). */
  changes(sessionId: string, options?: ChangesOptions): Promise<ChangesAnswer>;
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
  const routes = new RouteTable();
  const app = Fastify({
    loggerInstance: logger,
    // Fastify's own request lines would carry the raw URL and no session id; onResponse writes ours.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Session ids are at most 128 characters; a longer param is refused (400) before any work.
    routerOptions: { maxParamLength: 200 },
    // Every answer Fastify or Node would write on their own is in the registry's shape instead. The router's own
    // refusals (%zz, an overlong param) skip the onResponse hook, so they are counted and logged here.
    frameworkErrors: (err, request, reply) => {
      answerFrameworkError(err, request, reply);
      metrics.observeRequest(request.method, 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      request.log.info({ method: request.method, route: 'unmatched', status: reply.statusCode }, 'request');
    },
    clientErrorHandler: answerClientError,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as Api;
  app.setValidatorCompiler(validatorCompiler);
  // JSON only, through our parser: a text/plain body is 415, not a string that fails validation later.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  app.addHook('onRoute', (route) => routes.add(route.url, route.method));

  await registerOpenApi(app, { bodyLimitBytes: config.bodyLimitBytes });

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
    // A request no route matched is answered as such, whatever its body or headers got wrong on the way.
    if (request.is404) return answerUnmatched(routes, request, reply);
    const params = request.params as { id?: unknown } | undefined;
    const sessionId = typeof params?.id === 'string' ? params.id : '';
    const { error, expected } = toHttpError(err, config.retryAfterSeconds, sessionId);
    if (!expected) request.log.error({ err, session_id: sessionId || undefined }, 'request failed');
    const { status, headers, body } = errorAnswer(error);
    return reply.status(status).headers(headers).send(body);
  });

  app.setNotFoundHandler(async (request, reply) => answerUnmatched(routes, request, reply));

  const turns = (ack: AckMode): void => metrics.recordTurn(ack);
  const access = sessionAccess(deps.service, config);
  registerSessionRoutes(app, { service: deps.service, config, access, recordTurn: turns });
  registerAgentRoutes(app, { service: deps.service, access });
  const feeds = new ChangeFeeds((id, options) => deps.service.changes(id, options));
  app.addHook('onClose', async () => feeds.close());
  registerEventRoutes(app, {
    access,
    feeds,
    maxStreamSeconds: config.sseMaxSeconds ?? DEFAULT_SSE_MAX_SECONDS,
    retryAfterSeconds: config.retryAfterSeconds,
  });
  registerOpsRoutes(app, { ...deps, metrics });
  if (deps.codec) await codecRoutes(app, { ...deps.codec, authenticate: adminKeyOnly(keys) });
  return app;
}
