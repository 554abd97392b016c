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
