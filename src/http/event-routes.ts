// GET /v1/sessions/{id}/events: a session's changes as Server-Sent Events, one event per version, in order, resumable
// with Last-Event-ID, ending with a `deleted` event. Fed by the session's actor through the process's change feeds.
// Registered by buildApp (app.ts).
import { PassThrough } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { CHANGE_TYPES, toWireChange } from '../session-changes';
import { watchChanges } from '../watch';
import type { Api } from './app';
import { actingUser } from './auth';
import type { ChangeFeeds } from './change-feed';
import { toHttpError } from './errors';
import { type SessionAccess, principalOf } from './session-access';
import { errorResponses } from './schemas-errors';
import { SessionParams } from './schemas-session';

export const EVENT_STREAM_MEDIA_TYPE = 'text/event-stream';
/** A comment line this often keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

const EventHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        'Resume after this version (the id of the last event received; browsers send it when they reconnect). ' +
        'Absent: the first event is the whole session',
    }),
  ),
});

/** One event of the stream (OpenAPI 3.1: the `schema` of an event stream describes each event). */
const Event = Type.Object(
  {
    event: Type.Union(
      [...CHANGE_TYPES, 'error'].map((t) => Type.Literal(t)),
      {
        description: 'The change type; `error` ends a stream that failed after it started',
      },
    ),
    id: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: 'The version (resume after it)' })),
    data: Type.String({
      contentMediaType: 'application/json',
      description:
        'The change as JSON: `{type, version, ...}` — `session` carries `session`, `appended` `messages` (and ' +
        '`agent_type`), `metadata` the keys set, `appended`/`cleared`/`metadata` `updated_at`; `error` is ' +
        '`{code, message}`',
    }),
    retry: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { description: 'One Server-Sent Event' },
);

export function registerEventRoutes(
  app: Api,
  deps: { access: SessionAccess; feeds: ChangeFeeds; maxStreamSeconds: number; retryAfterSeconds: number },
): void {
  const { access, feeds } = deps;
  app.get(
    '/v1/sessions/:id/events',
    {
      schema: {
        tags: ['sessions'],
        summary:
          "The session's changes as Server-Sent Events: one event per version (`session`, `appended`, `cleared`, " +
          '`metadata`), in order, ending with `deleted`; resumable with Last-Event-ID',
        description:
          'Each event is `id: <version>`, `event: <type>`, `data: <the change as JSON>`. Without Last-Event-ID the ' +
          'first event is `session`, the whole session; when the changes after Last-Event-ID are no longer known, a ' +
          `\`session\` event takes their place. A stream lasts at most ${deps.maxStreamSeconds} s ` +
          '(DS_API_SSE_MAX_SECONDS); reconnect with Last-Event-ID, as EventSource does by itself.',
        params: SessionParams,
        headers: EventHeaders,
        response: {
          200: {
            description: 'A stream of events',
            content: { [EVENT_STREAM_MEDIA_TYPE]: { schema: Event } },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const userId = actingUser(principalOf(request));
      // Before the stream starts, so another user's or a missing session is an ordinary 404.
      await access.owned(id, userId);
      const fromVersion = request.headers['last-event-id'] as number | undefined;
      const feed = feeds.open(id, userId);
      const out = new PassThrough();
      const stop = new AbortController();
      const stopped = new Promise<null>((resolve) =>
        stop.signal.addEventListener('abort', () => resolve(null), { once: true }),
      );
      reply.raw.on('close', () => stop.abort());
      const deadline = setTimeout(() => stop.abort(), deps.maxStreamSeconds * 1000);
      const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), HEARTBEAT_MS);
      out.write('retry: 1000\n\n');
      const changes = watchChanges((o) => feed.next(o.afterVersion), { fromVersion, signal: stop.signal });
      void (async () => {
        const iterator = changes[Symbol.asyncIterator]();
        try {
          for (;;) {
            const pending = iterator.next();
            // A poll still waiting when the stream stops fails (aborted): nobody needs its answer.
            pending.catch(() => undefined);
            const next = await Promise.race([pending, stopped]);
            if (!next || next.done) break;
            const change = toWireChange(next.value);
            out.write(`id: ${change.version}\nevent: ${change.type}\ndata: ${JSON.stringify(change)}\n\n`);
            if (change.type === 'deleted') break;
          }
        } catch (err) {
          // The status is sent: the failure becomes the stream's last event, in the registry's shape.
          const { error, expected } = toHttpError(err, deps.retryAfterSeconds, id);
          if (!expected) request.log.error({ err, session_id: id }, 'event stream failed');
          out.write(
            `event: error\ndata: ${JSON.stringify({ code: error.code, message: error.message })}\n\n`,
          );
        } finally {
          clearTimeout(deadline);
          clearInterval(heartbeat);
          feed.close();
          out.end();
        }
      })();
      return reply
        .header('cache-control', 'no-cache')
        .header('x-accel-buffering', 'no')
        .type(`${EVENT_STREAM_MEDIA_TYPE}; charset=utf-8`)
        .send(out);
    },
  );
}
