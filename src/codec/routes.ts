// The codec server: Temporal's remote codec protocol (POST /codec/encode, /codec/decode) on the HTTP API, so the
// Temporal UI and CLI show decrypted payloads to an operator. Registered by buildApp (src/http/app.ts).
import { Type, type Static } from '@sinclair/typebox';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from '../http/app';
import { type ApiKeyRing, isLoopback } from '../http/auth';
import { HttpError } from '../http/errors';
import { errorResponse } from '../http/schemas';

export interface CodecRouteOptions {
  codec: PayloadCodec;
  /** Throws an HttpError unless the request may use the codec (see `adminKeyOnly`). */
  authenticate: (request: FastifyRequest) => void | Promise<void>;
  /** Browser origins (e.g. the Temporal UI's) that get CORS headers; exact `scheme://host:port` strings. */
  uiOrigins?: readonly string[];
  /**
   * Accept, without a key, requests that come over a loopback socket with an `Origin` from `uiOrigins`: the
   * dev-server UI cannot send a key. Only safe when the API itself listens on loopback with no proxy in front
   * (see docs/encryption.md).
   */
  trustLoopbackUi?: boolean;
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
  return (request) => {
    const principal = keys.authenticate(request.headers.authorization, undefined);
    if (principal.role !== 'admin') throw new HttpError('forbidden', 'the codec server needs an admin key');
  };
}

export async function codecRoutes(app: Api, options: CodecRouteOptions): Promise<void> {
  const origins = new Set(options.uiOrigins ?? []);
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
        // The key check is ours (a UI request may carry none), so the app-wide hook skips this route.
        config: { public: true },
        schema: {
          tags: ['codec'],
          summary: `Temporal remote codec: ${op} payloads (admin key, or the local Temporal UI)`,
          description:
            op === 'decode'
              ? 'A payload that is encrypted but does not decrypt (unknown key id, tampered) is 400 invalid_argument.'
              : 'Encrypts with the newest key.',
          body: JsonPayloads,
          response: { 200: JsonPayloads, 400: errorResponse(400) },
        },
      },
      async (request, reply) => {
        cors(request, reply);
        if (!(options.trustLoopbackUi && fromLocalUi(request))) await options.authenticate(request);
        const payloads = fromJson(request.body as JsonPayloads);
        const result =
          op === 'encode'
            ? await options.codec.encode(payloads)
            : await decodeOrReject(options.codec, payloads);
        return { payloads: result.map(toJson) };
      },
    );
  }

  function fromLocalUi(request: FastifyRequest): boolean {
    const remote = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    return allowedOrigin(request) !== undefined && isLoopback(remote);
  }
}

async function decodeOrReject(codec: PayloadCodec, payloads: Payload[]): Promise<Payload[]> {
  try {
    return await codec.decode(payloads);
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
