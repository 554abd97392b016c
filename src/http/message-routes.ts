// The /v1 routes of a session's window: append a message or a turn (applied, or durable with its status), read the
// last messages, clear them, patch the metadata. Registered by registerSessionRoutes (session-routes.ts); as there,
// each route checks that the session belongs to the acting user.
import type { Api } from './app';
import { actingUser } from './auth';
import { sessionNotFound } from './errors';
import { commandOptions, principalOf } from './session-access';
import type { SessionRouteDeps } from './session-routes';
import { errorResponses } from './schemas-errors';
import { Message } from './schemas-messages';
import { MessagesAnswer, MessagesQuery, SessionParams } from './schemas-session';
import {
  Applied,
  AppliedMinimal,
  DurableAccepted,
  MetadataPatch,
  TurnBody,
  TurnParams,
  TurnQuery,
  TurnStatus,
  WriteHeaders,
} from './schemas-writes';
import { recentMessages } from '../session-rules';
import { fromWireMessage, toWireMessage } from '../types';

export function registerMessageRoutes(app: Api, deps: SessionRouteDeps): void {
  const { service } = deps;
  const { inFlight, owned, applied } = deps.access;

  const tags = ['sessions'];
  const ok = { 200: Applied, 204: AppliedMinimal, ...errorResponses };

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
}
