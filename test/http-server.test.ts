// The HTTP API over a real socket (app.listen + fetch), keyset paging while sessions are written concurrently,
// and the start-up rules for keys (a generated key on loopback, refusal elsewhere).
import { resolveApiKeys } from '../src/http/auth';
import { startApi, type RunningApi } from '../src/http/server';
import { silentLogger } from '../src/logger';
import { SessionMetrics } from '../src/metrics';
import { ALICE, KEYS, apiConfig } from './support/http-harness';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';
import { uniqueIds } from './support/contract';

describe('HTTP API on a socket', () => {
  let h: TemporalHarness;
  let api: RunningApi;
  const auth = { authorization: `Bearer ${KEYS.alice}`, 'content-type': 'application/json' };

  beforeAll(async () => {
    h = await startTemporalHarness('http_socket');
    api = await startApi({
      service: h.service,
      pool: h.pool,
      client: h.client,
      config: apiConfig({ port: 0 }),
      logger: silentLogger,
      metrics: new SessionMetrics({ processMetrics: false }),
    });
  });
  afterAll(async () => {
    await api?.close();
    await h?.close();
  });

  test('end to end: create, append a durable turn, read it back, list, delete', async () => {
    const id = uniqueIds().sessionId();
    const url = `${api.url}/v1/sessions/${id}`;
    let res = await fetch(url, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ agent_type: 'memo' }),
    });
    expect(res.status).toBe(200);
    res = await fetch(`${url}/turns?ack=durable`, {
      method: 'POST',
      headers: { ...auth, 'idempotency-key': 'e2e-1' },
      body: JSON.stringify({ user: 'hello', assistant: 'hi there' }),
    });
    expect([res.status, await res.json()]).toEqual([202, { turn_id: 'e2e-1' }]);
    res = await fetch(`${url}/messages?last=1`, { headers: auth });
    expect(await res.json()).toEqual({ messages: [{ role: 'assistant', content: 'hi there' }] });
    res = await fetch(`${api.url}/v1/users/${ALICE}/sessions?agent_type=memo`, { headers: auth });
    expect(res.status).toBe(200);
    res = await fetch(url, { method: 'DELETE', headers: { authorization: auth.authorization } });
    expect(res.status).toBe(204);
    res = await fetch(`${api.url}/readyz`);
    expect(res.status).toBe(200);
  });

  test('keyset paging while sessions are written: no duplicates, every untouched session exactly once', async () => {
    const ids = uniqueIds();
    const user = ids.userId();
    const now = Math.floor(Date.now() / 1000);
    // 60 sessions with distinct, older updated_at; seeded straight into Postgres (no actors).
    const all = Array.from({ length: 60 }, (_, i) => ids.sessionId(`p${i}`));
    for (const [i, sessionId] of all.entries())
      await h.seed({
        sessionId,
        userId: user,
        agentType: 'memo',
        messages: [],
        metadata: {},
        createdAt: now - 1000,
        updatedAt: now - 1000 + (i % 7), // ties on updated_at, broken by session id
      });
    const headers = { authorization: `Bearer ${KEYS.service}`, 'x-user-id': String(user) };
    const touched = new Set<string>();
    const seen: string[] = [];
    let cursor: string | undefined;
    let page = 0;
    do {
      const q = new URLSearchParams({ limit: '7', ...(cursor ? { cursor } : {}) });
      const res = await fetch(`${api.url}/v1/users/${user}/sessions?${q}`, { headers });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { sessions: { session_id: string }[]; next_cursor?: string };
      seen.push(...body.sessions.map((x) => x.session_id));
      cursor = body.next_cursor;
      // Between pages, write to two sessions: one already listed, one not yet listed. Both move to the front.
      if (page < 4) {
        const targets = [seen[0 + page], all[page * 3]];
        await Promise.all(
          targets.map(async (sessionId) => {
            touched.add(sessionId);
            const r = await fetch(`${api.url}/v1/sessions/${sessionId}/messages`, {
              method: 'POST',
              headers: { ...headers, 'content-type': 'application/json' },
              body: JSON.stringify({ role: 'user', content: `during page ${page}` }),
            });
            expect(r.status).toBe(200);
          }),
        );
      }
      page++;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const sessionId of all.filter((x) => !touched.has(x))) expect(seen).toContain(sessionId);
  });
});

describe('API keys at start-up', () => {
  test('loopback without keys gets one generated admin key; 0.0.0.0 without keys refuses to start', async () => {
    const local = resolveApiKeys({ host: '127.0.0.1', keys: [] });
    expect(local.generated).toMatch(/^dsk_[A-Za-z0-9_-]{32}$/);
    expect(local.keys).toEqual([{ key: local.generated, role: { kind: 'admin' } }]);
    expect(() => resolveApiKeys({ host: '0.0.0.0', keys: [] })).toThrow(
      /refusing to serve the API on 0.0.0.0/,
    );
    const configured = apiConfig();
    expect(resolveApiKeys({ host: '0.0.0.0', keys: configured.keys }).generated).toBeUndefined();
    // startApi applies the rule before anything listens.
    await expect(
      startApi({
        service: {} as never,
        pool: {} as never,
        client: {} as never,
        config: apiConfig({ host: '0.0.0.0', keys: [] }),
        logger: silentLogger,
      }),
    ).rejects.toThrow(/refusing/);
  });
});
