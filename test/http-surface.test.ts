// The HTTP surface's edges (issue 13): empty bodies, strict integer parameters, Fastify's and Node's own refusals in
// the registry's shape, named prototype keys, and an OpenAPI document that says what the API does.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AesGcmCodec } from '../src/codec';
import { buildApp } from '../src/http/app';
import { HTTP_ERRORS } from '../src/http/errors';
import { silentLogger } from '../src/logger';
import { ALICE, apiConfig, as, startHttpHarness, type HttpHarness } from './support/http-harness';
import { uniqueIds } from './support/contract';

type Method = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE' | 'TRACE' | 'QUERY' | 'OPTIONS';
type Answer = {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | number | undefined>;
};

/** An error answer in the registry's shape: exactly {code, message}, a known code, the code's own status. */
function expectRegistryError(what: string, answer: Answer, code: keyof typeof HTTP_ERRORS): void {
  expect([what, answer.status, answer.body]).toEqual([
    what,
    HTTP_ERRORS[code].status,
    { code, message: expect.any(String) },
  ]);
}

describe('HTTP surface', () => {
  let s: HttpHarness;
  let ids: ReturnType<typeof uniqueIds>;
  let port: number;

  beforeAll(async () => {
    s = await startHttpHarness('http_surface');
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    port = (s.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await s?.close();
  });
  beforeEach(() => {
    ids = uniqueIds();
  });

  const call = async (
    method: Method,
    url: string,
    headers: Record<string, string>,
    payload?: string | object,
  ): Promise<Answer> => {
    const res = await s.app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    let body: unknown = res.body;
    try {
      body = res.json();
    } catch {
      // not JSON: compared as text
    }
    return { status: res.statusCode, body, headers: res.headers };
  };
  const json = { ...as('alice'), 'content-type': 'application/json' };

  async function created(): Promise<string> {
    const id = ids.sessionId();
    const res = await call('PUT', `/v1/sessions/${id}`, as('alice'), { agent_type: 'memo' });
    expect(res.status).toBe(200);
    return id;
  }

  /** The raw bytes on a socket, and the answer parsed from what comes back. */
  async function raw(request: Buffer | string): Promise<Answer> {
    const text = await new Promise<string>((resolve, reject) => {
      // Written, not ended: a half-closed socket may be closed before the answer (Connection: close ends it).
      const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
      let out = '';
      socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    });
    const [head, ...rest] = text.split('\r\n\r\n');
    const [statusLine, ...headerLines] = head.split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const at = line.indexOf(':');
      headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
    }
    const bodyText = rest.join('\r\n\r\n');
    let body: unknown = bodyText;
    try {
      body = JSON.parse(bodyText);
    } catch {
      // not JSON: compared as text
    }
    return { status: Number(statusLine.split(' ')[1]), body, headers };
  }

  test('an empty body with Content-Type: application/json is no body; routes that need one say so', async () => {
    const id = await created();
    let res = await call('DELETE', `/v1/sessions/${id}/messages`, json, '');
    expect([res.status, (res.body as { session?: { messages: unknown[] } }).session?.messages]).toEqual([
      200,
      [],
    ]);
    res = await call('DELETE', `/v1/sessions/${id}`, json, '');
    expect([res.status, res.body]).toEqual([204, '']);
    // The docs' own curl line: a DELETE with the JSON content type, no body and no Content-Length.
    const other = await created();
    const curlLike = await raw(
      `DELETE /v1/sessions/${other} HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${as('alice').authorization}\r\n` +
        'Content-Type: application/json\r\nConnection: close\r\n\r\n',
    );
    expect(curlLike.status).toBe(204);
    for (const [method, url] of [
      ['POST', `/v1/sessions/${id}/messages`],
      ['PATCH', `/v1/sessions/${id}/metadata`],
      ['POST', '/v1/cleanup'],
    ] as const) {
      res = await call(method, url, { ...json, ...as('admin', ALICE) }, '');
      expect([method, url, res.status, res.body]).toEqual([
        method,
        url,
        400,
        { code: 'invalid_argument', message: 'body: a JSON object is required' },
      ]);
    }
  });

  test('integer parameters are plain base-10 integers in range, named when refused', async () => {
    const id = await created();
    for (const bad of ['1.5', 'true', '0x10', '1e1', '+1', '%201', '', '1_0', '9007199254740993', '0b1']) {
      let res = await call('GET', `/v1/sessions/${id}/messages?last=${bad}`, as('alice'));
      expect([bad, res.status, res.body]).toEqual([
        bad,
        400,
        { code: 'invalid_argument', message: 'query parameter last: must be a base-10 integer' },
      ]);
      res = await call('GET', `/v1/users/${ALICE}/sessions?limit=${bad}`, as('alice'));
      expect([bad, res.status, res.body]).toEqual([
        bad,
        400,
        { code: 'invalid_argument', message: 'query parameter limit: must be a base-10 integer' },
      ]);
    }
    let res = await call('GET', `/v1/users/${ALICE}/sessions?limit=201`, as('alice'));
    expect(res.body).toEqual({
      code: 'invalid_argument',
      message: 'query parameter limit: must be at most 200',
    });
    res = await call('GET', `/v1/users/${ALICE}/sessions?limit=1&limit=2`, as('alice'));
    expect(res.body).toEqual({ code: 'invalid_argument', message: 'query parameter limit: send it once' });
    res = await call('GET', `/v1/users/${ALICE}.0/sessions`, as('alice'));
    expect(res.body).toEqual({
      code: 'invalid_argument',
      message: 'path parameter user_id: must be a base-10 integer',
    });
    for (const good of ['1', '-0', '0', '007'])
      expect([
        good,
        (await call('GET', `/v1/sessions/${id}/messages?last=${good}`, as('alice'))).status,
      ]).toEqual([good, 200]);
    res = await call('GET', `/v1/users/${ALICE}/sessions?limit=5`, as('alice'));
    expect(res.status).toBe(200);
  });

  test('Idempotency-Key is visible ASCII, as a header carries it unchanged', async () => {
    const id = await created();
    const message = { role: 'user', content: 'x' };
    let res = await call(
      'POST',
      `/v1/sessions/${id}/messages`,
      { ...json, 'idempotency-key': 'caf\u00e9' },
      message,
    );
    expect([res.status, res.body]).toEqual([
      400,
      {
        code: 'invalid_argument',
        message: 'header idempotency-key: must be visible ASCII (spaces only inside)',
      },
    ]);
    res = await call(
      'POST',
      `/v1/sessions/${id}/messages`,
      { ...json, 'idempotency-key': 'turn 0001' },
      message,
    );
    expect(res.status).toBe(200);
  });

  test("Fastify's own refusals come in the registry's shape with the right status", async () => {
    const id = await created();
    expectRegistryError(
      'bad %-escape',
      await call('GET', '/v1/sessions/%zz', as('alice')),
      'invalid_argument',
    );
    // The router answers these itself, past the onResponse hook: still counted.
    expect(await s.metrics.text()).toMatch(
      /ds_http_request_duration_seconds_count\{method="GET",route="unmatched",status="400"\} [1-9]/,
    );
    expectRegistryError(
      'param over the router limit',
      await call('GET', `/v1/sessions/${'a'.repeat(300)}`, as('alice')),
      'invalid_argument',
    );
    expectRegistryError('unknown path', await call('GET', '/v1/nothing', as('alice')), 'not_found');
    expectRegistryError(
      'text/plain body',
      await call(
        'POST',
        `/v1/sessions/${id}/messages`,
        { ...as('alice'), 'content-type': 'text/plain' },
        'hi',
      ),
      'unsupported_media_type',
    );
    expectRegistryError(
      'malformed content type',
      await call('POST', `/v1/sessions/${id}/messages`, { ...as('alice'), 'content-type': ';;' }, '{}'),
      'unsupported_media_type',
    );
    expectRegistryError(
      'body over the limit',
      await call('PUT', `/v1/sessions/${id}`, json, JSON.stringify({ metadata: { x: 'y'.repeat(1100000) } })),
      'payload_too_large',
    );
    // A method the path does not have: 405 and what it does have.
    for (const [method, url, allow] of [
      ['PATCH', `/v1/sessions/${id}`, 'DELETE, GET, HEAD, PUT'],
      ['TRACE', '/healthz', 'GET, HEAD'],
      ['PUT', '/v1/cleanup', 'POST'],
      ['QUERY', `/v1/users/${ALICE}/sessions`, 'GET, HEAD'],
    ] as const) {
      const res = await call(method, url, as('alice'));
      expectRegistryError(`${method} ${url}`, res, 'method_not_allowed');
      expect([method, url, res.headers.allow]).toEqual([method, url, allow]);
    }
  });

  test("Node's own refusals (bytes that are not HTTP) come in the registry's shape too", async () => {
    const head = (path: Buffer | string, extra = ''): Buffer =>
      Buffer.concat([
        Buffer.from('GET '),
        Buffer.isBuffer(path) ? path : Buffer.from(path),
        Buffer.from(
          ` HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${as('alice').authorization}\r\n${extra}` +
            'Connection: close\r\n\r\n',
        ),
      ]);
    let res = await raw(head(Buffer.from([0x2f, 0x76, 0x31, 0x2f, 0xc3, 0xa9]))); // "/v1/é" as raw UTF-8
    expectRegistryError('raw non-ASCII path bytes', res, 'invalid_argument');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    res = await raw(head('/healthz', 'X-Bad: a\x01b\r\n'));
    expectRegistryError('control character in a header', res, 'invalid_argument');
    res = await raw(head('/healthz', `X-Big: ${'b'.repeat(20000)}\r\n`));
    expectRegistryError('headers over the limit', res, 'headers_too_large');
  });

  test('__proto__, constructor.prototype, numbers beyond a double and deep nesting are named as what is wrong', async () => {
    const id = await created();
    for (const [body, message] of [
      ['{"__proto__":{"x":1}}', '`__proto__` is not allowed as a key'],
      ['{"a":{"b":[{"__proto__":1}]}}', '`__proto__` is not allowed as a key'],
      ['{"\\u005f_proto__":1}', '`__proto__` is not allowed as a key'],
      ['{"constructor":{"prototype":{"x":1}}}', '`constructor.prototype` is not allowed as a key'],
      ['{"big":1e400}', 'a number in the body is too large (beyond ±1.8e308)'],
      // Deep enough to overflow a recursive check (it was a 500).
      [`{"deep":${'['.repeat(100000)}${']'.repeat(100000)}}`, 'the body nests deeper than 64 levels'],
    ]) {
      const res = await call('PATCH', `/v1/sessions/${id}/metadata`, json, body);
      expect([body.slice(0, 40), res.status, res.body]).toEqual([
        body.slice(0, 40),
        400,
        { code: 'invalid_argument', message },
      ]);
    }
    // The words alone are fine: only the prototype chain is off limits.
    const res = await call('PATCH', `/v1/sessions/${id}/metadata`, json, '{"constructor":"c","prototype":1}');
    expect([res.status, (res.body as { session: { metadata: object } }).session.metadata]).toEqual([
      200,
      { constructor: 'c', prototype: 1 },
    ]);
  });

  test('openapi.json says what the API does: media types, statuses, headers, auth and the rules', async () => {
    // The codec routes are part of the API as `npm start` runs it.
    const app = await buildApp({
      service: s.h.service,
      pool: s.h.pool,
      client: s.h.client,
      config: apiConfig(),
      logger: silentLogger,
      codec: { codec: new AesGcmCodec([{ id: 'k1', key: Buffer.alloc(32, 1) }]) },
    });
    try {
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
      const op = (path: string, method: string) => doc.paths[path][method];

      // /metrics is Prometheus text, as served.
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      expect(Object.keys(op('/metrics', 'get').responses[200].content)).toEqual([
        'text/plain; version=0.0.4',
      ]);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);

      // Every error the codec routes give is documented, not only 200.
      for (const path of ['/codec/encode', '/codec/decode'])
        expect([path, Object.keys(op(path, 'post').responses).sort()]).toEqual([
          path,
          ['200', '400', '401', '403', '408', '413', '415', '431', '500'],
        ]);
      expect(Object.keys(op('/v1/sessions/{id}', 'delete').responses).sort()).toEqual([
        '204',
        '400',
        '401',
        '403',
        '404',
        '408',
        '413',
        '415',
        '429',
        '431',
        '500',
        '503',
      ]);
      // A GET body is never read: no 413 or 415 there.
      expect(Object.keys(op('/v1/sessions/{id}', 'get').responses).sort()).toEqual([
        '200',
        '400',
        '401',
        '403',
        '404',
        '408',
        '429',
        '431',
        '500',
        '503',
      ]);

      // Every error response is {code, message} with codes of its own status, and the headers that go with it.
      for (const [path, item] of Object.entries(
        doc.paths as Record<string, Record<string, { responses: object }>>,
      ))
        for (const [method, operation] of Object.entries(item))
          for (const [status, response] of Object.entries(operation.responses) as [string, ResponseDoc][]) {
            if (Number(status) < 400 || path === '/readyz') continue;
            const schema = response.content['application/json'].schema;
            expect([path, method, status, schema.required]).toEqual([
              path,
              method,
              status,
              ['code', 'message'],
            ]);
            for (const code of schema.properties.code.enum)
              expect([path, status, code]).toEqual([path, status, expect.any(String)]);
            expect(
              schema.properties.code.enum.every(
                (c: string) => String(HTTP_ERRORS[c as 'internal'].status) === status,
              ),
            ).toBe(true);
            const headers = Object.keys(response.headers ?? {});
            const wanted =
              status === '401'
                ? ['www-authenticate']
                : ['429', '503'].includes(status)
                  ? ['retry-after']
                  : [];
            expect([path, method, status, headers]).toEqual([path, method, status, wanted]);
          }

      // X-User-Id is declared wherever the API reads it; public routes need no key.
      const params = (path: string, method: string) =>
        (op(path, method).parameters ?? []).map((p: { in: string; name: string }) => `${p.in}:${p.name}`);
      for (const [path, method] of [
        ['/v1/sessions/{id}', 'get'],
        ['/v1/sessions/{id}/turns', 'post'],
        ['/v1/users/{user_id}/sessions', 'get'],
        ['/v1/cleanup', 'post'],
      ])
        expect([path, params(path, method)]).toEqual([path, expect.arrayContaining(['header:x-user-id'])]);
      expect(params('/codec/decode', 'post')).not.toContain('header:x-user-id');
      for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json'])
        expect([path, op(path, 'get').security]).toEqual([path, []]);
      expect(doc.security).toEqual([{ bearer: [] }]);

      // The rules: no NUL in stored text, the byte limit said in bytes, metadata keys bounded.
      const turn = op('/v1/sessions/{id}/turns', 'post').requestBody.content['application/json'].schema;
      expect(turn.properties.user.pattern).toBe('^[^\\u0000]*$');
      expect(turn.properties.user.maxLength).toBeGreaterThanOrEqual(32768);
      expect(turn.properties.user.description).toMatch(/32768 bytes as UTF-8/);
      expect(turn.properties.user.description).toMatch(/lone UTF-16 surrogate/);
      const patch = op('/v1/sessions/{id}/metadata', 'patch').requestBody.content['application/json'].schema;
      expect(patch.propertyNames).toEqual({
        minLength: 1,
        maxLength: 128,
        pattern: '^[^\\u0000]*$',
        not: { enum: ['__proto__'] },
      });
      expect(patch.description).toMatch(/65536 bytes as UTF-8 JSON/);
      // Every object of every body that takes keys of the caller's choosing says `__proto__` is not one of them.
      const open: string[] = [];
      const visit = (where: string, node: unknown): void => {
        if (typeof node !== 'object' || node === null) return;
        const n = node as Record<string, unknown>;
        if (n.type === 'object' && n.additionalProperties !== false) {
          const names = n.propertyNames as { not?: unknown } | undefined;
          if (JSON.stringify(names?.not) !== JSON.stringify({ enum: ['__proto__'] })) open.push(where);
        }
        for (const [k, v] of Object.entries(n)) if (k !== 'not') visit(`${where}/${k}`, v);
      };
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, object>>))
        for (const [method, operation] of Object.entries(item))
          visit(`${method} ${path}`, (operation as { requestBody?: unknown }).requestBody);
      expect(open).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

interface ResponseDoc {
  content: Record<string, { schema: { required: string[]; properties: { code: { enum: string[] } } } }>;
  headers?: Record<string, unknown>;
}
