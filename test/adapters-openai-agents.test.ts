// The OpenAI Agents SDK adapter (src/adapters/openai-agents.ts) on a real TemporalSessionService and the real HTTP
// API: a real Agent and Runner with a scripted model (no network) that calls a tool and answers, continued by a new
// runner on a new service or client; every item type round-tripping; the SDK's MemorySession side by side; 20
// concurrent runs on one session; a retried write applied once.
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { type AgentInputItem, MemorySession, type Session } from '@openai/agents';
import { DurableAgentsSession, OPENAI_AGENTS_EXTRA } from '../src/adapters/openai-agents';
import { HttpSessionClient } from '../src/adapters/http-client';
import { InMemorySessionService } from '../src/memory/in-memory-service';
import { TemporalSessionService } from '../src/temporal/service';
import { ALICE, KEYS, startHttpHarness, type HttpHarness } from './support/http-harness';
import { uniqueIds } from './support/contract';
import { ScriptedModel, runner, weatherAgent } from './support/openai-agents-scripted';

const exec = promisify(execFile);

/** Every item type the SDK keeps in a session, in the shapes its protocol defines. */
const ALL_ITEMS = [
  { role: 'user', content: 'plain user text' },
  { type: 'message', role: 'user', content: 'typed user text', providerData: { x: 1 } },
  {
    type: 'message',
    role: 'user',
    content: [
      { type: 'input_text', text: 'look at this' },
      { type: 'input_image', image: 'https://example.com/cat.png', detail: 'low' },
    ],
  },
  { type: 'message', role: 'user', content: [{ type: 'input_image', image: 'data:image/png;base64,AAAA' }] },
  { type: 'message', role: 'system', content: 'system text' },
  { type: 'message', role: 'developer', content: 'developer text' },
  {
    type: 'reasoning',
    id: 'rs_1',
    content: [{ type: 'input_text', text: 'thinking' }],
    providerData: { encrypted_content: 'gAAAA' },
  },
  {
    type: 'function_call',
    id: 'fc_1',
    callId: 'call_1',
    name: 'get_weather',
    arguments: '{"city":"Paris"}',
    status: 'completed',
    providerData: { a: [1, 2] },
  },
  {
    type: 'function_call_result',
    callId: 'call_1',
    name: 'get_weather',
    status: 'completed',
    output: { type: 'text', text: '18C' },
  },
  { type: 'function_call', callId: 'call_2', name: 'lookup', arguments: '' },
  { type: 'function_call_result', callId: 'call_2', name: 'lookup', status: 'completed', output: '' },
  {
    type: 'hosted_tool_call',
    id: 'ws_1',
    name: 'web_search_call',
    status: 'completed',
    output: 'results',
    providerData: { action: { query: 'q' } },
  },
  {
    type: 'computer_call',
    callId: 'cc_1',
    status: 'completed',
    action: { type: 'click', x: 1, y: 2, button: 'left' },
  },
  {
    type: 'computer_call_result',
    callId: 'cc_1',
    output: { type: 'computer_screenshot', data: 'data:image/png;base64,AAAA' },
  },
  {
    type: 'message',
    id: 'msg_1',
    role: 'assistant',
    status: 'completed',
    content: [
      { type: 'output_text', text: 'answer', annotations: [], logprobs: [] },
      { type: 'refusal', refusal: 'no' },
    ],
  },
  { type: 'message', role: 'assistant', status: 'completed', content: [] },
  { type: 'compaction', encrypted_content: 'opaque' },
  { type: 'unknown', providerData: { future: true } },
] as unknown as AgentInputItem[];

describe('OpenAI Agents SDK session on the actor (library and HTTP)', () => {
  let s: HttpHarness;
  let baseUrl: string;
  const ids = uniqueIds();
  const http = () => ({ baseUrl, apiKey: KEYS.alice });
  /** A new service on the same Temporal client and Postgres: the state it sees is the actor's, not an object's. */
  const freshService = () =>
    new TemporalSessionService({ client: s.h.client, pool: s.h.pool, taskQueue: s.h.taskQueue });

  beforeAll(async () => {
    s = await startHttpHarness('adapters_openai');
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await s?.close();
  });

  const backends: [string, (id: string) => DurableAgentsSession][] = [
    [
      'library',
      (sessionId) => new DurableAgentsSession({ sessionId, userId: ALICE, service: freshService() }),
    ],
    ['http', (sessionId) => new DurableAgentsSession({ sessionId, userId: ALICE, http: http() })],
  ];
  const open = (sessionId: string) => backends[0][1](sessionId);

  describe.each(backends)('%s', (_name, open) => {
    test('a real agent calls a tool and answers; a new runner on a new session object continues it', async () => {
      const id = ids.sessionId('agent');
      const first = new ScriptedModel();
      const session = open(id);
      const adds = jest.spyOn(session, 'addItems');
      const r1 = await runner().run(weatherAgent(first), 'weather in Paris', { session });
      expect(r1.finalOutput).toBe('It is 18C in Paris there.');
      // Each addItems of the run is one command: the session's version is its creation plus one per call.
      expect(adds.mock.calls.length).toBeGreaterThan(0);
      expect((await freshService().changes(id)).version).toBe(1 + adds.mock.calls.length);
      expect(session.lastVersion).toBe(1 + adds.mock.calls.length);
      const stored = await open(id).getItems();
      expect(stored.map((i) => i.type ?? 'message')).toEqual([
        'message',
        'function_call',
        'function_call_result',
        'message',
      ]);

      // The actor holds chat messages a model API takes as they are: the call and its result pair up.
      const ctx = await freshService().loadContext(id);
      expect(
        ctx?.messages.map((m) => [m.role, m.content, m.toolCalls?.[0]?.function.name, m.toolCallId]),
      ).toEqual([
        ['user', 'weather in Paris', undefined, undefined],
        ['assistant', '', 'get_weather', undefined],
        ['tool', '18C in Paris', undefined, (stored[2] as { callId: string }).callId],
        ['assistant', 'It is 18C in Paris there.', undefined, undefined],
      ]);
      expect(ctx?.messages.every((m) => m.extra?.[OPENAI_AGENTS_EXTRA] !== undefined)).toBe(true);

      // A new runner, model and session object: the model's first request holds exactly the stored items, then the
      // new input.
      const second = new ScriptedModel();
      const r2 = await runner().run(weatherAgent(second), 'weather in Oslo', { session: open(id) });
      expect(r2.finalOutput).toBe('It is 18C in Oslo there.');
      expect(second.requests[0]).toEqual([
        ...stored,
        { type: 'message', role: 'user', content: 'weather in Oslo' },
      ]);
      expect(await open(id).getItems()).toHaveLength(8);
    });

    test('every item type round-trips exactly', async () => {
      const id = ids.sessionId('items');
      const session = open(id);
      await session.addItems(ALL_ITEMS);
      expect(await open(id).getItems()).toEqual(ALL_ITEMS);
      expect(await open(id).getItems(3)).toEqual(ALL_ITEMS.slice(-3));
    });

    test('one addItems is one command and one version; a retried one is applied once', async () => {
      const id = ids.sessionId('once');
      const session = open(id);
      await session.addItems([{ role: 'user', content: 'hi' } as AgentInputItem]);
      const v1 = session.lastVersion;
      await session.addItemsOnce(ALL_ITEMS.slice(7, 11), 'step-1');
      expect(session.lastVersion).toBe(v1 + 1);
      await session.addItemsOnce(ALL_ITEMS.slice(7, 11), 'step-1');
      expect(session.lastVersion).toBe(v1 + 1);
      expect(await open(id).getItems()).toHaveLength(5);
    });

    test("the SDK's MemorySession and ours answer the same (limits, order, pop, clear)", async () => {
      const ours = open(ids.sessionId('contract'));
      const theirs = new MemorySession();
      const both = async <T>(f: (x: Session) => Promise<T>): Promise<[T, T]> => [
        await f(ours),
        await f(theirs),
      ];
      const same = async <T>(f: (x: Session) => Promise<T>) => {
        const [a, b] = await both(f);
        expect(a).toEqual(b);
      };
      await same((x) => x.getItems());
      await same((x) => x.popItem());
      await same((x) => x.getItems(3));
      await same((x) => x.addItems(ALL_ITEMS.slice(0, 6)));
      await same((x) => x.addItems([]));
      await same((x) => x.addItems(ALL_ITEMS.slice(6)));
      for (const limit of [undefined, -1, 0, 1, 2, 5, ALL_ITEMS.length, ALL_ITEMS.length + 10])
        await same((x) => x.getItems(limit));
      for (let i = 0; i < 4; i++) await same((x) => x.popItem());
      await same((x) => x.getItems());
      await same((x) => x.getItems(2));
      await same((x) => x.clearSession());
      await same((x) => x.getItems());
      await same((x) => x.popItem());
      await same((x) => x.addItems(ALL_ITEMS.slice(0, 2)));
      await same((x) => x.getItems());
      await same((x) => x.getSessionId().then(() => 'id'));
    });

    test('20 concurrent runs appending to one session lose nothing', async () => {
      const id = ids.sessionId('concurrent');
      const runs = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          runner().run(weatherAgent(new ScriptedModel()), `weather in city${i}`, { session: open(id) }),
        ),
      );
      expect(runs.map((r) => r.finalOutput)).toEqual(
        Array.from({ length: 20 }, (_, i) => `It is 18C in city${i} there.`),
      );
      const items = await open(id).getItems();
      expect(items).toHaveLength(80);
      for (let i = 0; i < 20; i++) {
        const mine = items.filter(
          (it) => JSON.stringify(it).includes(`city${i}"`) || JSON.stringify(it).includes(`city${i} `),
        );
        expect(mine.length).toBeGreaterThanOrEqual(3);
      }
      const calls = items.filter((it) => it.type === 'function_call') as { callId: string }[];
      const results = items.filter((it) => it.type === 'function_call_result') as { callId: string }[];
      expect(new Set(results.map((r) => r.callId))).toEqual(new Set(calls.map((c) => c.callId)));
    });
  });

  test('the adapter also runs on the in-memory service (same items)', async () => {
    const session = new DurableAgentsSession({
      sessionId: 'mem-1',
      userId: 7,
      service: new InMemorySessionService(),
    });
    await session.addItems(ALL_ITEMS);
    expect(await session.getItems()).toEqual(ALL_ITEMS);
  });

  test('a runner in a new process continues a session over the HTTP API; the model sees exactly the stored items', async () => {
    const id = ids.sessionId('process');
    const script = path.join(__dirname, 'support', 'openai-agents-scripted.ts');
    const turnInNewProcess = async (text: string) => {
      const { stdout } = await exec(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', script, id, text],
        {
          cwd: path.join(__dirname, '..'),
          env: { ...process.env, DS_BASE_URL: baseUrl, DS_API_KEY: KEYS.alice, DS_USER_ID: String(ALICE) },
          timeout: 120_000,
        },
      );
      return JSON.parse(stdout.trim().split('\n').pop()!) as { finalOutput: string; firstRequest: unknown[] };
    };
    const first = await turnInNewProcess('weather in Lima');
    expect(first.finalOutput).toBe('It is 18C in Lima there.');
    const stored = await open(id).getItems();
    expect(stored).toHaveLength(4);
    const second = await turnInNewProcess('weather in Rome');
    expect(second.finalOutput).toBe('It is 18C in Rome there.');
    expect(second.firstRequest).toEqual([
      ...stored,
      { type: 'message', role: 'user', content: 'weather in Rome' },
    ]);
  });

  test('a step whose answer is lost is sent again with its Idempotency-Key and applied once', async () => {
    const id = ids.sessionId('lost');
    let lost = 0;
    const losingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      // The write reached the actor; its answer does not reach the client (twice).
      if (String(input).endsWith('/steps') && response.ok && lost < 2) {
        lost++;
        throw new TypeError('fetch failed: the connection was reset');
      }
      return response;
    };
    const session = new DurableAgentsSession({
      sessionId: id,
      userId: ALICE,
      http: { ...http(), fetch: losingFetch },
    });
    await session.addItems(ALL_ITEMS.slice(0, 3));
    expect(lost).toBe(2);
    expect(await open(id).getItems()).toEqual(ALL_ITEMS.slice(0, 3));
    expect((await freshService().changes(id)).version).toBe(2); // created, then the one step
  });

  test('another user cannot read or write the session through the HTTP API', async () => {
    const id = ids.sessionId('owner');
    await new DurableAgentsSession({ sessionId: id, userId: ALICE, http: http() }).addItems(
      ALL_ITEMS.slice(0, 1),
    );
    const bob = new DurableAgentsSession({
      sessionId: id,
      userId: 4202,
      http: { baseUrl, apiKey: KEYS.bob },
    });
    expect(await bob.getItems()).toEqual([]);
    await expect(bob.addItems(ALL_ITEMS.slice(0, 1))).rejects.toThrow(/404/);
    const client = new HttpSessionClient({ baseUrl, apiKey: KEYS.alice });
    await expect(client.request('GET', `/v1/sessions/${id}/messages`)).resolves.toMatchObject({
      messages: [{ role: 'user', content: 'plain user text' }],
    });
  });
});
