// The OpenAPI document (/openapi.json): the route schemas, plus what every route of its kind may answer (auth,
// body parsing, the socket's own errors) and the headers that go with it. Registered by buildApp (app.ts).
import swagger from '@fastify/swagger';
import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifySchema, RouteOptions } from 'fastify';
import type { Api } from './app';
import { MAX_BODY_DEPTH } from './json-body';
import { NOT_PROTO_KEY, NO_PROTOTYPE_KEYS } from './schemas-common';
import { errorResponse } from './schemas-errors';

/** Methods whose body Fastify reads (so: bad JSON 400, too large 413, not JSON 415). GET and HEAD bodies are ignored. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const ActingUser = Type.Integer({
  minimum: -2147483648,
  maximum: 2147483647,
  description:
    'The user the request acts for, a base-10 32-bit integer. Required with a service or admin key on session ' +
    "routes (400 missing_user without it); with a user key it may only name that key's user (403 forbidden).",
});

export async function registerOpenApi(app: Api, options: { bodyLimitBytes: number }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'durable-sessions',
        version: '1',
        description:
          'Session persistence for AI agents. Wire names are the reference session package JSON. Every error is ' +
          '`{code, message}` with a stable code (docs/http-api.md). Request bodies are JSON (Content-Type: ' +
          `application/json), at most ${options.bodyLimitBytes} bytes (413 payload_too_large); an empty body is ` +
          `no body. A body nests at most ${MAX_BODY_DEPTH} levels; \`__proto__\` and \`constructor.prototype\` are ` +
          'refused as keys anywhere in it, and its numbers must fit a double. Methods a path does not have are 405 ' +
          'with Allow; unknown paths 404 not_found.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API key: user:<id>, service or admin (DS_API_KEYS; without them a loopback API has one admin key ' +
              'in its data dir). Service and admin keys name the acting user in X-User-Id.',
          },
        },
      },
      security: [{ bearer: [] }],
    },
    // Shared schemas (the recursive metadata value) are named by their $id in components.schemas.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url, route }) => ({ schema: documentRoute(schema, url, route), url }),
    transformObject: (documentObject) => {
      const doc = (documentObject as { openapiObject: OpenApiDocument }).openapiObject;
      requireResponseHeaders(doc);
      return doc;
    },
  });
}

/** A route's schema as the document shows it: the statuses and headers every route of its kind has added. */
function documentRoute(schema: FastifySchema | undefined, url: string, route: RouteOptions): FastifySchema {
  const s = (schema ?? {}) as FastifySchema & { security?: unknown[]; hide?: boolean; description?: string };
  if (s.hide) return s;
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const readsBody = methods.some((m) => BODY_METHODS.has(m.toUpperCase()));
  const isPublic = Array.isArray(s.security) && s.security.length === 0;
  // The auth hook reads X-User-Id on every /v1 route (a malformed one is 400 there).
  const actsForUser = !isPublic && url.startsWith('/v1/');
  const validates = Boolean(s.body || s.querystring || s.params || s.headers);

  const response: Record<string, unknown> = { ...((s.response as Record<string, unknown>) ?? {}) };
  const add = (status: number): void => {
    if (!(String(status) in response)) response[String(status)] = errorResponse(status);
  };
  if (readsBody || validates || actsForUser) add(400);
  if (!isPublic) {
    add(401);
    add(403);
  }
  if (readsBody) {
    add(413);
    add(415);
  }
  // The socket's own refusals (src/http/unmatched.ts) and the unexpected can meet any route.
  add(408);
  add(431);
  add(500);

  const out: FastifySchema & { description?: string } = { ...s, response };
  if (s.body) out.body = withPrototypeRules(s.body);
  if (actsForUser) {
    const headers = s.headers as { properties?: Record<string, TSchema> } | undefined;
    out.headers = Type.Object({ ...(headers?.properties ?? {}), 'x-user-id': Type.Optional(ActingUser) });
  }
  if (readsBody) {
    const rule = 'An empty body is no body; a body must be JSON (Content-Type: application/json).';
    out.description = s.description ? `${s.description} ${rule}` : rule;
  }
  return out;
}

/**
 * A request body as documented: the JSON parser refuses `__proto__` and `constructor.prototype` in every object of
 * every body (src/http/json-body.ts), so each object that takes keys of the caller's choosing says so. A copy:
 * validation keeps the route's own schema.
 */
function withPrototypeRules(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withPrototypeRules);
  if (typeof schema !== 'object' || schema === null) return schema;
  const node = schema as Record<string | symbol, unknown>;
  const out: Record<string | symbol, unknown> = {};
  // `not` and `propertyNames` say what is refused, not a shape the caller fills in: they stay as they are.
  for (const key of Reflect.ownKeys(node))
    out[key] = key === 'not' || key === 'propertyNames' ? node[key] : withPrototypeRules(node[key]);
  if (node.type === 'object' && node.additionalProperties !== false) {
    out.propertyNames ??= NOT_PROTO_KEY;
    out.not ??= NO_PROTOTYPE_KEYS.not;
  }
  return out;
}

interface OpenApiDocument {
  paths?: Record<
    string,
    Record<string, { responses?: Record<string, { headers?: Record<string, Header> }> }>
  >;
}
interface Header {
  required?: boolean;
}

/** Every response header we document is always sent with its status (errorAnswer, unmatched.ts). */
function requireResponseHeaders(doc: OpenApiDocument): void {
  for (const item of Object.values(doc.paths ?? {}))
    for (const operation of Object.values(item))
      for (const response of Object.values(operation.responses ?? {}))
        for (const header of Object.values(response.headers ?? {})) header.required = true;
}
