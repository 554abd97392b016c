// The /v1 session routes of the reference's operations: each checks the session belongs to the acting user, then
// runs one command or read. Registered by buildApp (app.ts); answers in the reference's JSON wire form (src/types.ts).
import { Type } from '@sinclair/typebox';
import type { ApiConfig } from '../config';
import type { SessionCommand } from '../session-rules';
import {
  type ConversationContext,
  fromWireMessage,
  fromWireSettings,
  toWireContext,
  toWireSummary,
} from '../types';
import type { AckMode } from '../metrics';
import type { Api, SessionBackend } from './app';
import { registerMessageRoutes } from './message-routes';
import { actingUser } from './auth';
import { SessionConflictError } from '../errors';
import { HttpError, sessionNotFound } from './errors';
import { type SessionAccess, ifMatchVersion, principalOf } from './session-access';
import { errorResponse, errorResponses } from './schemas-errors';
import { ListQuery, Session, SessionParams, SessionsPage, UserParams } from './schemas-session';
import { Applied, AppliedMinimal, RecoverBody, SaveBody, SaveHeaders, WriteHeaders } from './schemas-writes';

export interface SessionRouteDeps {
  service: SessionBackend;
  config: ApiConfig;
  access: SessionAccess;
  recordTurn(ack: AckMode): void;
}

export function registerSessionRoutes(app: Api, deps: SessionRouteDeps): void {
  const { service } = deps;
  const { inFlight, checkBodyUser, applied } = deps.access;

  const tags = ['sessions'];
  const ok = { 200: Applied, 204: AppliedMinimal, ...errorResponses };

  app.put(
    '/v1/sessions/:id',
    {
      schema: {
        tags,
        summary: 'Save a session (saveContext): create it for the acting user or replace its content',
        params: SessionParams,
        headers: SaveHeaders,
        body: SaveBody,
        response: { ...ok, 412: errorResponse(412) },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const b = request.body;
      const userId = actingUser(principalOf(request));
      const context: ConversationContext = {
        sessionId: id,
        userId,
        agentType: b.agent_type ?? '',
        messages: (b.messages ?? []).map(fromWireMessage),
        metadata: b.metadata ?? {},
        createdAt: b.created_at ?? 0,
        updatedAt: 0,
      };
      const settings = b.settings && fromWireSettings(b.settings);
      if (settings) context.settings = settings;
      checkBodyUser(userId, b.user_id);
      return applied(
        request,
        reply,
        id,
        { type: 'save', context },
        ifMatchVersion(request.headers['if-match']),
      );
    },
  );

  app.get(
    '/v1/sessions/:id',
    {
      schema: {
        tags,
        summary: 'Load a session (loadContext)',
        params: SessionParams,
        response: { 200: Session, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const snapshot = await service.getSnapshot(id);
      if (!snapshot || snapshot.context.userId !== actingUser(principalOf(request)))
        throw sessionNotFound(id);
      // The version as an ETag: sent back in If-Match, it makes a PUT conditional on nothing having changed.
      void reply.header('etag', `"${snapshot.version}"`);
      return toWireContext(snapshot.context);
    },
  );

  app.delete(
    '/v1/sessions/:id',
    {
      schema: {
        tags,
        summary: 'Delete a session everywhere it lives (idempotent: 204 also when there is none)',
        params: SessionParams,
        response: { 204: Type.Null({ description: 'Deleted, or there was none' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const userId = actingUser(principalOf(request));
      await inFlight.run(id, async () => {
        // Missing: deleted anyway (erases leftover histories). Another user's: refused by the actor where it
        // deletes, answered like a missing one (204), untouched.
        try {
          await service.deleteSession(id, { expectedUserId: userId });
        } catch (err) {
          if (!(err instanceof SessionConflictError)) throw err;
        }
      });
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/sessions/:id/recover',
    {
      schema: {
        tags,
        summary: 'The session as it is, or a new empty one for the acting user (recoverSession)',
        params: SessionParams,
        headers: WriteHeaders,
        body: RecoverBody,
        response: ok,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const b = request.body;
      const userId = actingUser(principalOf(request));
      const settings = b.settings && (fromWireSettings(b.settings) ?? {});
      const command: SessionCommand = {
        type: 'recover',
        userId,
        ...(b.agent_type === undefined ? {} : { agentType: b.agent_type }),
        ...(settings === undefined ? {} : { settings }),
      };
      checkBodyUser(userId, b.user_id);
      return applied(request, reply, id, command);
    },
  );

  // The window's routes (messages, turns, metadata), in the same place of the OpenAPI document as before.
  registerMessageRoutes(app, deps);

  app.get(
    '/v1/users/:user_id/sessions',
    {
      schema: {
        tags,
        summary: "The acting user's sessions, newest first, in keyset pages (listSessions)",
        params: UserParams,
        querystring: ListQuery,
        response: { 200: SessionsPage, ...errorResponses },
      },
    },
    async (request) => {
      const userId = actingUser(principalOf(request));
      if (request.params.user_id !== userId)
        throw new HttpError('forbidden', "a key may only list its acting user's sessions");
      const { limit, cursor, agent_type: agentType } = request.query;
      const page = await service.listSessionsPage(userId, limit ?? 0, { cursor, agentType });
      return {
        sessions: page.sessions.map(toWireSummary),
        ...(page.nextCursor !== undefined ? { next_cursor: page.nextCursor } : {}),
      };
    },
  );
}
