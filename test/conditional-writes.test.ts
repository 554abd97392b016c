// Conditional writes: a command carrying `expectedVersion` (HTTP: PUT with If-Match, the ETag of GET) is applied
// only when the session is at that version where the command is applied; otherwise VersionMismatchError / 412
// version_mismatch, and nothing changes. On the rules, the in-memory service, the actor and the HTTP API.
import { VersionMismatchError, SessionNotFoundError, ValidationError } from '../src/errors';
import { InMemorySessionService } from '../src/memory/in-memory-service';
import type { CommandCapableService } from '../src/service';
import { applyCommand, validateCommand, type SessionCommand } from '../src/session-rules';
import type { ConversationContext } from '../src/types';
import { uniqueIds } from './support/contract';
import { ALICE, BOB, KEYS, startHttpHarness, type HttpHarness } from './support/http-harness';

const ctx = (sessionId: string, userId: number, contents: string[]): ConversationContext => ({
  sessionId,
  userId,
  agentType: 'a',
  messages: contents.map((content) => ({ role: 'user' as const, content })),
  metadata: {},
  createdAt: 0,
  updatedAt: 0,
});

describe('expectedVersion in the rules', () => {
  const prev = { context: ctx('s', 1, ['a']), version: 3 };
  const save = (expectedVersion: number): SessionCommand => ({
    type: 'save',
    context: ctx('s', 1, []),
    expectedVersion,
  });

  test('applies at the expected version, refuses another one naming both', () => {
    expect(applyCommand('s', prev, save(3), 10).snapshot.version).toBe(4);
    const err = (() => {
      try {
        applyCommand('s', prev, save(2), 10);
      } catch (e) {
        return e;
      }
    })() as VersionMismatchError;
    expect(err).toBeInstanceOf(VersionMismatchError);
    expect([err.code, err.expectedVersion, err.actualVersion]).toEqual(['version_mismatch', 2, 3]);
  });

  test('0 creates only when there is no session; a session gone since is not found', () => {
    expect(applyCommand('s', null, save(0), 10).snapshot.version).toBe(1);
    expect(() => applyCommand('s', prev, save(0), 10)).toThrow(VersionMismatchError);
    expect(() => applyCommand('s', null, save(3), 10)).toThrow(SessionNotFoundError);
  });

  test('must be an integer of at least 0', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53])
      expect(() => validateCommand({ type: 'clearMessages', expectedVersion: bad })).toThrow(ValidationError);
  });
});

describe.each<[string, () => Promise<{ service: CommandCapableService; close(): Promise<void> }>]>([
  ['in-memory', async () => ({ service: new InMemorySessionService(), close: async () => {} })],
  [
    'actor',
    async () => {
      const s = await startHttpHarness('conditional_actor');
      return { service: s.h.service, close: () => s.close() };
    },
  ],
])('expectedVersion on %s', (_name, make) => {
  let service: CommandCapableService;
  let close: () => Promise<void>;
  const ids = uniqueIds();
  beforeAll(async () => ({ service, close } = await make()));
  afterAll(async () => close?.());

  test('getSnapshot gives the version a conditional write names; a stale one changes nothing', async () => {
    const id = ids.sessionId('cond');
    await service.execute(id, { type: 'save', context: ctx(id, 7, ['one']) }, { expectedVersion: 0 });
    await service.execute(id, { type: 'appendMessage', message: { role: 'user', content: 'two' } });
    const read = await service.getSnapshot(id);
    expect(read?.version).toBe(2);
    await expect(
      service.execute(
        id,
        { type: 'save', context: ctx(id, 7, []) },
        { expectedVersion: 1, expectedUserId: 7 },
      ),
    ).rejects.toMatchObject({ code: 'version_mismatch', expectedVersion: 1, actualVersion: 2 });
    expect((await service.getSnapshot(id))?.context.messages.map((m) => m.content)).toEqual(['one', 'two']);
    const ok = await service.execute(
      id,
      { type: 'save', context: ctx(id, 7, ['one']) },
      { expectedVersion: 2 },
    );
    expect(ok.version).toBe(3);
  });

  test("another user's session is a conflict before any version is compared", async () => {
    const id = ids.sessionId('cond-owner');
    await service.execute(id, { type: 'save', context: ctx(id, 7, ['x']) });
    await expect(
      service.execute(id, { type: 'clearMessages' }, { expectedUserId: 8, expectedVersion: 99 }),
    ).rejects.toMatchObject({ code: 'session_conflict' });
  });
});

describe('If-Match over HTTP', () => {
  let s: HttpHarness;
  const ids = uniqueIds();
  beforeAll(async () => {
    s = await startHttpHarness('conditional_http');
  });
  afterAll(async () => {
    await s?.close();
  });
  const headers = (key: string, extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    ...extra,
  });
  const put = (
    id: string,
    messages: string[],
    extra: Record<string, string> = {},
    key: string = KEYS.alice,
  ) =>
    s.app.inject({
      method: 'PUT',
      url: `/v1/sessions/${id}`,
      headers: headers(key, extra),
      payload: { agent_type: 'a', messages: messages.map((content) => ({ role: 'user', content })) },
    });

  test('GET gives the ETag; a PUT with it applies, a stale one is 412 and changes nothing', async () => {
    const id = ids.sessionId('etag');
    expect((await put(id, ['one'], { 'if-match': '"0"' })).statusCode).toBe(200);
    expect((await put(id, ['one'], { 'if-match': '"0"' })).json()).toMatchObject({
      code: 'version_mismatch',
    });
    const got = await s.app.inject({
      method: 'GET',
      url: `/v1/sessions/${id}`,
      headers: headers(KEYS.alice),
    });
    expect(got.headers.etag).toBe('"1"');
    await s.app.inject({
      method: 'POST',
      url: `/v1/sessions/${id}/messages`,
      headers: headers(KEYS.alice),
      payload: { role: 'user', content: 'two' },
    });
    const stale = await put(id, [], { 'if-match': got.headers.etag as string });
    expect([stale.statusCode, stale.json().code]).toEqual([412, 'version_mismatch']);
    const after = await s.app.inject({
      method: 'GET',
      url: `/v1/sessions/${id}`,
      headers: headers(KEYS.alice),
    });
    expect([after.headers.etag, after.json().messages.length]).toEqual(['"2"', 2]);
    const fresh = await put(id, ['one'], { 'if-match': after.headers.etag as string });
    expect([fresh.statusCode, fresh.json().version]).toEqual([200, 3]);
  });

  test("a malformed If-Match is 400; another user's session is 404 whatever the version", async () => {
    const id = ids.sessionId('etag-bad');
    expect((await put(id, ['x'])).statusCode).toBe(200);
    for (const bad of ['1', '"-1"', '"01"', 'W/"1"', '*'])
      expect((await put(id, [], { 'if-match': bad })).json().code).toBe('invalid_argument');
    const foreign = await put(id, [], { 'if-match': '"1"' }, KEYS.bob);
    expect([foreign.statusCode, foreign.json().code]).toEqual([404, 'session_not_found']);
    expect(BOB).not.toBe(ALICE);
  });
});
