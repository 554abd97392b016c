// PostgresSessionStore against a real Postgres: the reference's save/load/list/delete/cleanup semantics,
// its cache (hit, miss, invalidation, cleanup) and the fixes DESIGN.md asks for (conflicts, validation, corrupt rows).
import type pg from 'pg';
import { SessionConflictError, StorageError, ValidationError } from '../src/errors';
import { createPool, LruSessionCache, PostgresSessionStore, type SessionCache } from '../src/postgres';
import { CACHE_TTL_MS } from '../src/postgres/store-cache';
import { MAX_MESSAGES_PER_SESSION, type ConversationContext } from '../src/types';
import { createTestDatabase } from './support/stack';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('pg_store');
  pool = createPool(db.url, 5);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});
beforeEach(async () => {
  await pool.query('TRUNCATE conversation_context, session_transcript'); // transcripts go with rows on DELETE, not TRUNCATE
});

/** An LruSessionCache that records calls, to tell hits from misses. */
class SpyCache implements SessionCache {
  readonly inner = new LruSessionCache();
  readonly calls: string[] = [];
  get(key: string) {
    const v = this.inner.get(key);
    this.calls.push(`${v === undefined ? 'miss' : 'hit'} ${key}`);
    return v;
  }
  set(key: string, value: string, ttlMs: number) {
    this.calls.push(`set ${key} ${ttlMs}`);
    this.inner.set(key, value, ttlMs);
  }
  invalidate(pattern: string) {
    this.calls.push(`invalidate ${pattern}`);
    this.inner.invalidate(pattern);
  }
}

function ctx(over: Partial<ConversationContext> = {}): ConversationContext {
  return {
    sessionId: '',
    userId: 1,
    agentType: 'memo',
    messages: [{ role: 'user', content: 'hi' }],
    metadata: { topic: 'x', count: 42 },
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}

async function rowCount(): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM conversation_context');
  return rows[0].n;
}

describe('saveContext / loadContext', () => {
  it("mutates the caller's context and loads an independent copy", async () => {
    const store = new PostgresSessionStore(pool, undefined, { now: () => 1_700_000_000_500 });
    const c = ctx({ sessionId: 'ignored' });
    await store.saveContext('s1', c);
    expect(c.sessionId).toBe('s1');
    expect(c.createdAt).toBe(1_700_000_000);
    expect(c.updatedAt).toBe(1_700_000_000);
    const loaded = await store.loadContext('s1');
    expect(loaded).toEqual(c);
    loaded!.messages.push({ role: 'assistant', content: 'mutated' });
    (loaded!.metadata as { topic: string }).topic = 'mutated';
    expect(await store.loadContext('s1')).toEqual(c);
  });

  it('keeps a non-zero createdAt from the caller, and owner and createdAt on update; bumps the version', async () => {
    let now = 2_000_000_000_000;
    const store = new PostgresSessionStore(pool, undefined, { now: () => now });
    await store.saveContext('s1', ctx({ createdAt: 123 }));
    now += 10_000;
    const again = ctx({ createdAt: 0, agentType: 'schedule', messages: [] });
    await store.saveContext('s1', again);
    expect(again.createdAt).toBe(2_000_000_010);
    const loaded = await store.loadContext('s1');
    expect(loaded?.createdAt).toBe(123);
    expect(loaded?.updatedAt).toBe(2_000_000_010);
    expect(loaded?.agentType).toBe('schedule');
    expect(loaded?.messages).toEqual([]);
    const { rows } = await pool.query<{ version: number }>('SELECT version FROM conversation_context');
    expect(rows[0].version).toBe(2);
  });

  it('keeps only the last 20 messages', async () => {
    const store = new PostgresSessionStore(pool);
    const messages = Array.from({ length: 25 }, (_, i) => ({ role: 'user' as const, content: `m${i}` }));
    await store.saveContext('w', ctx({ messages }));
    const loaded = await store.loadContext('w');
    expect(loaded?.messages).toHaveLength(MAX_MESSAGES_PER_SESSION);
    expect(loaded?.messages[0].content).toBe('m5');
  });

  it('returns null for a missing session', async () => {
    expect(await new PostgresSessionStore(pool).loadContext('missing')).toBeNull();
  });

  it("is a SessionConflictError to save another user's session id, and nothing changes", async () => {
    const cache = new SpyCache();
    const store = new PostgresSessionStore(pool, cache);
    await store.saveContext('mine', ctx({ userId: 1 }));
    await expect(store.saveContext('mine', ctx({ userId: 2, messages: [] }))).rejects.toThrow(
      SessionConflictError,
    );
    const loaded = await store.loadContext('mine');
    expect(loaded?.userId).toBe(1);
    expect(loaded?.messages).toHaveLength(1);
    cache.inner.clear();
    expect((await store.loadContext('mine'))?.messages).toHaveLength(1);
  });

  it.each<[string, string, Partial<ConversationContext>]>([
    ['an empty id', '', {}],
    ['an id with a *', 'a*', {}],
    ['a bad role', 'ok', { messages: [{ role: 'robot' as 'user', content: 'x' }] }],
    ['a non-integer user id', 'ok', { userId: 1.5 }],
    ['metadata that is an array', 'ok', { metadata: [] as unknown as Record<string, unknown> }],
  ])('rejects %s with ValidationError and writes nothing', async (_what, id, over) => {
    const store = new PostgresSessionStore(pool, new SpyCache());
    const c = ctx(over);
    await expect(store.saveContext(id, c)).rejects.toThrow(ValidationError);
    expect(c.updatedAt).toBe(0);
    expect(await rowCount()).toBe(0);
  });

  it('turns a corrupt row into a StorageError, not an empty session', async () => {
    const store = new PostgresSessionStore(pool);
    await store.saveContext('bad', ctx());
    await pool.query(`UPDATE conversation_context SET context_data = '"oops"'::jsonb`);
    await expect(store.loadContext('bad')).rejects.toThrow(StorageError);
  });

  it('wraps a failing database as StorageError with the driver error as cause', async () => {
    const broken = createPool('postgres://nobody@127.0.0.1:1/none', 1);
    try {
      const err = (await new PostgresSessionStore(broken)
        .loadContext('x')
        .catch((e: unknown) => e)) as StorageError;
      expect(err).toBeInstanceOf(StorageError);
      expect(err.cause).toBeDefined();
    } finally {
      await broken.end();
    }
  });
});

describe('cache', () => {
  it('save fills it (30 min TTL); load hits it without touching Postgres', async () => {
    const cache = new SpyCache();
    const store = new PostgresSessionStore(pool, cache);
    await store.saveContext('c1', ctx());
    expect(cache.calls).toEqual([`set session:c1 ${CACHE_TTL_MS}`]);
    const spy = jest.spyOn(pool, 'query');
    const loaded = await store.loadContext('c1');
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    expect(loaded?.metadata).toEqual({ topic: 'x', count: 42 });
    expect(cache.calls[1]).toBe('hit session:c1');
  });

  it('a miss reads Postgres and fills the cache', async () => {
    const cache = new SpyCache();
    const store = new PostgresSessionStore(pool, cache);
    await new PostgresSessionStore(pool).saveContext('c2', ctx());
    expect(await store.loadContext('c2')).not.toBeNull();
    expect(await store.loadContext('c2')).not.toBeNull();
    expect(cache.calls).toEqual(['miss session:c2', `set session:c2 ${CACHE_TTL_MS}`, 'hit session:c2']);
  });

  it('caches what Postgres holds (the stored createdAt), not what the caller sent', async () => {
    const cache = new SpyCache();
    const store = new PostgresSessionStore(pool, cache);
    await store.saveContext('c3', ctx({ createdAt: 5 }));
    await store.saveContext('c3', ctx({ createdAt: 0 }));
    expect((await store.loadContext('c3'))?.createdAt).toBe(5);
  });

  it('deleteSession invalidates exactly that key and is idempotent', async () => {
    const cache = new SpyCache();
    const store = new PostgresSessionStore(pool, cache);
    await store.saveContext('d1', ctx());
    await store.saveContext('d10', ctx());
    await store.deleteSession('d1');
    await store.deleteSession('d1');
    expect(cache.calls.filter((c) => c.startsWith('invalidate'))).toEqual([
      'invalidate session:d1',
      'invalidate session:d1',
    ]);
    expect(await store.loadContext('d1')).toBeNull();
    expect(cache.inner.get('session:d10')).toBeDefined();
    await expect(store.deleteSession('d*')).rejects.toThrow(ValidationError);
  });

  it('cleanupExpired invalidates the deleted sessions (the reference does not)', async () => {
    const cache = new SpyCache();
    let now = 1_800_000_000_000;
    const store = new PostgresSessionStore(pool, cache, { now: () => now });
    await store.saveContext('old', ctx());
    now += 40 * 86_400_000;
    await store.saveContext('fresh', ctx());
    expect(await store.cleanupExpired(30)).toBe(1);
    expect(cache.inner.get('session:old')).toBeUndefined();
    expect(cache.inner.get('session:fresh')).toBeDefined();
    expect(await store.loadContext('old')).toBeNull();
  });

  it('an unreadable or failing cache falls back to Postgres, and errors are logged, never thrown', async () => {
    const warnings: string[] = [];
    const failing: SessionCache = {
      get: () => Promise.reject(new Error('down')),
      set: () => {
        throw new Error('down');
      },
      invalidate: () => Promise.reject(new Error('down')),
    };
    const store = new PostgresSessionStore(pool, failing, { cacheLogger: (m) => warnings.push(m) });
    await store.saveContext('f1', ctx());
    expect((await store.loadContext('f1'))?.userId).toBe(1);
    await store.deleteSession('f1');
    expect(warnings).toEqual([
      'cache set failed', // save
      'cache get failed', // load: get, then fill from Postgres
      'cache set failed',
      'cache invalidate failed', // delete
    ]);

    const junk = new LruSessionCache();
    junk.set('session:f2', '{not json', 60_000);
    const store2 = new PostgresSessionStore(pool, junk, { cacheLogger: (m) => warnings.push(m) });
    await new PostgresSessionStore(pool).saveContext('f2', ctx());
    expect((await store2.loadContext('f2'))?.userId).toBe(1);
  });

  it('a load that read an old row before a save finished does not put the old row in the cache', async () => {
    const cache = new LruSessionCache();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    // Holds back the answer of the load's SELECT until the save has finished.
    const slow = {
      query: async (text: string, values: unknown[]) => {
        const result = await pool.query(text, values);
        if (text.includes('SELECT session_id, user_id')) await gate;
        return result;
      },
    } as unknown as pg.Pool;
    await new PostgresSessionStore(pool).saveContext('race', ctx({ metadata: { v: 1 } }));
    const reader = new PostgresSessionStore(slow, cache);
    const writer = new PostgresSessionStore(pool, cache);
    const load = reader.loadContext('race');
    await new Promise((r) => setTimeout(r, 50));
    await writer.saveContext('race', ctx({ metadata: { v: 2 } }));
    release();
    expect((await load)?.metadata).toEqual({ v: 1 });
    expect((await reader.loadContext('race'))?.metadata).toEqual({ v: 2 });
  });

  it('concurrent saves and loads of one session leave the cache matching Postgres', async () => {
    const cache = new LruSessionCache();
    const store = new PostgresSessionStore(pool, cache);
    await store.saveContext('hot', ctx());
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2
          ? store.saveContext('hot', ctx({ metadata: { i } }))
          : store.loadContext('hot').then(() => undefined),
      ),
    );
    const fromDb = await new PostgresSessionStore(pool).loadContext('hot');
    expect(await store.loadContext('hot')).toEqual(fromDb);
  });
});

describe('listSessions / deleteSession / cleanupExpired', () => {
  it('lists one user, newest first, last message of any role, with pages', async () => {
    let now = 1_700_000_000_000;
    const store = new PostgresSessionStore(pool, undefined, { now: () => now });
    for (const [id, userId, content] of [
      ['a', 1, 'first'],
      ['b', 1, 'second'],
      ['c', 2, 'other user'],
      ['d', 1, 'third'],
    ] as const) {
      now += 1000;
      await store.saveContext(id, ctx({ userId, messages: [{ role: 'system', content }] }));
    }
    const list = await store.listSessions(1, 0);
    expect(list.map((s) => [s.sessionId, s.lastMessage])).toEqual([
      ['d', 'third'],
      ['b', 'second'],
      ['a', 'first'],
    ]);
    const page = await store.listSessionsPage(1, 2);
    expect(page.sessions.map((s) => s.sessionId)).toEqual(['d', 'b']);
    const rest = await store.listSessions(1, 2, { cursor: page.nextCursor });
    expect(rest.map((s) => s.sessionId)).toEqual(['a']);
  });

  it('cleanupExpired is strict, validates its argument and deletes in batches', async () => {
    const now = 1_900_000_000_000;
    const store = new PostgresSessionStore(pool, undefined, { now: () => now });
    const cutoff = 1_900_000_000 - 86_400;
    await pool.query(
      `INSERT INTO conversation_context (session_id, user_id, context_data, created_at, updated_at, version)
       SELECT 'x' || g, 1, '{"metadata":{},"messages":[]}'::jsonb, 0, $1::bigint - 1, 1 FROM generate_series(1, 2500) g`,
      [cutoff],
    );
    await pool.query(
      `INSERT INTO conversation_context (session_id, user_id, context_data, created_at, updated_at, version)
       VALUES ('edge', 1, '{"metadata":{},"messages":[]}'::jsonb, 0, $1::bigint, 1)`,
      [cutoff],
    );
    await expect(store.cleanupExpired(-1)).rejects.toThrow(ValidationError);
    expect(await store.cleanupExpired(1)).toBe(2500);
    expect(await store.loadContext('edge')).not.toBeNull();
    expect(await store.cleanupExpired(0)).toBe(1);
  });

  it('has no execute, so SessionRecovery does load-modify-save on it like the reference', () => {
    expect('execute' in new PostgresSessionStore(pool)).toBe(false);
  });
});
