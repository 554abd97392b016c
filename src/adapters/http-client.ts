// A thin client of the HTTP API (docs/http-api.md) for the framework adapters: bearer key, acting user, JSON, and
// retries of writes with one Idempotency-Key (the actor's turn id), so a retried write is applied once.
import {
  type Message,
  type SessionSettings,
  type WireMessage,
  type WireSettings,
  fromWireMessage,
  toWireMessage,
  toWireSettings,
} from '../types';

export interface HttpSessionClientOptions {
  /** Where the API is, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A Bearer key (`user:<id>`, `service` or `admin`). */
  apiKey: string;
  /** The user the requests act for (`X-User-Id`; a `user:<id>` key may leave it out). */
  userId?: number;
  /** Attempts of a request that failed with no answer, 429 or 503 (default 4). */
  attempts?: number;
  fetch?: typeof fetch;
}

/** An answer of the API other than 2xx: its status and the `{code, message}` body. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`HTTP ${status} ${code}: ${message}`);
    this.name = 'HttpStatusError';
  }
}

export class HttpSessionClient {
  private readonly base: string;
  private readonly attempts: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: HttpSessionClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.attempts = Math.max(1, options.attempts ?? 4);
    this.fetchImpl = options.fetch ?? fetch;
  }

  /**
   * One request; a write is retried with the same `idempotencyKey` after a lost answer, a 429 or a 503 (reads are
   * retried the same way). Without a key a write is sent once.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
    extraHeaders?: Record<string, string>,
  ): Promise<T> {
    return (await this.exchange<T>(method, path, body, idempotencyKey, extraHeaders)).body;
  }

  /** As `request`, with the answer's ETag (the session's version on `GET /v1/sessions/{id}`). */
  async exchange<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
    extraHeaders?: Record<string, string>,
  ): Promise<{ body: T; etag: string | null }> {
    const headers: Record<string, string> = {
      ...extraHeaders,
      authorization: `Bearer ${this.options.apiKey}`,
    };
    if (this.options.userId !== undefined) headers['x-user-id'] = String(this.options.userId);
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const retryable = method === 'GET' || idempotencyKey !== undefined;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchImpl(`${this.base}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (!retryable || attempt >= this.attempts) throw err;
        await pause(attempt, null);
        continue;
      }
      if (response.ok)
        return {
          body: (response.status === 204 ? undefined : await response.json()) as T,
          etag: response.headers.get('etag'),
        };
      const answer = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
      if (retryable && (response.status === 429 || response.status === 503) && attempt < this.attempts) {
        await pause(attempt, response.headers.get('retry-after'));
        continue;
      }
      throw new HttpStatusError(
        response.status,
        answer.code ?? 'unknown',
        answer.message ?? response.statusText,
      );
    }
  }

  readonly toWire = (m: Message): WireMessage => toWireMessage(m);
  readonly fromWire = (w: WireMessage): Message => fromWireMessage(w);
  readonly toWireSettings = (s: SessionSettings): WireSettings | undefined => toWireSettings(s);
}

function pause(attempt: number, retryAfter: string | null): Promise<void> {
  const seconds = Number(retryAfter);
  const ms = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 50 * 2 ** attempt;
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5000)));
}
