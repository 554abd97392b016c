// The Google ADK session service (src/adapters/google-adk.ts) on a real TemporalSessionService: a real LlmAgent and
// Runner with a scripted model (no network) that calls a tool and answers, continued by a new runner on a new service;
// ADK's InMemorySessionService side by side (state by scope, recent events, lists, delete); 20 concurrent runs on one
// session keep every event and every state write.
// ADK's CommonJS build requires lodash-es, which is ES modules only: Node 20 loads it (require of ESM), jest's module
// system does not. lodash is the same library as CommonJS.
jest.mock('lodash-es', () => jest.requireActual('lodash'));

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { type BaseSessionService, type Event, InMemorySessionService, createEvent } from '@google/adk';
import type { Content } from '@google/genai';
import { ADK_EXTRA, DurableAdkSessionService } from '../src/adapters/google-adk';
import { TemporalSessionService } from '../src/temporal/service';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';
import { eventually } from './support/contract';
import { runnerOn, turn } from './support/google-adk-scripted';

const exec = promisify(execFile);

/** A session as ADK returns it, without what differs between any two services (its clock). */
const comparable = (
  s: { id: string; appName: string; userId: string; state: unknown; events: Event[] } | undefined,
) => s && { id: s.id, appName: s.appName, userId: s.userId, state: s.state, events: s.events };

describe('Google ADK session service on the actor', () => {
  let h: TemporalHarness;
  const fresh = () =>
    new DurableAdkSessionService({
      service: new TemporalSessionService({ client: h.client, pool: h.pool, taskQueue: h.taskQueue }),
    });

  beforeAll(async () => {
    h = await startTemporalHarness('adapters_adk');
  });
  afterAll(async () => {
    await h?.close();
  });

  test('a real agent calls a tool and answers; a new runner in a new process continues with the same history', async () => {
    const theirs = new InMemorySessionService();
    const ours = fresh();
    for (const service of [theirs, ours])
      await service.createSession({
        appName: 'weather-app',
        userId: 'u1',
        sessionId: 'conv-1',
        state: { lang: 'en' },
      });

    const a = runnerOn(theirs);
    const b = runnerOn(ours);
    const theirEvents = await turn(a.runner, 'u1', 'conv-1', 'weather in Paris');
    const ourEvents = await turn(b.runner, 'u1', 'conv-1', 'weather in Paris');
    expect(ourEvents.at(-1)?.content?.parts?.[0]?.text).toBe('It is 18C in Paris there.');
    expect(ourEvents.map((e) => e.author)).toEqual(theirEvents.map((e) => e.author));

    // Stored exactly as the runner produced them (the user's event first: the runner appends it without yielding it),
    // and the same events as ADK's own service stores, but for ids and clocks.
    const stored = await fresh().getSession({ appName: 'weather-app', userId: 'u1', sessionId: 'conv-1' });
    expect(stored?.events.slice(1)).toEqual(ourEvents);
    const theirStored = await theirs.getSession({
      appName: 'weather-app',
      userId: 'u1',
      sessionId: 'conv-1',
    });
    const unclocked = (events: Event[] = []) =>
      events.map((e) => ({ ...e, id: '', invocationId: '', timestamp: 0 }));
    expect(unclocked(stored?.events)).toEqual(unclocked(theirStored?.events));
    expect(stored?.state).toEqual({
      lang: 'en',
      last_city: 'Paris',
      seen_Paris: true,
      'user:asked': 'Paris',
    });

    // The actor holds a plain conversation with the call and its result paired.
    const ctx = await h.service.loadContext(ours.actorSessionId('weather-app', 'u1', 'conv-1'));
    expect(ctx?.messages.map((m) => [m.role, m.toolCalls?.[0]?.id, m.toolCallId])).toEqual([
      ['user', undefined, undefined],
      ['assistant', 'call_Paris', undefined],
      ['tool', undefined, 'call_Paris'],
      ['assistant', undefined, undefined],
    ]);
    expect(ctx?.messages[3].content).toBe('It is 18C in Paris there.');
    expect(ctx?.messages.every((m) => m.extra?.[ADK_EXTRA] !== undefined)).toBe(true);
    expect(ctx?.metadata).toMatchObject({ lang: 'en', last_city: 'Paris' });

    // A new runner and model on a new service in a new process: the model's requests are the ones ADK's own service
    // gives for the same conversation.
    const { stdout } = await exec(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        path.join(__dirname, 'support', 'google-adk-scripted.ts'),
        'u1',
        'conv-1',
        'weather in Oslo',
      ],
      {
        cwd: path.join(__dirname, '..'),
        env: {
          ...process.env,
          DS_DATABASE_URL: (h.pool as unknown as { options: { connectionString: string } }).options
            .connectionString,
          DS_TASK_QUEUE: h.taskQueue,
        },
        timeout: 120_000,
      },
    );
    const requests = JSON.parse(stdout.trim().split('\n').pop()!) as Content[][];
    const d = runnerOn(theirs);
    await turn(d.runner, 'u1', 'conv-1', 'weather in Oslo');
    expect(requests).toEqual(d.model.requests);
    expect(requests[0]).toHaveLength(5);
    const after = await fresh().getSession({ appName: 'weather-app', userId: 'u1', sessionId: 'conv-1' });
    expect(after?.events).toHaveLength(8);
  });

  test("ADK's InMemorySessionService and ours answer the same (state by scope, recent events, lists, delete)", async () => {
    const theirs = new InMemorySessionService();
    const ours = fresh();
    const both = async <T>(f: (s: BaseSessionService) => Promise<T>): Promise<[T, T]> => [
      await f(ours),
      await f(theirs),
    ];
    const same = async <T>(f: (s: BaseSessionService) => Promise<T>, view: (x: T) => unknown = (x) => x) => {
      const [a, b] = await both(f);
      expect(view(a)).toEqual(view(b));
      return a;
    };
    const app = 'contract-app';
    const key = (userId: string, sessionId: string) => ({ appName: app, userId, sessionId });
    await same((s) => s.getSession(key('ann', 's1')), comparable);
    await same((s) => s.createSession({ ...key('ann', 's1'), state: { a: 1, 'temp:x': 1 } }), comparable);
    await same((s) => s.createSession({ ...key('ann', 's2'), state: { b: 2 } }), comparable);
    await same((s) => s.createSession({ ...key('bob', 's3') }), comparable);
    await same((s) => s.getSession(key('ann', 's1')), comparable);
    await same((s) => s.getSession(key('bob', 's3')), comparable); // app state is shared, user state is not
    await same((s) => s.getSession(key('bob', 's1')), comparable); // another user's id: none

    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      const event = () =>
        createEvent({
          id: `ev${i}`,
          invocationId: 'inv1',
          author: i % 2 ? 'agent' : 'user',
          timestamp: t0 + i * 1000,
          content: { role: i % 2 ? 'model' : 'user', parts: [{ text: `text ${i}` }] },
          actions: { stateDelta: { [`k${i}`]: i, 'app:count': i, 'user:last': i, 'temp:t': i } },
        });
      await same(async (s) => {
        const session = (await s.getSession(key('ann', 's1')))!;
        const appended = await s.appendEvent({ session, event: event() });
        return { appended, state: session.state, events: session.events };
      });
    }
    await same((s) =>
      s.appendEvent({
        session: { ...key('ann', 's1'), id: 's1', state: {}, events: [], lastUpdateTime: 0 },
        // A timestamp of its own: createEvent's default (now) differs by a millisecond between the two calls.
        event: createEvent({ partial: true, id: 'p', timestamp: t0 + 9000 }),
      }),
    );
    await same((s) => s.getSession(key('ann', 's1')), comparable);
    await same((s) => s.getSession({ ...key('ann', 's1'), config: { numRecentEvents: 2 } }), comparable);
    await same(
      (s) => s.getSession({ ...key('ann', 's1'), config: { afterTimestamp: t0 + 2500 } }),
      comparable,
    );
    await same((s) => s.getSession(key('ann', 's2')), comparable); // user and app state reach every session
    await same((s) => s.getSession(key('bob', 's3')), comparable);

    const listed = (r: { sessions: { id: string; userId: string; appName: string }[] }) =>
      r.sessions.map((x) => [x.appName, x.userId, x.id]).sort();
    await eventually(async () => {
      await same((s) => s.listSessions({ appName: app, userId: 'ann' }), listed);
    });
    await same((s) => s.listSessions({ appName: app, userId: 'nobody' }), listed);
    await same((s) => s.deleteSession(key('ann', 's2')));
    await same((s) => s.deleteSession(key('ann', 's2')));
    await same((s) => s.getSession(key('ann', 's2')), comparable);
    await eventually(async () => {
      await same((s) => s.listSessions({ appName: app, userId: 'ann' }), listed);
    });
  });

  test("a new session's app: and user: state is app and user state, as ADK's DatabaseSessionService keeps it", async () => {
    // (ADK's InMemorySessionService keeps such keys in the new session only.)
    const ours = fresh();
    const app = 'scoped-app';
    await ours.createSession({
      appName: app,
      userId: 'cy',
      sessionId: 'a',
      state: { own: 1, 'app:theme': 'dark', 'user:name': 'Cy', 'temp:x': 1 },
    });
    await ours.createSession({ appName: app, userId: 'cy', sessionId: 'b' });
    await ours.createSession({ appName: app, userId: 'dee', sessionId: 'c' });
    const state = async (userId: string, sessionId: string) =>
      (await fresh().getSession({ appName: app, userId, sessionId }))?.state;
    expect(await state('cy', 'a')).toEqual({ own: 1, 'app:theme': 'dark', 'user:name': 'Cy' });
    expect(await state('cy', 'b')).toEqual({ 'app:theme': 'dark', 'user:name': 'Cy' });
    expect(await state('dee', 'c')).toEqual({ 'app:theme': 'dark' });
  });

  test('creation never replaces a session: a second create fails, concurrent getOrCreate and appends lose nothing', async () => {
    const ours = fresh();
    const key = { appName: 'race-app', userId: 'u3', sessionId: 'new-one' };
    const appended = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const service = fresh();
        const session = await service.getOrCreateSession({ ...key, state: { first: true } });
        const event = createEvent({
          id: `race${i}`,
          author: 'user',
          content: { role: 'user', parts: [{ text: `hello ${i}` }] },
        });
        return service.appendEvent({ session, event });
      }),
    );
    const session = await ours.getSession(key);
    expect(session?.events.map((e) => e.id).sort()).toEqual(appended.map((e) => e.id).sort());
    expect(session?.state).toEqual({ first: true });
    await expect(ours.createSession({ ...key, state: { second: true } })).rejects.toThrow(/already exists/);
    expect((await ours.getSession(key))?.events).toHaveLength(10);
  });

  test('20 concurrent runs on one session keep every event and every state write (no stale session)', async () => {
    const ours = fresh();
    await ours.createSession({ appName: 'weather-app', userId: 'u2', sessionId: 'busy' });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        turn(runnerOn(fresh()).runner, 'u2', 'busy', `weather in city${i}`),
      ),
    );
    const session = await fresh().getSession({ appName: 'weather-app', userId: 'u2', sessionId: 'busy' });
    expect(session?.events).toHaveLength(80);
    for (let i = 0; i < 20; i++) {
      expect(session?.state[`seen_city${i}`]).toBe(true);
      const texts = session?.events.flatMap((e) => e.content?.parts?.map((p) => p.text) ?? []);
      expect(texts).toContain(`It is 18C in city${i} there.`);
    }
    expect(session?.state['temp:scratch']).toBeUndefined();
  });
});
