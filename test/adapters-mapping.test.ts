// The adapters' mapping rules without a server: the `extra` field's bounds, ADK events of every shape round-tripping
// through the session rules (our in-memory service applies the same rules module as the actor), and a write of more
// items than one step holds.
jest.mock('lodash-es', () => jest.requireActual('lodash'));

import { createEvent, type Event } from '@google/adk';
import type { AgentInputItem } from '@openai/agents';
import { eventToMessages, messagesToEvents } from '../src/adapters/google-adk-events';
import { DurableAdkSessionService } from '../src/adapters/google-adk';
import { DurableAgentsSession } from '../src/adapters/openai-agents';
import { ValidationError } from '../src/errors';
import { InMemorySessionService } from '../src/memory/in-memory-service';
import { validateMessage } from '../src/session-rules';
import { LIMITS } from '../src/types';

describe("a message's extra", () => {
  const m = (extra: unknown) => ({ role: 'user', content: 'x', extra });
  test('is a JSON object of at most 32 KiB', () => {
    expect(() => validateMessage('m', m({ a: [1, { b: null }], c: 'é' }))).not.toThrow();
    for (const bad of [[], 'x', 1, null, { a: NaN }, { a: undefined }, { a: new Date(0) }, { a: '\u0000' }])
      expect(() => validateMessage('m', m(bad))).toThrow(ValidationError);
    expect(() => validateMessage('m', m({ a: 'x'.repeat(LIMITS.messageExtraMaxBytes) }))).toThrow(
      /32768 bytes/,
    );
  });
});

describe('ADK events <-> messages', () => {
  const events: Event[] = [
    createEvent({ id: 'e1', author: 'user', content: { role: 'user', parts: [{ text: 'hi' }] } }),
    createEvent({
      id: 'e2',
      author: 'agent',
      content: { role: 'model', parts: [{ text: 'a' }, { text: 'b', thought: true }, { text: 'c' }] },
    }),
    createEvent({
      id: 'e3',
      author: 'agent',
      content: {
        role: 'model',
        parts: [
          { text: 'calling two' },
          { functionCall: { id: 'c1', name: 'f', args: { x: [1, 2] } } },
          { functionCall: { id: 'c2', name: 'g', args: {} } },
        ],
      },
      usageMetadata: { promptTokenCount: 3 },
    }),
    createEvent({
      id: 'e4',
      author: 'agent',
      content: {
        role: 'user',
        parts: [
          { functionResponse: { id: 'c1', name: 'f', response: { result: 'r1' } } },
          { functionResponse: { id: 'c2', name: 'g', response: { nested: { ok: true } } } },
        ],
      },
      actions: { stateDelta: { k: 1 } },
    }),
    createEvent({ id: 'e5', author: 'agent', actions: { stateDelta: { only: 'state' } } }),
    createEvent({
      id: 'e6',
      author: 'agent',
      content: { role: 'model', parts: [{ functionCall: { name: 'no_id', args: {} } }] },
    }),
    createEvent({
      id: 'e7',
      author: 'user',
      content: { role: 'user', parts: [{ inlineData: { data: 'AA' } }] },
    }),
  ];

  test('every event comes back exactly; calls and responses are chat tool calls and results', async () => {
    const service = new InMemorySessionService();
    await service.saveContext('s', {
      sessionId: 's',
      userId: 1,
      agentType: '',
      messages: [],
      metadata: {},
      createdAt: 0,
      updatedAt: 0,
      settings: { windowMessages: 200 },
    });
    const messages = events.flatMap((e) => eventToMessages(e));
    await service.execute('s', { type: 'appendMessages', messages });
    const stored = (await service.loadContext('s'))!.messages;
    expect(stored.map((x) => [x.role, x.toolCalls?.map((c) => c.id), x.toolCallId])).toEqual([
      ['user', undefined, undefined],
      ['assistant', undefined, undefined],
      ['assistant', ['c1', 'c2'], undefined],
      ['tool', undefined, 'c1'],
      ['tool', undefined, 'c2'],
      ['assistant', undefined, undefined],
      ['assistant', undefined, undefined], // a call without an id: a note
      ['user', undefined, undefined],
    ]);
    expect(stored[2].content).toBe('calling two');
    expect(stored[4].content).toBe('{"nested":{"ok":true}}');
    expect(messagesToEvents(stored, 'model').map((e) => createEvent(e as Partial<Event>))).toEqual(events);
  });

  test('a function response whose call the session does not hold is kept as a note', async () => {
    const service = new InMemorySessionService();
    const adk = new DurableAdkSessionService({ service });
    const session = await adk.createSession({ appName: 'a', userId: '7', sessionId: 's' });
    const orphan = events[3];
    await adk.appendEvent({ session, event: structuredClone(orphan) });
    const back = await adk.getSession({ appName: 'a', userId: '7', sessionId: 's' });
    expect(back?.events).toEqual([orphan]);
    expect(back?.state).toEqual({ k: 1 });
    expect((await service.loadContext(adk.actorSessionId('a', '7', 's')))?.userId).toBe(7);
  });

  test('ids that a session id cannot hold are written .XX; a long one is refused', () => {
    const adk = new DurableAdkSessionService({ service: new InMemorySessionService() });
    expect(adk.actorSessionId('my app', 'ann@x.org', 'a/b')).toBe('adk:my.20app:ann.40x.2Eorg:a.2Fb');
    expect(() => adk.actorSessionId('a', 'u', 'x'.repeat(200))).toThrow(ValidationError);
  });
});

describe('OpenAI Agents session: a write of more items than one step holds', () => {
  test('is split into steps of 64 and reads back whole', async () => {
    const session = new DurableAgentsSession({
      sessionId: 's',
      userId: 1,
      service: new InMemorySessionService(),
    });
    const items = Array.from(
      { length: 150 },
      (_, i) => ({ role: 'user', content: `m${i}` }) as AgentInputItem,
    );
    await session.addItemsOnce(items, 'big');
    await session.addItemsOnce(items, 'big'); // the same write again: applied once
    expect(await session.getItems()).toEqual(items);
  });
});

describe("OpenAI Agents session: the window keeps the SDK's next request valid", () => {
  test('a function call and its result leave the window together; it never starts with a result', async () => {
    const service = new InMemorySessionService();
    const session = new DurableAgentsSession({
      sessionId: 'w',
      userId: 1,
      service,
      settings: { windowMessages: 4 },
    });
    const step = (n: number) =>
      [
        { role: 'user', content: `q${n}` },
        { type: 'function_call', callId: `c${n}a`, name: 'f', arguments: '{}' },
        { type: 'function_call', callId: `c${n}b`, name: 'f', arguments: '{}' },
        { type: 'function_call_result', callId: `c${n}a`, name: 'f', status: 'completed', output: 'ra' },
        { type: 'function_call_result', callId: `c${n}b`, name: 'f', status: 'completed', output: 'rb' },
        {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: `a${n}` }],
        },
      ] as AgentInputItem[];
    for (let n = 0; n < 3; n++) {
      await session.addItems(step(n));
      const items = (await session.getItems()) as { type?: string; callId?: string }[];
      expect(items[0]?.type).not.toBe('function_call_result');
      const calls = items.filter((i) => i.type === 'function_call').map((i) => i.callId);
      const results = items.filter((i) => i.type === 'function_call_result').map((i) => i.callId);
      expect(results.every((id) => calls.includes(id))).toBe(true);
    }
    // Parallel calls are one assistant message with two tool calls (as chat APIs want them): the last step's group
    // (the calls and both results) and its answer fill the window of 4; the items come back exactly.
    expect(await session.getItems()).toEqual(step(2).slice(1));
    const ctx = await service.loadContext('w');
    expect(ctx?.messages.map((m) => [m.role, m.toolCalls?.map((c) => c.id) ?? m.toolCallId ?? null])).toEqual(
      [
        ['assistant', ['c2a', 'c2b']],
        ['tool', 'c2a'],
        ['tool', 'c2b'],
        ['assistant', null],
      ],
    );
    // Popping one of two parallel calls leaves the other as the message's one call.
    await session.addItems(step(3).slice(0, 3));
    expect(await session.popItem()).toEqual(step(3)[2]);
    expect(await session.getItems(2)).toEqual(step(3).slice(0, 2));
    expect((await service.loadContext('w'))?.messages.at(-1)?.toolCalls?.map((c) => c.id)).toEqual(['c3a']);
  });
});
