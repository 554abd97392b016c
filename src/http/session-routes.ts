// The /v1 session routes of the reference's operations: each checks the session belongs to the acting user, then
// runs one command or read. Registered by buildApp (app.ts); answers in the reference's JSON wire form (src/types.ts).
import { Type } from '@sinclair/typebox';
import type { ApiConfig } from '../config';
import type { SessionCommand } from '../session-rules';
import { recentMessages } from '../session-rules';
import {
  type ConversationContext,
  fromWireMessage,
  fromWireSettings,
  toWireContext,
  toWireMessage,
  toWireSummary,
} from '../types';
import type { AckMode } from '../metrics';
import type { Api, SessionBackend } from './app';
import { actingUser } from './auth';
import { SessionConflictError } from '../errors';
import { HttpError, sessionNotFound } from './errors';
import { type SessionAccess, commandOptions, ifMatchVersion, principalOf } from './session-access';
import { errorResponse, errorResponses } from './schemas-errors';
import { Message } from './schemas-messages';
import {
  ListQuery,
  MessagesAnswer,
  MessagesQuery,
  Session,
  SessionParams,
  SessionsPage,
  UserParams,
} from './schemas-session';
import {
  Applied,
  AppliedMinimal,
  DurableAccepted,
  MetadataPatch,
  RecoverBody,
  SaveBody,
  SaveHeaders,
  TurnBody,
  TurnParams,
  TurnQuery,
  TurnStatus,
  WriteHeaders,
} from './schemas-writes';

export interface SessionRouteDeps {
  service: SessionBackend;
  config: ApiConfig;
  access: SessionAccess;
  recordTurn(ack: AckMode): void;
}

export function registerSessionRoutes(app: Api, deps: SessionRouteDeps): void {
  const { service } = deps;
  const { inFlight, owned, checkBodyUser, applied } = deps.access;

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

  app.post(
    '/v1/sessions/:id/messages',
    {
      schema: {
        tags,
        summary:
          'Append one message (appendMessage): a tool call, a tool result or a plain message; the window keeps ' +
          'the last 20 by default',
        params: SessionParams,
        headers: WriteHeaders,
        body: Message,
        response: ok,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      return applied(request, reply, id, { type: 'appendMessage', message: fromWireMessage(request.body) });
    },
  );

  app.post(
    '/v1/sessions/:id/turns',
    {
      schema: {
        tags,
        summary:
          'Append a user message and the reply (appendTurn); ?ack=durable answers 202 once Temporal has it',
        params: SessionParams,
        headers: WriteHeaders,
        querystring: TurnQuery,
        body: TurnBody,
        response: { 200: Applied, 202: DurableAccepted, 204: AppliedMinimal, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { user, assistant, agent_type: agentType } = request.body;
      if (request.query.ack === 'durable') {
        const userId = actingUser(principalOf(request));
        const { turnId } = commandOptions(request.headers['idempotency-key']);
        // No read first: 202 as soon as Temporal has persisted the turn, with or without a worker running. The turn
        // carries the acting user as the owner it expects; the actor applies it to that user's existing session, or
        // records it as rejected (session_not_found / session_conflict), readable at GET .../turns/{turn_id}.
        const accepted = await inFlight.run(id, () =>
          service.submitTurn(id, user, assistant, { turnId, agentType, expectedUserId: userId }),
        );
        deps.recordTurn('durable');
        return reply.status(202).send({ turn_id: accepted });
      }
      const answer = await applied(request, reply, id, { type: 'appendTurn', user, assistant, agentType });
      deps.recordTurn('applied');
      return answer;
    },
  );

  app.get(
    '/v1/sessions/:id/turns/:turn_id',
    {
      schema: {
        tags,
        summary: 'What became of a durable turn (202 from ?ack=durable): applied, rejected or unknown',
        params: TurnParams,
        response: { 200: TurnStatus, ...errorResponses },
      },
    },
    async (request) => {
      const { id, turn_id: turnId } = request.params;
      const userId = actingUser(principalOf(request));
      const ctx = await service.loadContext(id);
      const outcome = await service.turnStatus(id, turnId);
      if (!ctx || ctx.userId === userId) return outcome;
      // Another user's session is answered exactly like a missing one: the caller's own turn there is "not found",
      // and nothing else of it shows.
      return outcome.status === 'rejected' && outcome.code === 'session_conflict'
        ? { status: 'rejected' as const, code: 'session_not_found', message: sessionNotFound(id).message }
        : { status: 'unknown' as const };
    },
  );

  app.get(
    '/v1/sessions/:id/messages',
    {
      schema: {
        tags,
        summary:
          'The last N messages (getRecentMessages), all when last is 0 or absent, within max_bytes when given',
        params: SessionParams,
        querystring: MessagesQuery,
        response: { 200: MessagesAnswer, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const ctx = await owned(id, actingUser(principalOf(request)));
      const { last = 0, max_bytes: maxBytes } = request.query;
      return { messages: recentMessages(ctx.messages, last, maxBytes).map(toWireMessage) };
    },
  );

  app.delete(
    '/v1/sessions/:id/messages',
    {
      schema: {
        tags,
        summary: 'Empty the messages; metadata and agent type stay (clearMessages)',
        params: SessionParams,
        headers: WriteHeaders,
        response: ok,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      return applied(request, reply, id, { type: 'clearMessages' });
    },
  );

  app.patch(
    '/v1/sessions/:id/metadata',
    {
      schema: {
        tags,
        summary: 'Set metadata keys in one atomic write (updateMetadata); other keys stay',
        params: SessionParams,
        headers: WriteHeaders,
        body: MetadataPatch,
        response: ok,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const patch = { ...request.body };
      return applied(request, reply, id, { type: 'updateMetadata', patch });
    },
  );

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
