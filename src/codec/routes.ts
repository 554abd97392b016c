// The codec server: Temporal's remote codec protocol (POST /codec/encode, /codec/decode) on the HTTP API, so the
// Temporal UI and CLI show decrypted payloads to an operator. Registered by buildApp (src/http/app.ts).
import { Type, type Static } from '@sinclair/typebox';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from '../http/app';
import type { ApiKeyRing } from '../http/auth';
import { HttpError } from '../http/errors';
import { errorResponse } from '../http/schemas-errors';
import { SessionKeyCodec } from './session-key-codec';
import { UI_SESSION_COOKIE, UiSessions, cookieValue } from './ui-session';

export interface CodecRouteOptions {
  codec: PayloadCodec;
  /** Throws an HttpError unless this Authorization header may use the codec (see `adminKeyOnly`). */
  authenticate: (authorization: string | undefined) => void | Promise<void>;
  /**
   * Browser origins (e.g. the Temporal UI's) that get CORS headers and may use a UI session (the cookie
   * /codec/login sets); exact `scheme://host:port` strings. An `Origin` alone grants nothing: any process can
   * send one.
   */
  uiOrigins?: readonly string[];
  /** The UI sessions (a fresh secret by default: cookies of another API process are not taken). */
  uiSessions?: UiSessions;
}

/** Bytes in proto3 JSON. Decoding is lenient like Buffer.from: characters outside the alphabet are skipped. */
const Base64 = Type.String({ description: 'Bytes as base64 (standard alphabet)' });

/** The payloads of the remote codec protocol: proto3 JSON, bytes as base64. */
const JsonPayloads = Type.Object({
  payloads: Type.Array(
    Type.Object({
      metadata: Type.Optional(Type.Record(Type.String(), Base64)),
      data: Type.Optional(Base64),
    }),
  ),
});
type JsonPayloads = Static<typeof JsonPayloads>;

/** Decoding shows the text of every user's sessions: an operator's right, so admin keys only. */
export function adminKeyOnly(keys: ApiKeyRing): CodecRouteOptions['authenticate'] {
  return (authorization) => {
    const principal = keys.authenticate(authorization, undefined);
    if (principal.role !== 'admin') throw new HttpError('forbidden', 'the codec server needs an admin key');
  };
}

export async function codecRoutes(app: Api, options: CodecRouteOptions): Promise<void> {
  const origins = new Set(options.uiOrigins ?? []);
  const sessions = options.uiSessions ?? new UiSessions();
  const allowedOrigin = (request: FastifyRequest): string | undefined => {
    const origin = request.headers.origin;
    return origin !== undefined && origins.has(origin) ? origin : undefined;
  };
  const cors = (request: FastifyRequest, reply: FastifyReply): void => {
    void reply.header('vary', 'Origin');
    const origin = allowedOrigin(request);
    if (!origin) return;
    void reply.header('access-control-allow-origin', origin);
    // The UI's "include cross-origin credentials" option needs this; it is harmless without it.
    void reply.header('access-control-allow-credentials', 'true');
  };

  for (const op of ['encode', 'decode'] as const) {
    const url = `/codec/${op}`;
    // Preflight: the UI sends JSON with X-Namespace, which browsers always preflight.
    app.options(
      url,
      {
        config: { public: true },
        schema: {
          tags: ['codec'],
          summary: 'CORS preflight of the Temporal UI: allow headers for the configured UI origins only',
          security: [],
          response: { 204: Type.Null({ description: 'No content; CORS headers for an allowed Origin' }) },
        },
      },
      async (request, reply) => {
        cors(request, reply);
        if (allowedOrigin(request)) {
          void reply.header('access-control-allow-methods', 'POST, OPTIONS');
          void reply.header('access-control-allow-headers', 'content-type, x-namespace, authorization');
          void reply.header('access-control-max-age', '600');
        }
        return reply.status(204).send(null);
      },
    );

    app.post(
      url,
      {
        // The credential check is ours (the UI sends a cookie, not a key), so the app-wide hook skips this route.
        config: { public: true },
        schema: {
          tags: ['codec'],
          summary: `Temporal remote codec: ${op} payloads (admin key, or a Temporal UI signed in at /codec/login)`,
          description:
            op === 'decode'
              ? 'A payload that is encrypted but does not decrypt (unknown key id, tampered) is 400 invalid_argument. ' +
                'With keys per session, a payload of a deleted session decodes to {"erased": "…"} (metadata erased: true).'
              : 'Encrypts with the newest key.',
          body: JsonPayloads,
          response: { 200: JsonPayloads, 400: errorResponse(400) },
        },
      },
      async (request, reply) => {
        cors(request, reply);
        await authenticate(request);
        const payloads = fromJson(request.body as JsonPayloads);
        const result =
          op === 'encode'
            ? await options.codec.encode(payloads)
            : await decodeOrReject(options.codec, payloads);
        return { payloads: result.map(toJson) };
      },
    );
  }

  /**
   * An admin key (scripts, the CLI), or a UI session: the cookie /codec/login set, sent by a browser from a UI
   * origin. The Origin check keeps pages of other origins (another port of this host included, which is the same
   * site to the browser) from spending the cookie; the cookie keeps processes that forge the Origin out.
   */
  async function authenticate(request: FastifyRequest): Promise<void> {
    if (request.headers.authorization !== undefined)
      return options.authenticate(request.headers.authorization);
    if (allowedOrigin(request) && sessions.valid(cookieValue(request.headers.cookie, UI_SESSION_COOKIE)))
      return;
    throw new HttpError(
      'unauthorized',
      'the codec server needs an admin key (Authorization: Bearer <key>) or, from the Temporal UI, a session: ' +
        'sign in at /codec/login and turn on "include cross-origin credentials" in the UI\'s codec settings',
    );
  }

  await app.register(async (scope) => {
    // The sign-in form posts form fields; only this scope parses them.
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 4096 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    const hidden = { config: { public: true }, schema: { hide: true } } as const;
    scope.get('/codec/login', hidden, async (_request, reply) =>
      reply.type('text/html; charset=utf-8').send(loginPage(origins)),
    );
    scope.post('/codec/login', hidden, async (request, reply) => {
      const key = (request.body as { key?: unknown } | undefined)?.key;
      await options.authenticate(typeof key === 'string' ? `Bearer ${key.trim()}` : undefined);
      const maxAge = Math.floor(sessions.ttlMs / 1000);
      void reply.header(
        'set-cookie',
        `${UI_SESSION_COOKIE}=${sessions.issue()}; Max-Age=${maxAge}; Path=/codec; HttpOnly; SameSite=Strict`,
      );
      return reply.type('text/html; charset=utf-8').send(signedInPage(origins, maxAge));
    });
    scope.post('/codec/logout', hidden, async (_request, reply) => {
      void reply.header(
        'set-cookie',
        `${UI_SESSION_COOKIE}=; Max-Age=0; Path=/codec; HttpOnly; SameSite=Strict`,
      );
      return reply
        .type('text/html; charset=utf-8')
        .send(page('Signed out', '<p>The codec session is gone.</p>'));
    });
  });
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}

function loginPage(origins: ReadonlySet<string>): string {
  return page(
    'durable-sessions codec server',
    '<p>Sign in with an admin API key so that the Temporal UI in this browser can decode payloads. ' +
      'The key is not stored: the browser gets a codec-only session cookie.</p>' +
      '<form method="post" action="login"><label>Admin key <input type="password" name="key" autocomplete="off"></label> ' +
      '<button type="submit">Sign in</button></form>' +
      (origins.size === 0
        ? '<p>No UI origin is configured (DS_CODEC_UI_ORIGINS): the UI cannot use a session.</p>'
        : ''),
  );
}

function signedInPage(origins: ReadonlySet<string>, maxAgeSeconds: number): string {
  const links = [...origins].map((o) => `<li><a href="${escapeHtml(o)}">${escapeHtml(o)}</a></li>`).join('');
  return page(
    'Signed in',
    `<p>For ${Math.round(maxAgeSeconds / 3600)} hours, or until the API restarts. In the Temporal UI, open the ` +
      '<em>Codec Server</em> settings, enter this endpoint, tick <em>Use my browser setting</em> and ' +
      '<em>Include cross-origin credentials</em>, and apply.</p>' +
      (links ? `<ul>${links}</ul>` : ''),
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function decodeOrReject(codec: PayloadCodec, payloads: Payload[]): Promise<Payload[]> {
  try {
    // Per-session keys: a payload of a deleted session is answered as erased, not as an error.
    return await (codec instanceof SessionKeyCodec
      ? codec.decodeForDisplay(payloads)
      : codec.decode(payloads));
  } catch (err) {
    // An unknown key or a tampered payload is the caller's data, not our failure.
    throw new HttpError('invalid_argument', (err as Error).message, { cause: err });
  }
}

function fromJson(body: JsonPayloads): Payload[] {
  return body.payloads.map((p) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ),
    data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
  }));
}

function toJson(p: Payload): JsonPayloads['payloads'][number] {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}
