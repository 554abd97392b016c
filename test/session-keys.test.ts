// Data keys per session against a real Postgres (src/codec/session-keys.ts, session-key-codec.ts,
// migrations/4_session_keys.sql): each session its own key, a deletion by any path destroys it so that a copy of the
// session's payloads taken before no longer decodes (a control session's does), a new incarnation gets a new key,
// master-key rotation rewraps, and the codec server answers "erased".
import type pg from 'pg';
import { defaultPayloadConverter, type Payload, type SerializationContext } from '@temporalio/common';
import {
  AesGcmCodec,
  PayloadErasedError,
  SESSION_KEY_METADATA,
  SessionKeyCodec,
  SessionKeyStore,
  forgetSessionKey,
  forgetSessionKeys,
  rewrapSessionKeys,
  type CodecKey,
  type KeyRing,
} from '../src/codec';
import { destroyRetiredKeys } from '../src/retention/retired-keys';
import { expireIdleSessions } from '../src/retention/sql';
import { deleteSessionFenced, persistSession } from '../src/postgres/fence';
import type { SessionSnapshot } from '../src/session-rules';
import { type AppDeps, buildApp } from '../src/http/app';
import { silentLogger } from '../src/logger';
import { apiConfig, KEYS } from './support/http-harness';
import { createTestDatabase } from './support/stack';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase('session_keys');
  pool = db.pool;
});
afterAll(async () => {
  await db.drop();
});

const k1: CodecKey = { id: 'k1', key: Buffer.alloc(32, 1) };
const k2: CodecKey = { id: 'k2', key: Buffer.alloc(32, 2) };
const run = Math.random().toString(36).slice(2, 8);
const ctx = (sessionId: string): SerializationContext => ({
  type: 'workflow',
  namespace: 'default',
  workflowId: `session/${sessionId}`,
});
const turn = (content: string): Payload => defaultPayloadConverter.toPayload({ user: content });
const text = (ps: Payload[]): string => ps.map((p) => Buffer.from(p.data ?? []).toString()).join('\n');
const meta = (p: Payload, k: string): string => Buffer.from(p.metadata?.[k] ?? []).toString();
/** A codec as another process has it: its own store, nothing cached. */
const fresh = (ring: KeyRing = [k1]) => new SessionKeyCodec(ring, new SessionKeyStore(ring, { db: pool }));
const NOW = 1_800_000_000;
const snap = (sessionId: string, version: number): SessionSnapshot => ({
  version,
  context: {
    sessionId,
    userId: 7,
    agentType: '',
    messages: [{ role: 'user', content: 'x' }],
    metadata: {},
    createdAt: NOW,
    updatedAt: NOW,
  },
});

test('each session its own key, named in the payload; other workflows and no context use the master key', async () => {
  const codec = fresh();
  const [a] = await codec.encode([turn('alpha')], ctx(`a-${run}`));
  const [b] = await codec.encode([turn('beta')], ctx(`b-${run}`));
  const [activity] = await codec.encode([turn('alpha 2')], {
    type: 'activity',
    namespace: 'default',
    workflowId: `session/a-${run}`,
    isLocal: false,
  });
  expect(meta(a, SESSION_KEY_METADATA)).toMatch(/^s[0-9a-f]{32}$/);
  expect(meta(activity, SESSION_KEY_METADATA)).toBe(meta(a, SESSION_KEY_METADATA));
  expect(meta(b, SESSION_KEY_METADATA)).not.toBe(meta(a, SESSION_KEY_METADATA));
  expect(text([a, b])).not.toContain('alpha');
  const [other] = await codec.encode([turn('cleanup')], {
    type: 'workflow',
    namespace: 'default',
    workflowId: 'x',
  });
  const [none] = await codec.encode([turn('none')]);
  expect([meta(other, 'encryption-key-id'), meta(none, 'encryption-key-id')]).toEqual(['k1', 'k1']);
  // Another process (no cache) decodes all of them; the master-key ring alone cannot read the session's.
  expect(text(await fresh().decode([a, b, activity, other, none]))).toMatch(
    /alpha[\s\S]*beta[\s\S]*alpha 2[\s\S]*cleanup[\s\S]*none/,
  );
  await expect(new AesGcmCodec([k1]).decode([a])).rejects.toThrow(/encryption-key-id/);
  // The stored key is wrapped: its 32 bytes are nowhere in the row.
  const { rows } = await pool.query<{ wrapped: Buffer }>(
    'SELECT wrapped FROM session_key WHERE session_id = $1',
    [`a-${run}`],
  );
  expect(rows[0].wrapped.length).toBe(12 + 32 + 16);
});

test("forgetSessionKeys drops a whole batch of deleted sessions from this process's caches at once (a cleanup's batch)", async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => `batch-${x}-${run}`);
  const writer = fresh();
  const copies = new Map<string, Payload[]>();
  for (const id of [a, b, c]) {
    copies.set(id, await writer.encode([turn(`secret of ${id}`)], ctx(id)));
    await persistSession(pool, snap(id, 1), 1, 'h');
  }
  // Retention by SQL deletes a and b with their keys (the statement trigger); this process's cache still holds them.
  await pool.query('DELETE FROM conversation_context WHERE session_id = ANY ($1::text[])', [[a, b]]);
  expect(text(await writer.decode(copies.get(a) as Payload[]))).toContain(`secret of ${a}`);
  forgetSessionKeys([a, b]);
  for (const id of [a, b])
    await expect(writer.decode(copies.get(id) as Payload[])).rejects.toBeInstanceOf(PayloadErasedError);
  expect(text(await writer.decode(copies.get(c) as Payload[]))).toContain(`secret of ${c}`);
});

test('a fenced delete retires the key: never sealed with again, erased for display, opened for the removing run until it is destroyed', async () => {
  const target = `del-${run}`;
  const control = `ctl-${run}`;
  const writer = fresh();
  const copyTarget = await writer.encode([turn(`secret of ${target}`)], ctx(target));
  const copyControl = await writer.encode([turn(`secret of ${control}`)], ctx(control));
  await persistSession(pool, snap(target, 1), 1, 'h');
  // The writer's process deleted it: its caches drop the key at once.
  await deleteSessionFenced(pool, target, 1);
  forgetSessionKey(target);
  // Retired: the removing run's own replays (a worker's or a client's codec) still open its payloads, the codec
  // server shows them as erased, and the next incarnation of the id gets a new key.
  for (const codec of [writer, fresh()]) {
    expect(text(await codec.decode(copyTarget))).toContain(`secret of ${target}`);
    expect(text(await codec.decodeForDisplay(copyTarget))).toContain('belonged to a deleted session');
  }
  const [again] = await writer.encode([turn('new life')], ctx(target));
  expect(meta(again, SESSION_KEY_METADATA)).not.toBe(meta(copyTarget[0], SESSION_KEY_METADATA));
  // Destroyed once the removing run has answered: no copy taken before decodes, anywhere; the control's and the new
  // incarnation's still do.
  expect(await destroyRetiredKeys(pool, [target])).toBe(1);
  for (const codec of [writer, fresh()]) {
    await expect(codec.decode(copyTarget)).rejects.toBeInstanceOf(PayloadErasedError);
    expect(text(await codec.decode(copyControl))).toContain(`secret of ${control}`);
  }
  expect(text(await fresh().decode([again]))).toContain('new life');
  expect(await destroyRetiredKeys(pool, [target])).toBe(0);
});

test('a session deleted before its first snapshot (no row) and one expired by SQL lose their keys too', async () => {
  const early = `early-${run}`;
  const idle = `idle-${run}`;
  const codec = fresh();
  const earlyCopy = await codec.encode([turn('early')], ctx(early));
  const idleCopy = await codec.encode([turn('idle')], ctx(idle));
  await deleteSessionFenced(pool, early, 1);
  await destroyRetiredKeys(pool, [early]);
  await persistSession(pool, snap(idle, 1), 1, 'h');
  expect(await expireIdleSessions(pool, [{ sessionId: idle, holder: 'h' }], NOW + 1)).toEqual([idle]);
  await expect(fresh().decode(earlyCopy)).rejects.toBeInstanceOf(PayloadErasedError);
  await expect(fresh().decode(idleCopy)).rejects.toBeInstanceOf(PayloadErasedError);
});

test('master-key rotation: keys are rewrapped, histories untouched; the old master key can then go', async () => {
  const id = `rot-${run}`;
  const copy = await fresh([k1]).encode([turn('before rotation')], ctx(id));
  const rotated: KeyRing = [k2, k1];
  expect(await rewrapSessionKeys(pool, rotated, 2)).toBeGreaterThan(0);
  expect(await rewrapSessionKeys(pool, rotated)).toBe(0);
  const { rows } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM session_key WHERE master_key_id <> 'k2'",
  );
  expect(Number(rows[0].n)).toBe(0);
  expect(text(await fresh([k2]).decode(copy))).toContain('before rotation');
});

test('the codec server answers "erased" for a deleted session’s payloads, and decodes the rest', async () => {
  const id = `srv-${run}`;
  const codec = fresh();
  const [gone] = await codec.encode([turn('gone')], ctx(id));
  const [kept] = await codec.encode([turn('kept')], ctx(`srv-kept-${run}`));
  await deleteSessionFenced(pool, id, 1);
  const app = await buildApp({
    service: {} as AppDeps['service'],
    pool: {} as AppDeps['pool'],
    client: {} as AppDeps['client'],
    config: apiConfig(),
    logger: silentLogger,
    codec: { codec: fresh() },
  });
  try {
    const asJson = (p: Payload) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      data: Buffer.from(p.data ?? []).toString('base64'),
    });
    const res = await app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { authorization: `Bearer ${KEYS.admin}` },
      payload: { payloads: [asJson(gone), asJson(kept)] },
    });
    expect(res.statusCode).toBe(200);
    const [erased, readable] = res.json<{ payloads: { metadata: Record<string, string>; data: string }[] }>()
      .payloads;
    expect(Buffer.from(erased.metadata.erased, 'base64').toString()).toBe('true');
    expect(JSON.parse(Buffer.from(erased.data, 'base64').toString())).toEqual({
      erased: expect.stringMatching(/deleted session/),
    });
    expect(JSON.parse(Buffer.from(readable.data, 'base64').toString())).toEqual({ user: 'kept' });
  } finally {
    await app.close();
  }
});

test('a deletion in another process: a client codec never writes with the destroyed key; a worker codec drops it once it sees the new one', async () => {
  const id = `stale-${run}`;
  const client = new SessionKeyCodec([k1], new SessionKeyStore([k1], { db: pool, encodeCacheMs: 0 }));
  const worker = new SessionKeyCodec([k1], new SessionKeyStore([k1], { db: pool }));
  const [first] = await client.encode([turn('one')], ctx(id));
  const [fromWorker] = await worker.encode([turn('one, worker')], ctx(id));
  expect(meta(fromWorker, SESSION_KEY_METADATA)).toBe(meta(first, SESSION_KEY_METADATA));
  // Another process deletes the session (this one is not told: no forgetSessionKey here).
  await deleteSessionFenced(pool, id, 1);
  const [second] = await client.encode([turn('two')], ctx(id));
  expect(meta(second, SESSION_KEY_METADATA)).not.toBe(meta(first, SESSION_KEY_METADATA));
  expect(text(await fresh().decode([second]))).toContain('two');
  // The worker's cache still names the destroyed key (for at most SESSION_KEY_CACHE_MS)...
  const [stale] = await worker.encode([turn('stale')], ctx(id));
  expect(meta(stale, SESSION_KEY_METADATA)).toBe(meta(first, SESSION_KEY_METADATA));
  // ...until it decodes a payload of the session's live key (an activity result, a client's write): then it writes
  // with that one.
  await worker.decode([second]);
  const [after] = await worker.encode([turn('after')], ctx(id));
  expect(meta(after, SESSION_KEY_METADATA)).toBe(meta(second, SESSION_KEY_METADATA));
});

test('forgetting a deleted session never marks the next incarnation’s key as erased (found by hand on the stack)', async () => {
  const id = `reborn-${run}`;
  const worker = new SessionKeyCodec([k1], new SessionKeyStore([k1], { db: pool }));
  const client = new SessionKeyCodec([k1], new SessionKeyStore([k1], { db: pool, encodeCacheMs: 0 }));
  await worker.encode([turn('first life')], ctx(id));
  // The actor's delete activity: the key goes, this process forgets it, and the activity's result is then encoded
  // under the next incarnation's key.
  await deleteSessionFenced(pool, id, 1);
  forgetSessionKey(id);
  const [result] = await worker.encode([turn('delete result')], ctx(id));
  // The API process that called deleteSession forgets it too (here: the same process, every store).
  forgetSessionKey(id);
  // A new write re-creates the session under the live key, and the worker decodes it.
  const [write] = await client.encode([turn('second life')], ctx(id));
  expect(meta(write, SESSION_KEY_METADATA)).toBe(meta(result, SESSION_KEY_METADATA));
  expect(text(await worker.decode([write]))).toContain('second life');
});
