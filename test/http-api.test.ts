// The HTTP API through app.inject() on a real TemporalSessionService: every route, status and error code,
// auth and scoping (another user's session is answered like a missing one), idempotency keys, limits, 429.
import { MAX_MESSAGES_PER_SESSION } from '../src/types';
import { ALICE, BOB, as, startHttpHarness, type HttpHarness } from './support/http-harness';
import { eventually, uniqueIds } from './support/contract';

type Method = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

describe('HTTP API', () => {
  let s: HttpHarness;
  let ids: ReturnType<typeof uniqueIds>;

  beforeAll(async () => {
    s = await startHttpHarness('http_api');
  });
  afterAll(async () => {
    await s?.close();
  });
  beforeEach(() => {
    ids = uniqueIds();
  });

  const call = (method: Method, url: string, headers: Record<string, string>, payload?: unknown) =>
    s.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });

  async function created(owner: 'alice' | 'bob' = 'alice'): Promise<string> {
    const id = ids.sessionId();
    const res = await call('PUT', `/v1/sessions/${id}`, as(owner), {
      agent_type: 'memo',
      metadata: { topic: 'x' },
    });
    expect(res.statusCode).toBe(200);
    return id;
  }

  test('every session route, with the reference wire names', async () => {
    const id = ids.sessionId();
    let res = await call('PUT', `/v1/sessions/${id}`, as('alice'), {
      agent_type: 'memo',
      messages: [{ role: 'user', content: 'first' }],
      metadata: { n: 1 },
    });
    expect(res.statusCode).toBe(200);
    const saved = res.json();
    expect(saved.version).toBe(1);
    expect(Object.keys(saved.session).sort()).toEqual(
      ['agent_type', 'created_at', 'messages', 'metadata', 'session_id', 'updated_at', 'user_id'].sort(),
    );
    expect(saved.session).toMatchObject({
      session_id: id,
      user_id: ALICE,
      agent_type: 'memo',
      metadata: { n: 1 },
    });

    res = await call('GET', `/v1/sessions/${id}`, as('alice'));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(saved.session);

    res = await call('POST', `/v1/sessions/${id}/messages`, as('alice'), {
      role: 'assistant',
      content: 'second',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().version).toBe(2);

    res = await call('POST', `/v1/sessions/${id}/turns`, as('alice'), {
      user: 'q',
      assistant: 'a',
      agent_type: 'schedule',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().session.agent_type).toBe('schedule');

    res = await call('POST', `/v1/sessions/${id}/turns?ack=durable`, as('alice'), {
      user: 'q2',
      assistant: 'a2',
    });
    expect(res.statusCode).toBe(202);
    expect(typeof res.json().turn_id).toBe('string');

    // Read-your-writes: the durable turn is visible to the next read.
    res = await call('GET', `/v1/sessions/${id}/messages?last=2`, as('alice'));
    expect(res.statusCode).toBe(200);
    expect(res.json().messages).toEqual([
      { role: 'user', content: 'q2' },
      { role: 'assistant', content: 'a2' },
    ]);
    res = await call('GET', `/v1/sessions/${id}/messages`, as('alice'));
    expect(res.json().messages).toHaveLength(6);

    res = await call('PATCH', `/v1/sessions/${id}/metadata`, as('alice'), { a: 'x', b: 2 });
    expect(res.statusCode).toBe(200);
    expect(res.json().session.metadata).toEqual({ n: 1, a: 'x', b: 2 });

    res = await call('DELETE', `/v1/sessions/${id}/messages`, as('alice'));
    expect(res.statusCode).toBe(200);
    expect(res.json().session).toMatchObject({
      messages: [],
      agent_type: 'schedule',
      metadata: { n: 1, a: 'x', b: 2 },
    });

    // Lists read Postgres snapshots, which follow the actor within the persist delay: poll, then check the shape.
    await eventually(async () => {
      res = await call('GET', `/v1/users/${ALICE}/sessions`, as('alice'));
      expect(res.statusCode).toBe(200);
      const listed = res.json().sessions.find((x: { session_id: string }) => x.session_id === id);
      expect(Object.keys(listed ?? {}).sort()).toEqual([
        'agent_type',
        'last_message',
        'session_id',
        'updated_at',
      ]);
    });

    res = await call('DELETE', `/v1/sessions/${id}`, as('alice'));
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    res = await call('DELETE', `/v1/sessions/${id}`, as('alice'));
    expect(res.statusCode).toBe(204);
    res = await call('GET', `/v1/sessions/${id}`, as('alice'));
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ code: 'session_not_found', message: `session not found: ${id}` });
  });

  test('recover creates for the acting user, then answers the session as it is', async () => {
    const id = ids.sessionId();
    let res = await call('POST', `/v1/sessions/${id}/recover`, as('alice'), {
      user_id: ALICE,
      agent_type: 'memo',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().session).toMatchObject({ user_id: ALICE, agent_type: 'memo', messages: [] });
    res = await call('POST', `/v1/sessions/${id}/recover`, as('alice'), {});
    expect(res.statusCode).toBe(200);
    expect(res.json().version).toBe(1);
    res = await call('POST', `/v1/sessions/${id}/recover`, as('alice'), { user_id: BOB });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('forbidden');
    res = await call('PUT', `/v1/sessions/${ids.sessionId()}`, as('alice'), { user_id: BOB });
    expect(res.statusCode).toBe(403);
  });

  test('changes to a missing session are 404 session_not_found', async () => {
    const id = ids.sessionId();
    for (const [method, url, body] of [
      ['GET', `/v1/sessions/${id}`, undefined],
      ['GET', `/v1/sessions/${id}/messages`, undefined],
      ['POST', `/v1/sessions/${id}/messages`, { role: 'user', content: 'x' }],
      ['POST', `/v1/sessions/${id}/turns`, { user: 'x', assistant: 'y' }],
      ['DELETE', `/v1/sessions/${id}/messages`, undefined],
      ['PATCH', `/v1/sessions/${id}/metadata`, { k: 1 }],
    ] as [Method, string, unknown][]) {
      const res = await call(method, url, as('alice'), body);
      expect([method, url, res.statusCode, res.json()]).toEqual([
        method,
        url,
        404,
        { code: 'session_not_found', message: `session not found: ${id}` },
      ]);
    }
    // A durable turn is accepted without a read (202 once Temporal has it); the actor records it as not found.
    const res = await call('POST', `/v1/sessions/${id}/turns?ack=durable`, as('alice'), {
      user: 'x',
      assistant: 'y',
    });
    expect(res.statusCode).toBe(202);
    const status = await call('GET', `/v1/sessions/${id}/turns/${res.json().turn_id}`, as('alice'));
    expect([status.statusCode, status.json()]).toEqual([
      200,
      { status: 'rejected', code: 'session_not_found', message: `session not found: ${id}` },
    ]);
    expect((await call('GET', `/v1/sessions/${id}`, as('alice'))).statusCode).toBe(404);
  });

  test("another user's session answers exactly like a missing one on every route, and nothing changes", async () => {
    const id = await created('alice');
    await call('POST', `/v1/sessions/${id}/turns`, as('alice'), { user: 'secret', assistant: 'reply' });
    const before = (await call('GET', `/v1/sessions/${id}`, as('alice'))).json();
    const missing = ids.sessionId();
    const attempts: [Method, string, unknown][] = [
      ['GET', '', undefined],
      ['PUT', '', { agent_type: 'x', messages: [{ role: 'user', content: 'overwrite' }] }],
      ['POST', '/recover', {}],
      ['POST', '/messages', { role: 'user', content: 'x' }],
      ['POST', '/turns', { user: 'x', assistant: 'y' }],
      ['POST', '/turns?ack=durable', { user: 'x', assistant: 'y' }],
      ['GET', '/messages?last=1', undefined],
      ['DELETE', '/messages', undefined],
      ['PATCH', '/metadata', { topic: 'stolen' }],
      ['DELETE', '', undefined],
    ];
    for (const [who, headers] of [
      ['bob', as('bob')],
      ['service for bob', as('service', BOB)],
      ['admin for bob', as('admin', BOB)],
    ] as const) {
      for (const [method, suffix, body] of attempts) {
        const foreign = await call(method, `/v1/sessions/${id}${suffix}`, headers, body);
        const absent = await call(method, `/v1/sessions/${missing}${suffix}`, headers, body);
        const shape = (r: typeof foreign) => ({
          status: r.statusCode,
          body: r.body
            .replaceAll(id, '<id>')
            .replaceAll(missing, '<id>')
            .replace(/"turn_id":"[^"]+"/, ''),
        });
        if (suffix === '/turns?ack=durable') {
          // Accepted either way (no read before the signal); what became of it reads the same too.
          const outcome = async (r: typeof foreign, sid: string) =>
            shape(await call('GET', `/v1/sessions/${sid}/turns/${r.json().turn_id}`, headers));
          expect([who, await outcome(foreign, id)]).toEqual([who, await outcome(absent, missing)]);
          expect(foreign.statusCode).toBe(202);
        }
        // PUT and recover on a free id create it for the caller; everything else must be indistinguishable.
        if ((method === 'PUT' || suffix === '/recover') && absent.statusCode === 200) {
          expect([who, method, suffix, foreign.statusCode, foreign.json().code]).toEqual([
            who,
            method,
            suffix,
            404,
            'session_not_found',
          ]);
          await call('DELETE', `/v1/sessions/${missing}`, headers);
        } else {
          expect([who, method, suffix, shape(foreign)]).toEqual([who, method, suffix, shape(absent)]);
          expect(
            foreign.statusCode === 404 ||
              (method === 'DELETE' && suffix === '') ||
              suffix === '/turns?ack=durable',
          ).toBe(true);
        }
      }
    }
    const after = await call('GET', `/v1/sessions/${id}`, as('alice'));
    expect(after.statusCode).toBe(200);
    expect(after.json()).toEqual(before);
    // Bob's list does not show it.
    const bobs = (await call('GET', `/v1/users/${BOB}/sessions`, as('bob'))).json();
    expect(bobs.sessions.map((x: { session_id: string }) => x.session_id)).not.toContain(id);
  });

  test('auth: missing or bad key 401, service key without X-User-Id 400, other user 403, cleanup admin only', async () => {
    const id = await created('alice');
    let res = await call('GET', `/v1/sessions/${id}`, {});
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer');
    res = await call('GET', `/v1/sessions/${id}`, { authorization: 'Bearer not-a-key-0123456789' });
    expect([res.statusCode, res.json().code]).toEqual([401, 'unauthorized']);
    res = await call('GET', `/v1/sessions/${id}`, {
      authorization: `Basic ${Buffer.from('a:b').toString('base64')}`,
    });
    expect(res.statusCode).toBe(401);
    res = await call('GET', `/v1/sessions/${id}`, as('service'));
    expect([res.statusCode, res.json().code]).toEqual([400, 'missing_user']);
    res = await call('GET', `/v1/sessions/${id}`, as('service', ALICE));
    expect(res.statusCode).toBe(200);
    res = await call('GET', `/v1/sessions/${id}`, as('admin', ALICE));
    expect(res.statusCode).toBe(200);
    res = await call('GET', `/v1/sessions/${id}`, { ...as('service'), 'x-user-id': 'abc' });
    expect([res.statusCode, res.json().code]).toEqual([400, 'invalid_argument']);
    res = await call('GET', `/v1/sessions/${id}`, as('alice', BOB));
    expect([res.statusCode, res.json().code]).toEqual([403, 'forbidden']);
    res = await call('GET', `/v1/users/${BOB}/sessions`, as('alice'));
    expect([res.statusCode, res.json().code]).toEqual([403, 'forbidden']);
    res = await call('GET', `/v1/users/${BOB}/sessions`, as('service', ALICE));
    expect(res.statusCode).toBe(403);
    for (const key of ['alice', 'service'] as const) {
      res = await call('POST', '/v1/cleanup', as(key, ALICE), { retention_days: 30 });
      expect([key, res.statusCode, res.json().code]).toEqual([key, 403, 'forbidden']);
    }
    // Public routes need no key.
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json'])
      expect([url, (await call('GET', url, {})).statusCode]).toEqual([url, 200]);
  });

  test('cleanup (admin): dry run counts, the real run deletes', async () => {
    const id = ids.sessionId();
    const old = Math.floor(Date.now() / 1000) - 90 * 86400;
    await s.h.seed({
      sessionId: id,
      userId: ALICE,
      agentType: '',
      messages: [],
      metadata: {},
      createdAt: old,
      updatedAt: old,
    });
    let res = await call('POST', '/v1/cleanup', as('admin'), { retention_days: 60, dry_run: true });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ deleted: 1, dry_run: true });
    res = await call('POST', '/v1/cleanup', as('admin'), { retention_days: 60 });
    expect(res.json()).toEqual({ deleted: 1, dry_run: false });
    expect((await call('GET', `/v1/sessions/${id}`, as('alice'))).statusCode).toBe(404);
    res = await call('POST', '/v1/cleanup', as('admin'), { retention_days: -1 });
    expect([res.statusCode, res.json().code]).toEqual([400, 'invalid_argument']);
    expect((await s.metrics.text()).includes('ds_cleanup_deleted_sessions_total 1')).toBe(true);
  });

  test('Idempotency-Key: a retried write is applied once and answers as the first did', async () => {
    const id = await created('alice');
    const headers = { ...as('alice'), 'idempotency-key': 'turn-abc' };
    const first = await call('POST', `/v1/sessions/${id}/turns`, headers, {
      user: 'once',
      assistant: 'only',
    });
    const again = await call('POST', `/v1/sessions/${id}/turns`, headers, {
      user: 'once',
      assistant: 'only',
    });
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.json().version).toBe(first.json().version);
    const durable = { ...as('alice'), 'idempotency-key': 'turn-durable' };
    const d1 = await call('POST', `/v1/sessions/${id}/turns?ack=durable`, durable, {
      user: 'd',
      assistant: 'e',
    });
    const d2 = await call('POST', `/v1/sessions/${id}/turns?ack=durable`, durable, {
      user: 'd',
      assistant: 'e',
    });
    expect([d1.statusCode, d1.json().turn_id, d2.json().turn_id]).toEqual([
      202,
      'turn-durable',
      'turn-durable',
    ]);
    const messages = (await call('GET', `/v1/sessions/${id}/messages`, as('alice'))).json().messages;
    expect(messages.map((m: { content: string }) => m.content)).toEqual(['once', 'only', 'd', 'e']);
    for (const bad of ['', 'x'.repeat(129)]) {
      const res = await call(
        'POST',
        `/v1/sessions/${id}/messages`,
        { ...as('alice'), 'idempotency-key': bad },
        {
          role: 'user',
          content: 'x',
        },
      );
      expect([bad.length, res.statusCode, res.json().code]).toEqual([bad.length, 400, 'invalid_argument']);
    }
  });

  test('Prefer: return=minimal answers 204 with the version as ETag; the write is applied once', async () => {
    const id = await created('alice');
    const minimal = {
      ...as('alice'),
      prefer: 'respond-async, return=minimal',
      'idempotency-key': 'turn-min',
    };
    const first = await call('POST', `/v1/sessions/${id}/turns`, minimal, {
      user: 'short',
      assistant: 'answer',
    });
    const again = await call('POST', `/v1/sessions/${id}/turns`, minimal, {
      user: 'short',
      assistant: 'answer',
    });
    for (const res of [first, again]) {
      expect([res.statusCode, res.body, res.headers['preference-applied']]).toEqual([
        204,
        '',
        'return=minimal',
      ]);
    }
    expect(again.headers.etag).toBe(first.headers.etag);
    const get = await call('GET', `/v1/sessions/${id}`, as('alice'));
    expect(get.headers.etag).toBe(first.headers.etag);
    expect(get.json().messages.map((m: { content: string }) => m.content)).toEqual(['short', 'answer']);
    // Every applied route takes it; another user's session still answers like a missing one.
    const step = await call(
      'POST',
      `/v1/sessions/${id}/messages`,
      { ...as('alice'), prefer: 'return=minimal' },
      {
        role: 'user',
        content: 'next',
      },
    );
    expect([step.statusCode, step.headers.etag]).toEqual([204, '"3"']);
    const other = await call(
      'POST',
      `/v1/sessions/${id}/messages`,
      { ...as('bob'), prefer: 'return=minimal' },
      {
        role: 'user',
        content: 'not yours',
      },
    );
    expect([other.statusCode, other.json().code]).toEqual([404, 'session_not_found']);
    // Without it, or with another preference, the session comes back as before.
    const full = await call(
      'POST',
      `/v1/sessions/${id}/turns`,
      { ...as('alice'), prefer: 'return=representation' },
      {
        user: 'u',
        assistant: 'a',
      },
    );
    expect([full.statusCode, full.json().version, full.json().session.messages.length]).toEqual([200, 4, 5]);
  });

  test('limits and bad input are 4xx with a stable code, never 5xx', async () => {
    const id = await created('alice');
    const json = { ...as('alice'), 'content-type': 'application/json' };
    const cases: [string, Method, string, Record<string, string>, unknown, number, string][] = [
      ['malformed JSON', 'POST', `/v1/sessions/${id}/messages`, json, '{"role":', 400, 'invalid_argument'],
      [
        'text/plain',
        'POST',
        `/v1/sessions/${id}/messages`,
        { ...as('alice'), 'content-type': 'text/plain' },
        'hi',
        415,
        'unsupported_media_type',
      ],
      [
        'body over 1 MiB',
        'PUT',
        `/v1/sessions/${id}`,
        json,
        JSON.stringify({ metadata: { x: 'y'.repeat(1100000) } }),
        413,
        'payload_too_large',
      ],
      [
        'content over 32 KiB',
        'POST',
        `/v1/sessions/${id}/messages`,
        json,
        { role: 'user', content: 'é'.repeat(17000) },
        400,
        'invalid_argument',
      ],
      [
        'metadata over 64 KiB',
        'PATCH',
        `/v1/sessions/${id}/metadata`,
        json,
        { big: 'z'.repeat(70000) },
        400,
        'invalid_argument',
      ],
      ['empty metadata patch', 'PATCH', `/v1/sessions/${id}/metadata`, json, {}, 400, 'invalid_argument'],
      [
        'bad role',
        'POST',
        `/v1/sessions/${id}/messages`,
        json,
        { role: 'robot', content: 'x' },
        400,
        'invalid_argument',
      ],
      [
        'empty content',
        'POST',
        `/v1/sessions/${id}/turns`,
        json,
        { user: '', assistant: 'x' },
        400,
        'invalid_argument',
      ],
      [
        'unknown field',
        'POST',
        `/v1/sessions/${id}/turns`,
        json,
        { user: 'x', assistant: 'y', extra: 1 },
        400,
        'invalid_argument',
      ],
      [
        'user_id as string',
        'PUT',
        `/v1/sessions/${id}`,
        json,
        { user_id: String(ALICE) },
        400,
        'invalid_argument',
      ],
      ['bad id', 'GET', '/v1/sessions/bad%20id', as('alice'), undefined, 400, 'invalid_argument'],
      [
        'id too long',
        'GET',
        `/v1/sessions/${'a'.repeat(129)}`,
        as('alice'),
        undefined,
        400,
        'invalid_argument',
      ],
      [
        'bad ack',
        'POST',
        `/v1/sessions/${id}/turns?ack=never`,
        json,
        { user: 'x', assistant: 'y' },
        400,
        'invalid_argument',
      ],
      [
        'bad last',
        'GET',
        `/v1/sessions/${id}/messages?last=abc`,
        as('alice'),
        undefined,
        400,
        'invalid_argument',
      ],
      [
        'limit too big',
        'GET',
        `/v1/users/${ALICE}/sessions?limit=201`,
        as('alice'),
        undefined,
        400,
        'invalid_argument',
      ],
      [
        'negative limit',
        'GET',
        `/v1/users/${ALICE}/sessions?limit=-1`,
        as('alice'),
        undefined,
        400,
        'invalid_argument',
      ],
      [
        'bad cursor',
        'GET',
        `/v1/users/${ALICE}/sessions?cursor=zzz`,
        as('alice'),
        undefined,
        400,
        'invalid_argument',
      ],
      ['bad user id', 'GET', '/v1/users/abc/sessions', as('alice'), undefined, 400, 'invalid_argument'],
      [
        'bad agent_type',
        'GET',
        `/v1/users/${ALICE}/sessions?agent_type=a%20b`,
        as('alice'),
        undefined,
        400,
        'invalid_argument',
      ],
      [
        'proto poisoning',
        'PATCH',
        `/v1/sessions/${id}/metadata`,
        json,
        '{"__proto__":{"x":1}}',
        400,
        'invalid_argument',
      ],
      ['unknown route', 'GET', '/v1/nothing', as('alice'), undefined, 404, 'not_found'],
    ];
    for (const [what, method, url, headers, body, status, code] of cases) {
      const res = await call(method, url, headers, body);
      expect([what, res.statusCode, res.json().code]).toEqual([what, status, code]);
      expect(typeof res.json().message).toBe('string');
    }
    // The window still holds: more than 20 messages saved are cut to the last 20.
    const many = Array.from({ length: 25 }, (_, i) => ({ role: 'user', content: `m${i}` }));
    const res = await call('PUT', `/v1/sessions/${id}`, as('alice'), { messages: many });
    expect(res.json().session.messages).toHaveLength(MAX_MESSAGES_PER_SESSION);
  });

  test('openapi.json is generated from the route schemas', async () => {
    const doc = (await call('GET', '/openapi.json', {})).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/sessions/{id}',
        '/v1/sessions/{id}/recover',
        '/v1/sessions/{id}/messages',
        '/v1/sessions/{id}/turns',
        '/v1/sessions/{id}/metadata',
        '/v1/users/{user_id}/sessions',
        '/v1/cleanup',
        '/healthz',
        '/readyz',
        '/metrics',
      ]),
    );
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  test('readyz checks Temporal and Postgres; metrics count requests and turns', async () => {
    const res = await call('GET', '/readyz', {});
    expect(res.json()).toEqual({ status: 'ready', temporal: 'ok', postgres: 'ok' });
    const text = (await call('GET', '/metrics', {})).body;
    expect(text).toMatch(
      /ds_http_request_duration_seconds_count\{method="GET",route="\/v1\/sessions\/:id",status="200"\} \d+/,
    );
    expect(text).toMatch(/ds_turns_appended_total\{ack="applied"\} [1-9]/);
    expect(text).toMatch(/ds_turns_appended_total\{ack="durable"\} [1-9]/);
  });
});

describe('HTTP API in-flight cap', () => {
  let s: HttpHarness;
  beforeAll(async () => {
    s = await startHttpHarness('http_cap', { maxInFlightWritesPerSession: 1, retryAfterSeconds: 2 });
  });
  afterAll(async () => {
    await s?.close();
  });

  test('writes beyond the cap on one session are 429 with Retry-After; other sessions are unaffected', async () => {
    const { sessionId } = uniqueIds();
    const id = sessionId();
    await s.app.inject({ method: 'PUT', url: `/v1/sessions/${id}`, headers: as('alice'), payload: {} });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        s.app.inject({
          method: 'POST',
          url: `/v1/sessions/${id}/messages`,
          headers: as('alice'),
          payload: { role: 'user', content: `c${i}` },
        }),
      ),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((x) => x === 200).length).toBeGreaterThanOrEqual(1);
    const limited = results.filter((r) => r.statusCode === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((x) => x === 200 || x === 429)).toBe(true);
    expect(limited[0].json().code).toBe('too_many_in_flight');
    expect(limited[0].headers['retry-after']).toBe('2');
    // Every accepted write is in the session, none of the refused ones.
    const ctx = await s.h.service.loadContext(id);
    expect(ctx?.messages).toHaveLength(statuses.filter((x) => x === 200).length);
    // The slot is released: the next write goes through.
    const after = await s.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/messages`,
      headers: as('alice'),
      payload: { role: 'user', content: 'later' },
    });
    expect(after.statusCode).toBe(200);
  });
});
