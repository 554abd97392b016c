// The HTTP routes of issue 16 on a real TemporalSessionService: tool-calling steps, settings and byte budgets,
// transcripts (pages and JSONL), fork, and the event stream (SSE over a real socket) — with scoping and bad input.
import type { AddressInfo } from 'node:net';
import { ALICE, as, startHttpHarness, type HttpHarness } from './support/http-harness';
import { eventually, uniqueIds } from './support/contract';

type Method = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

const step = (tag: string) => [
  { role: 'user', content: `weather in ${tag}?`, name: 'alice' },
  {
    role: 'assistant',
    content: '',
    tool_calls: [
      {
        id: `call_${tag}`,
        type: 'function',
        function: { name: 'get_weather', arguments: `{"city":"${tag}"}` },
      },
    ],
  },
  { role: 'tool', content: '{"temp_c":18}', tool_call_id: `call_${tag}` },
  { role: 'assistant', content: `18 °C in ${tag}.` },
];

interface ServerEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Reads Server-Sent Events from a response body: `until(test)` reads on until `test` passes on what came so far. */
function eventReader(body: ReadableStream<Uint8Array>) {
  const events: ServerEvent[] = [];
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  return {
    async until(test: (events: ServerEvent[]) => boolean): Promise<ServerEvent[]> {
      while (!test(events) && !ended) {
        const { value, done } = await reader.read();
        if (done) ended = true;
        buffer += decoder.decode(value ?? new Uint8Array(), { stream: !done });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n').filter((l) => !l.startsWith(':') && l.includes(': '));
          const fields = Object.fromEntries(
            lines.map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
          );
          if (fields.data) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
        }
      }
      return events;
    },
    ended: () => ended,
    close: () => reader.cancel().catch(() => undefined),
  };
}

describe('HTTP API: agent sessions', () => {
  let s: HttpHarness;
  let ids: ReturnType<typeof uniqueIds>;
  let base: string;

  beforeAll(async () => {
    s = await startHttpHarness('http_agent');
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await s?.close();
  });
  beforeEach(() => {
    ids = uniqueIds();
  });

  const call = (method: Method, url: string, headers: Record<string, string>, payload?: unknown) =>
    s.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });

  async function created(body: Record<string, unknown> = {}): Promise<string> {
    const id = ids.sessionId();
    const res = await call('POST', `/v1/sessions/${id}/recover`, as('alice'), {
      agent_type: 'assistant',
      ...body,
    });
    expect(res.statusCode).toBe(200);
    return id;
  }

  test('a tool-calling step is one write with one version, in the OpenAI chat shape', async () => {
    const id = await created();
    const res = await call('POST', `/v1/sessions/${id}/steps`, as('alice'), {
      messages: step('Paris'),
      agent_type: 'weather',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().version).toBe(2);
    expect(res.json().session.messages).toEqual(step('Paris'));
    expect(res.json().session.agent_type).toBe('weather');
    // One message at a time works too, a result answering a call made before.
    const [ask, calling, result] = step('Rome');
    expect((await call('POST', `/v1/sessions/${id}/messages`, as('alice'), ask)).statusCode).toBe(200);
    expect((await call('POST', `/v1/sessions/${id}/messages`, as('alice'), calling)).statusCode).toBe(200);
    const answered = await call('POST', `/v1/sessions/${id}/messages`, as('alice'), result);
    expect(answered.statusCode).toBe(200);
    const got = await call('GET', `/v1/sessions/${id}/messages?last=2`, as('alice'));
    expect(got.json().messages).toEqual([calling, result]);
  });

  test('bad input: orphan tool results, unknown tool_call_id, oversize arguments — 400 naming the field, nothing changes', async () => {
    const id = await created();
    await call('POST', `/v1/sessions/${id}/steps`, as('alice'), { messages: step('Oslo') });
    const before = (await call('GET', `/v1/sessions/${id}`, as('alice'))).json();
    const oversize = 'é'.repeat(16 * 1024 + 1); // within maxLength (characters), over 32 KiB as UTF-8
    const bad: [string, unknown, string][] = [
      [
        '/steps',
        { messages: [{ role: 'tool', content: 'x', tool_call_id: 'call_nope' }] },
        'messages[0].tool_call_id: answers no tool call',
      ],
      [
        '/messages',
        { role: 'tool', content: 'x', tool_call_id: 'call_Oslo' },
        'message.tool_call_id: answers a tool call that already has its result',
      ],
      [
        '/steps',
        {
          messages: [
            {
              ...step('a')[1],
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: oversize } }],
            },
          ],
        },
        'messages[0].tool_calls[0].function.arguments: must be at most 32768 bytes',
      ],
      ['/steps', { messages: [{ role: 'tool', content: 'x' }] }, 'body/messages/0/tool_call_id: is required'],
      [
        '/messages',
        { role: 'user', content: 'x', tool_calls: step('b')[1].tool_calls },
        'body/tool_calls: is not a known field',
      ],
      [
        '/messages',
        { role: 'robot', content: 'x' },
        'body: role must be one of user, system, assistant, tool',
      ],
      ['/steps', { messages: [] }, 'body/messages: must have at least 1 items'],
    ];
    for (const [path, body, message] of bad) {
      const res = await call('POST', `/v1/sessions/${id}${path}`, as('alice'), body);
      expect({ path, status: res.statusCode, code: res.json().code }).toEqual({
        path,
        status: 400,
        code: 'invalid_argument',
      });
      expect(res.json().message).toContain(message);
    }
    expect((await call('GET', `/v1/sessions/${id}`, as('alice'))).json()).toEqual(before);
  });

  test('budget windows: set at creation, changed with PUT settings, read back with max_bytes', async () => {
    const id = await created({ settings: { window_messages: 5 } });
    for (const tag of ['A', 'B'])
      await call('POST', `/v1/sessions/${id}/steps`, as('alice'), { messages: step(tag) });
    let session = (await call('GET', `/v1/sessions/${id}`, as('alice'))).json();
    expect(session.settings).toEqual({ window_messages: 5 });
    // Five slots, two steps of four: the second step, and the answer of the first (its call went, its result too).
    expect(session.messages).toEqual([step('A')[3], ...step('B')]);

    // 40 bytes: the answer (12), its result (12) and the call's arguments (12) fit; the question (13) does not.
    const res = await call('PUT', `/v1/sessions/${id}/settings`, as('alice'), {
      window_bytes: 40,
      transcript: true,
    });
    expect(res.statusCode).toBe(200);
    session = res.json().session;
    expect(session.settings).toEqual({ window_bytes: 40, transcript: true });
    expect(session.messages).toEqual(step('B').slice(1));

    const last = await call('GET', `/v1/sessions/${id}/messages?max_bytes=14`, as('alice'));
    expect(last.json().messages).toEqual([step('B')[3]]);
    expect(
      (await call('PUT', `/v1/sessions/${id}/settings`, as('alice'), { window_messages: 0 })).statusCode,
    ).toBe(400);
    expect((await call('PUT', `/v1/sessions/${id}/settings`, as('alice'), { window: 3 })).statusCode).toBe(
      400,
    );
    expect((await call('GET', `/v1/sessions/${id}/messages?max_bytes=-1`, as('alice'))).statusCode).toBe(400);
    // A PUT of the session replaces its settings too: absent settings are the defaults.
    const put = await call('PUT', `/v1/sessions/${id}`, as('alice'), { messages: [] });
    expect(put.json().session.settings).toBeUndefined();
  });

  test('transcript: pages with a cursor, and JSONL; another user sees nothing', async () => {
    const id = await created({ settings: { window_messages: 4, transcript: true } });
    for (const tag of ['a', 'b', 'c'])
      await call('POST', `/v1/sessions/${id}/steps`, as('alice'), { messages: step(tag) });
    const everything = [...step('a'), ...step('b'), ...step('c')];
    await eventually(async () => {
      const res = await call('GET', `/v1/sessions/${id}/transcript?limit=100`, as('alice'));
      expect(res.json().entries.map((e: { message: unknown }) => e.message)).toEqual(everything);
    });
    const pages: unknown[] = [];
    let cursor: string | undefined;
    do {
      const res = await call(
        'GET',
        `/v1/sessions/${id}/transcript?limit=5${cursor ? `&cursor=${cursor}` : ''}`,
        as('alice'),
      );
      expect(res.statusCode).toBe(200);
      pages.push(...res.json().entries.map((e: { message: unknown }) => e.message));
      cursor = res.json().next_cursor;
    } while (cursor);
    expect(pages).toEqual(everything);

    const jsonl = await call('GET', `/v1/sessions/${id}/transcript.jsonl`, as('alice'));
    expect(jsonl.statusCode).toBe(200);
    expect(jsonl.headers['content-type']).toContain('application/jsonl');
    expect(
      jsonl.body
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(everything);

    expect((await call('GET', `/v1/sessions/${id}/transcript`, as('bob'))).statusCode).toBe(404);
    expect((await call('GET', `/v1/sessions/${id}/transcript.jsonl`, as('bob'))).statusCode).toBe(404);
    expect((await call('GET', `/v1/sessions/${id}/transcript?cursor=abc`, as('alice'))).json().code).toBe(
      'invalid_argument',
    );
    expect((await call('DELETE', `/v1/sessions/${id}`, as('alice'))).statusCode).toBe(204);
    await call('POST', `/v1/sessions/${id}/recover`, as('alice'), {});
    expect((await call('GET', `/v1/sessions/${id}/transcript`, as('alice'))).json().entries).toEqual([]);
  });

  test('fork: a new session of the same owner in one step; 409 when the id is taken; another user cannot', async () => {
    const id = await created({ settings: { window_messages: 30 } });
    await call('POST', `/v1/sessions/${id}/steps`, as('alice'), { messages: step('Lima') });
    await call('PATCH', `/v1/sessions/${id}/metadata`, as('alice'), { topic: 'weather' });
    const source = (await call('GET', `/v1/sessions/${id}`, as('alice'))).json();
    const target = ids.sessionId('fork');
    const res = await call('POST', `/v1/sessions/${id}/fork`, as('alice'), { session_id: target });
    expect(res.statusCode).toBe(200);
    expect(res.json().session).toMatchObject({
      session_id: target,
      user_id: ALICE,
      messages: source.messages,
      metadata: { topic: 'weather' },
      settings: { window_messages: 30 },
    });
    await call('POST', `/v1/sessions/${target}/turns`, as('alice'), {
      user: 'and tomorrow?',
      assistant: 'rain',
    });
    expect((await call('GET', `/v1/sessions/${id}`, as('alice'))).json()).toEqual(source);

    const again = await call('POST', `/v1/sessions/${id}/fork`, as('alice'), { session_id: target });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('session_exists');
    expect(
      (await call('POST', `/v1/sessions/${id}/fork`, as('bob'), { session_id: ids.sessionId() })).statusCode,
    ).toBe(404);
    expect(
      (await call('POST', `/v1/sessions/${id}/fork`, as('alice'), { session_id: 'bad id' })).statusCode,
    ).toBe(400);
  });

  test('events: the session, then one event per version in order, resumable with Last-Event-ID, ending with deleted', async () => {
    const id = await created();
    const headers = { ...as('alice'), accept: 'text/event-stream' };
    const stream = await fetch(`${base}/v1/sessions/${id}/events`, { headers });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = eventReader(stream.body!);
    // The stream's first event is the session as it is; every write after it shows as its own event.
    expect((await reader.until((e) => e.length >= 1))[0].event).toBe('session');
    await call('POST', `/v1/sessions/${id}/steps`, as('alice'), { messages: step('Kyiv') });
    await call('PATCH', `/v1/sessions/${id}/metadata`, as('alice'), { k: 1 });
    await call('DELETE', `/v1/sessions/${id}/messages`, as('alice'));
    await call('DELETE', `/v1/sessions/${id}`, as('alice'));
    const events = await reader.until((e) => e.some((x) => x.event === 'deleted'));
    // The stream ends after `deleted`.
    await reader.until(() => false);
    expect(reader.ended()).toBe(true);
    expect(events.map((e) => e.event)).toEqual(['session', 'appended', 'metadata', 'cleared', 'deleted']);
    expect(events.map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 4]);
    expect(events[1].data).toMatchObject({ type: 'appended', version: 2, messages: step('Kyiv') });

    // Resume: after version 1 of a new session, the events that followed, then live ones.
    const again = await created();
    await call('POST', `/v1/sessions/${again}/turns`, as('alice'), { user: 'q', assistant: 'a' });
    const resumed = await fetch(`${base}/v1/sessions/${again}/events`, {
      headers: { ...headers, 'last-event-id': '1' },
    });
    const more = eventReader(resumed.body!);
    await call('POST', `/v1/sessions/${again}/turns`, as('alice'), { user: 'q2', assistant: 'a2' });
    const resumedEvents = await more.until((e) => e.length >= 2);
    await more.close();
    expect(resumedEvents.map((e) => [e.event, e.id])).toEqual([
      ['appended', '2'],
      ['appended', '3'],
    ]);

    // Same auth and scoping as every route: another user's session is a 404, a bad Last-Event-ID a 400.
    expect((await fetch(`${base}/v1/sessions/${again}/events`, { headers: as('bob') })).status).toBe(404);
    expect((await fetch(`${base}/v1/sessions/${again}/events`)).status).toBe(401);
    const bad = await fetch(`${base}/v1/sessions/${again}/events`, {
      headers: { ...headers, 'last-event-id': 'x' },
    });
    expect(bad.status).toBe(400);
    const badUser = await fetch(`${base}/v1/sessions/${again}/events`, {
      headers: { ...as('service'), 'x-user-id': 'x' },
    });
    expect(badUser.status).toBe(400);
  });
});
