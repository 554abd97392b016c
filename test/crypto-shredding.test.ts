// Crypto-shredding end to end (issue 17) on the dev server: with a data key per session, a copy of a session's
// history taken before its deletion (as an export, a backup or a closed run inside the namespace retention would keep
// it) no longer decodes once the session is deleted, while a control session's copy does; the actor keeps working
// and a new session with the same id gets a new key.
import type { temporal } from '@temporalio/proto';
import type { Payload } from '@temporalio/common';
import {
  PayloadErasedError,
  SESSION_KEY_METADATA,
  SessionKeyCodec,
  SessionKeyStore,
  rewrapSessionKeys,
  type CodecKey,
} from '../src/codec';
import { SessionNotFoundError } from '../src/errors';
import { deleteSessionFenced } from '../src/postgres/fence';
import { staleRetiredKeys, sweepRetiredKeys } from '../src/retention/retired-keys';
import { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createSessionWorker } from '../src/temporal/worker';
import { testStack, uniqueTaskQueue } from './support/stack';
import { SessionRecovery } from '../src/recovery';
import { TemporalSessionService } from '../src/temporal/service';
import { loadSnapshot } from '../src/postgres/snapshots';
import { sessionWorkflowId } from '../workflows/messages';
import { eventually } from './support/contract';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';

const k1: CodecKey = { id: 'k1', key: Buffer.alloc(32, 11) };
const k2: CodecKey = { id: 'k2', key: Buffer.alloc(32, 12) };

/** Every payload anywhere in a history (inputs, results, activity arguments, user metadata, …). */
function payloadsOf(history: temporal.api.history.v1.IHistory): Payload[] {
  const found: Payload[] = [];
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (v instanceof Uint8Array) return;
    const o = v as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'data' in o && !Array.isArray(o.metadata)) {
      found.push(o as Payload);
      return;
    }
    for (const x of Object.values(o)) walk(x);
  };
  walk(history);
  return found;
}

const keyIdOf = (p: Payload): string | undefined => {
  const v = p.metadata?.[SESSION_KEY_METADATA];
  return v ? Buffer.from(v).toString() : undefined;
};

describe('crypto-shredding: a deleted session’s retained history copies no longer decode', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const target = `shred-${run}`;
  const control = `shred-control-${run}`;
  const secret = `shredded secret ${run}`;
  let h: TemporalHarness;
  let store: SessionKeyStore;
  let workerStore: SessionKeyStore;

  beforeAll(async () => {
    // As the stack has them: the client asks Postgres for the live key on every write, the worker caches keys.
    store = new SessionKeyStore([k1], { encodeCacheMs: 0 });
    workerStore = new SessionKeyStore([k1]);
    h = await startTemporalHarness(
      'shred',
      { removeLocally: true },
      {
        codec: new SessionKeyCodec([k1], store),
        workerCodec: new SessionKeyCodec([k1], workerStore, { erased: 'sentinel' }),
      },
    );
    store.usePool(h.pool);
    workerStore.usePool(h.pool);
  });
  /**
   * A service in another process that has cached the session's live key now (it caches keys like a worker) and is
   * not told of deletions made here.
   */
  async function staleService(id: string): Promise<TemporalSessionService> {
    const staleStore = new SessionKeyStore([k1], { db: h.pool });
    staleStore.close();
    const staleCodec = new SessionKeyCodec([k1], staleStore);
    await staleCodec.encode([{ metadata: {}, data: new Uint8Array() }], {
      type: 'workflow',
      namespace: 'default',
      workflowId: sessionWorkflowId(id),
    });
    return new TemporalSessionService({
      client: new Client({
        connection: h.client.connection,
        namespace: h.client.options.namespace,
        dataConverter: { payloadCodecs: [staleCodec] },
      }),
      pool: h.pool,
      taskQueue: h.taskQueue,
    });
  }

  afterAll(async () => {
    store?.close();
    workerStore?.close();
    await h?.close();
  });

  test('after delete, the copy taken before does not decode; the control session’s does; the id lives again', async () => {
    const recovery = new SessionRecovery(h.service);
    for (const id of [target, control]) {
      await recovery.recoverSession(id, 42, 'assistant');
      await recovery.appendTurn(id, `${secret} question of ${id}`, `${secret} answer of ${id}`, '');
      await h.service.submitTurn(id, `${secret} durable of ${id}`, 'ok');
      expect((await h.service.loadContext(id))?.messages.map((m) => m.content).join('\n')).toContain(
        `durable of ${id}`,
      );
    }
    const copy = async (id: string) =>
      await h.client.workflow.getHandle(sessionWorkflowId(id)).fetchHistory();
    // The encrypted payloads: search attributes are indexed in clear and the SDK's patch markers carry no text.
    const encrypted = (ps: Payload[]) =>
      ps.filter(
        (p) => p.metadata?.encoding && Buffer.from(p.metadata.encoding).toString() === 'binary/encrypted',
      );
    const targetAll = payloadsOf(await copy(target));
    const targetCopy = encrypted(targetAll);
    const controlCopy = encrypted(payloadsOf(await copy(control)));
    expect(
      targetAll
        .filter((p) => !targetCopy.includes(p))
        .map((p) => Buffer.from(p.data ?? []).toString())
        .join('\n'),
    ).not.toContain(secret);
    expect(targetCopy.length).toBeGreaterThan(5);
    // Every payload of the session's workflow carries the session's key (one key: one incarnation).
    const targetKeys = new Set(targetCopy.map(keyIdOf));
    expect([...targetKeys]).toEqual([expect.stringMatching(/^s[0-9a-f]{32}$/)]);

    /** A reader in another process: the master key ring and Postgres, nothing cached. */
    const reader = () => new SessionKeyCodec([k1], new SessionKeyStore([k1], { db: h.pool }));
    const decodedText = async (ps: Payload[]) =>
      (await reader().decode(ps)).map((p) => Buffer.from(p.data ?? []).toString()).join('\n');
    expect(await decodedText(targetCopy)).toContain(`${secret} question of ${target}`);

    await h.service.deleteSession(target);
    // No key of the deleted session is left: neither the one its delete retired nor one made for the removal's own
    // result after it.
    const left = await h.pool.query('SELECT key_id FROM session_key WHERE session_id = $1', [target]);
    expect(left.rows).toEqual([]);

    // The copy taken before the delete: every payload is erased, none decodes, in a new reader and in this process.
    for (const codec of [reader(), new SessionKeyCodec([k1], store)]) {
      const outcomes = await Promise.allSettled(targetCopy.map((p) => codec.decode([p])));
      expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof PayloadErasedError)).toBe(
        true,
      );
    }
    // The control session's copy still decodes, with its text.
    const controlText = await decodedText(controlCopy);
    expect(controlText).toContain(`${secret} question of ${control}`);
    expect(controlText).toContain(`${secret} durable of ${control}`);

    // The same id again: a new session, a new key, and the actor works (applied and durable).
    await recovery.recoverSession(target, 42, 'assistant');
    await recovery.appendTurn(target, 'second life', 'ok', '');
    await h.service.submitTurn(target, 'second life durable', 'ok');
    expect((await h.service.loadContext(target))?.messages.map((m) => m.content)).toEqual([
      'second life',
      'ok',
      'second life durable',
      'ok',
    ]);
    const again = encrypted(payloadsOf(await copy(target)));
    const newKeys = new Set(again.map(keyIdOf));
    expect(newKeys.size).toBe(1);
    expect([...newKeys][0]).not.toBe([...targetKeys][0]);
    expect(await decodedText(again)).toContain('second life durable');

    // Master-key rotation (last: this test's client and worker know k1 only): the session keys are rewrapped under
    // k2 and k1 can go; the control's retained copy still reads, with k2 alone.
    expect(await rewrapSessionKeys(h.pool, [k2, k1])).toBeGreaterThan(0);
    const afterRotation = new SessionKeyCodec([k2], new SessionKeyStore([k2], { db: h.pool }));
    const rotatedText = (await afterRotation.decode(controlCopy)).map((p) =>
      Buffer.from(p.data ?? []).toString(),
    );
    expect(rotatedText.join('\n')).toContain(`${secret} question of ${control}`);
  });

  test('a write under a key destroyed meanwhile (another process’s stale cache) wedges no session: the run it starts fails at once, and the next write goes through', async () => {
    const id = `shred-stale-${run}`;
    const recovery = new SessionRecovery(h.service);
    await recovery.recoverSession(id, 42, 'assistant');
    await recovery.appendTurn(id, 'before', 'ok', '');
    const stale = await staleService(id);
    await h.service.deleteSession(id);
    // Its write starts a new run under the destroyed key: nobody can read that run's input, so the write fails.
    await expect(new SessionRecovery(stale).recoverSession(id, 42, 'assistant')).rejects.toThrow();
    // A write from a process with the live key: the undecodable run is ended, and the session works again.
    await recovery.recoverSession(id, 42, 'assistant');
    await recovery.appendTurn(id, 'after', 'ok', '');
    expect((await h.service.loadContext(id))?.messages.map((m) => m.content)).toEqual(['after', 'ok']);
  }, 120_000);

  test('a durable turn under a key destroyed meanwhile, sent to the re-created session: refused to its sender, not applied, and the actor never stalls', async () => {
    const id = `shred-stale-signal-${run}`;
    const recovery = new SessionRecovery(h.service);
    await recovery.recoverSession(id, 42, 'assistant');
    await recovery.appendTurn(id, 'first life', 'ok', '');
    const stale = await staleService(id);
    await h.service.deleteSession(id);
    await recovery.recoverSession(id, 42, 'assistant');
    await recovery.appendTurn(id, 'second life', 'ok', '');
    // Sent under the destroyed key, it belonged to the deleted incarnation: Temporal takes the signal, the actor
    // drops it, and its sender is told the session it wrote to is gone instead of being acknowledged.
    await expect(stale.submitTurn(id, 'stale durable turn', 'ok')).rejects.toBeInstanceOf(
      SessionNotFoundError,
    );
    const t0 = Date.now();
    await recovery.appendTurn(id, 'after', 'ok', '');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await h.service.loadContext(id))?.messages.map((m) => m.content)).toEqual([
      'second life',
      'ok',
      'after',
      'ok',
    ]);
  }, 120_000);

  test.each([
    ['a local activity (the default with keys per session)', true],
    ['a regular activity', false],
  ])(
    'a worker that replays every task (no workflow cache) still completes a delete, the removal in %s: the key is retired, and destroyed once the run has answered',
    async (_how, removeLocally) => {
      // A worker that keeps no run in memory replays every run from its first event on every task, as any worker does
      // after a restart or an eviction: a task after the key's destruction could not read the run's earlier events.
      const taskQueue = uniqueTaskQueue('shred_nocache');
      const native = await NativeConnection.connect({ address: testStack().temporalAddress });
      const noCacheStore = new SessionKeyStore([k1], { db: h.pool });
      const worker = await createSessionWorker({
        connection: native,
        namespace: testStack().namespace,
        taskQueue,
        pool: h.pool,
        workflowBundlePath: testStack().workflowBundlePath ?? undefined,
        dataConverter: { payloadCodecs: [new SessionKeyCodec([k1], noCacheStore, { erased: 'sentinel' })] },
        tuning: { maxCachedWorkflows: 0 },
      });
      const running = worker.run();
      try {
        const service = new TemporalSessionService({
          client: h.client,
          pool: h.pool,
          taskQueue,
          actor: { removeLocally },
        });
        const id = `shred-nocache-${removeLocally ? 'local' : 'regular'}-${run}`;
        const recovery = new SessionRecovery(service);
        await recovery.recoverSession(id, 42, 'assistant');
        await recovery.appendTurn(id, 'replayed every task', 'ok', '');
        const { runId } = await h.client.workflow.getHandle(sessionWorkflowId(id)).describe();
        const sealed = payloadsOf(
          await h.client.workflow.getHandle(sessionWorkflowId(id), runId).fetchHistory(),
        ).filter((p) => keyIdOf(p) !== undefined);
        await service.deleteSession(id);
        expect(await service.loadContext(id)).toBeNull();
        const reader = new SessionKeyCodec([k1], new SessionKeyStore([k1], { db: h.pool }));
        const outcomes = await Promise.allSettled(sealed.map((p) => reader.decode([p])));
        expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof PayloadErasedError)).toBe(
          true,
        );
        await recovery.recoverSession(id, 42, 'assistant');
        await recovery.appendTurn(id, 'again', 'ok', '');
        expect((await service.loadContext(id))?.messages.map((m) => m.content)).toEqual(['again', 'ok']);
      } finally {
        worker.shutdown();
        await running;
        noCacheStore.close();
        await native.close();
      }
    },
    60_000,
  );

  test('keys a delete’s caller left retired: the sweep destroys those whose removing run has closed, and keeps one whose run is open', async () => {
    const recovery = new SessionRecovery(h.service);
    const open = `shred-sweep-open-${run}`;
    const closed = `shred-sweep-closed-${run}`;
    for (const id of [open, closed]) {
      await recovery.recoverSession(id, 42, 'assistant');
      await recovery.appendTurn(id, `${secret} sweep`, 'ok', '');
    }
    await h.client.workflow.getHandle(sessionWorkflowId(closed)).terminate('closed, as after its removal');
    // What a removing run's delete does; then its caller dies before destroying the keys.
    for (const id of [open, closed]) await deleteSessionFenced(h.pool, id, 1);
    const unused = `shred-sweep-unused-${run}`;
    // A key made for a session that never got a row (its run ended before any snapshot): it seals nothing any more.
    await store.current(unused);
    const mine = [open, closed, unused];
    const retired = async () =>
      (await staleRetiredKeys(h.pool, 0, 1000)).map((k) => k.sessionId).filter((id) => mine.includes(id));
    expect((await retired()).sort()).toEqual([closed, open, unused].sort());
    // Younger than the grace period: left alone.
    await sweepRetiredKeys(h.pool, h.client, 3600);
    expect((await retired()).sort()).toEqual([closed, open, unused].sort());
    expect(await sweepRetiredKeys(h.pool, h.client, 0)).toBeGreaterThanOrEqual(1);
    // The open run started before the retirement (it may be the removing run, still to replay): kept for now.
    expect(await retired()).toEqual([open]);
    await h.client.workflow.getHandle(sessionWorkflowId(open)).terminate('closed');
    expect(await sweepRetiredKeys(h.pool, h.client, 0)).toBeGreaterThanOrEqual(1);
    expect(await retired()).toEqual([]);
  });

  test('a cleanup leaves an expired session’s closed runs to the namespace retention: they stay listed and no longer decode', async () => {
    const id = `shred-expired-${run}`;
    const wid = sessionWorkflowId(id);
    const recovery = new SessionRecovery(h.service);
    await recovery.recoverSession(id, 42, 'assistant');
    await recovery.appendTurn(id, `${secret} expiring`, 'ok', '');
    await eventually(async () => expect((await loadSnapshot(h.pool, id))?.context.messages).toHaveLength(2));
    // Its actor's run closes (as an idle one would), and the session ages past the retention.
    const { runId } = await h.client.workflow.getHandle(wid).describe();
    await h.client.workflow.getHandle(wid).terminate('closed, as an idle actor');
    await h.pool.query('UPDATE conversation_context SET updated_at = $2 WHERE session_id = $1', [
      id,
      Math.floor(Date.now() / 1000) - 40 * 86_400,
    ]);
    const copy = (await h.client.workflow
      .getHandle(wid, runId)
      .fetchHistory()) as temporal.api.history.v1.IHistory;
    const sealed = payloadsOf(copy).filter((p) => keyIdOf(p) !== undefined);
    expect(sealed.length).toBeGreaterThan(3);

    expect(await h.service.cleanupExpired(30)).toBe(1);
    expect(await loadSnapshot(h.pool, id)).toBeNull();
    // Not erased one by one: the run is still there, for the namespace retention to remove ...
    expect((await h.client.workflow.getHandle(wid, runId).describe()).status.name).toBe('TERMINATED');
    // ... and nothing of it decodes any more.
    const reader = new SessionKeyCodec([k1], new SessionKeyStore([k1], { db: h.pool }));
    const outcomes = await Promise.allSettled(sealed.map((p) => reader.decode([p])));
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof PayloadErasedError)).toBe(
      true,
    );
  });
});
