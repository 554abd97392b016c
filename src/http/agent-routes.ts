// The /v1 routes of sessions shaped like today's agents (issue 16): a whole agent step, the session's settings
// (window, transcript), the transcript in pages and as JSONL, and fork. Registered by buildApp (app.ts).
import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { fromWireMessage, fromWireSettings, toWireContext, toWireMessage } from '../types';
import type { Api, SessionBackend } from './app';
import { actingUser } from './auth';
import { type SessionAccess, asOwner, principalOf } from './session-access';
import { errorResponse, errorResponses } from './schemas-errors';
import { SessionParams, Settings, TranscriptAnswer, TranscriptQuery } from './schemas-session';
import { Applied, AppliedMinimal, ForkBody, StepBody, WriteHeaders } from './schemas-writes';

export const JSONL_MEDIA_TYPE = 'application/jsonl';

export function registerAgentRoutes(
  app: Api,
  deps: { service: SessionBackend; access: SessionAccess },
): void {
  const { service, access } = deps;
  const tags = ['sessions'];
  const ok = { 200: Applied, 204: AppliedMinimal, ...errorResponses };

  app.post(
    '/v1/sessions/:id/steps',
    {
      schema: {
        tags,
        summary:
          'Append one agent step (appendMessages): user, assistant with tool calls, tool results, answer — one ' +
          'write, one version',
        params: SessionParams,
        headers: WriteHeaders,
        body: StepBody,
        response: ok,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { messages, agent_type: agentType } = request.body;
      return access.applied(request, reply, id, {
        type: 'appendMessages',
        messages: messages.map(fromWireMessage),
        ...(agentType ? { agentType } : {}),
      });
    },
  );

  app.put(
    '/v1/sessions/:id/settings',
    {
      schema: {
        tags,
        summary:
          "Replace the session's settings (configureSession): its window, applied at once, and its transcript; " +
          'absent fields are the defaults',
        params: SessionParams,
        headers: WriteHeaders,
        body: Settings,
        response: ok,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      return access.applied(request, reply, id, {
        type: 'configure',
        settings: fromWireSettings(request.body) ?? {},
      });
    },
  );

  app.post(
    '/v1/sessions/:id/fork',
    {
      schema: {
        tags,
        summary:
          'Fork the session (forkSession): a new session of the same owner with its state at its current version; ' +
          'the session itself is unchanged. 409 session_exists when the new id is taken',
        params: SessionParams,
        body: ForkBody,
        response: { ...ok, 409: errorResponse(409) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const target = request.body.session_id;
      const userId = actingUser(principalOf(request));
      // A retried fork that did happen is 409: the new session is there. Another user's source, or a target that is
      // another user's session, is answered like a missing session.
      const result = await access.inFlight.run(target, () =>
        asOwner(target, service.forkSession(id, target, { expectedUserId: userId })),
      );
      return { version: result.version, session: toWireContext(result.context) };
    },
  );

  app.get(
    '/v1/sessions/:id/transcript',
    {
      schema: {
        tags,
        summary:
          "A page of the session's transcript (settings.transcript), oldest first; it trails writes like lists do",
        params: SessionParams,
        querystring: TranscriptQuery,
        response: { 200: TranscriptAnswer, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      await access.owned(id, actingUser(principalOf(request)));
      const page = await service.getTranscript(id, request.query);
      return {
        entries: page.entries.map((e) => ({ version: e.version, message: toWireMessage(e.message) })),
        ...(page.nextCursor !== undefined ? { next_cursor: page.nextCursor } : {}),
      };
    },
  );

  app.get(
    '/v1/sessions/:id/transcript.jsonl',
    {
      schema: {
        tags,
        summary: "The session's whole transcript as JSON Lines: one message per line, oldest first",
        params: SessionParams,
        response: {
          200: {
            description: 'One message per line (the same shape as in `messages`)',
            content: { [JSONL_MEDIA_TYPE]: { schema: Type.String() } },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      await access.owned(id, actingUser(principalOf(request)));
      // The first page before the status is sent, so a failure to read is still an error answer.
      const first = await service.getTranscript(id, { limit: 500 });
      const out = new PassThrough();
      void (async () => {
        let page = first;
        try {
          for (;;) {
            for (const entry of page.entries) out.write(`${JSON.stringify(toWireMessage(entry.message))}\n`);
            if (!page.nextCursor) break;
            page = await service.getTranscript(id, { limit: 500, cursor: page.nextCursor });
          }
          out.end();
        } catch (err) {
          request.log.error({ err, session_id: id }, 'transcript export failed');
          out.destroy(err as Error);
        }
      })();
      return reply.type(JSONL_MEDIA_TYPE).send(out);
    },
  );
}
