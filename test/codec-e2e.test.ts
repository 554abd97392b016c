// Encrypted payloads on a real dev server and Postgres: what Temporal stores (raw history, search attributes),
// reads through the service, key rotation mid-run, and the canary: no message text in Temporal's SQLite or logs.
import { apiConfig, KEYS } from './support/http-harness';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, type CodecKey } from '../src/codec';
import { buildApp } from '../src/http/app';
import { silentLogger } from '../src/logger';
import { loadSnapshot } from '../src/postgres/snapshots';
import { SessionRecovery } from '../src/recovery';
import { startDevServer } from '../src/runtime/dev-server';
import { TemporalSessionService } from '../src/temporal/service';
import { createSessionWorker } from '../src/temporal/worker';
import { contextQuery, sessionWorkflowId } from '../workflows/messages';
import { eventually, uniqueIds } from './support/contract';
import { temporalCli, testStack } from './support/stack';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';

// Everything the SDK logs in this process (worker, workflow and activity logs), for the canary. Installed before
// any harness; when a runtime already exists in this process the capture stays empty and the test says so.
const workerLogs: string[] = [];
let workerLogsCaptured = false;
try {
  Runtime.install({
    logger: new DefaultLogger('DEBUG', (e) =>
      workerLogs.push(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))),
    ),
  });
  workerLogsCaptured = true;
} catch {
  // Already installed (another file in the same jest process).
}

const key = (id: string): CodecKey => ({ id, key: randomBytes(32) });
const utf8 = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? []).toString('utf8');

interface FoundPayload {
  eventId: number;
  path: string;
  payload: Payload;
}

/** Every payload in a history, with the event it is in and where (search attributes are payloads too). */
function payloadsOf(history: temporal.api.history.v1.IHistory): FoundPayload[] {
  const found: FoundPayload[] = [];
  const walk = (value: unknown, at: string, eventId: number): void => {
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
    const o = value as Record<string, unknown>;
    if (
      o.metadata &&
      typeof o.metadata === 'object' &&
      (o.data === undefined || o.data instanceof Uint8Array)
    ) {
      const values = Object.values(o.metadata as Record<string, unknown>);
      if (values.length > 0 && values.every((v) => v instanceof Uint8Array)) {
        found.push({ eventId, path: at, payload: o as Payload });
        return;
      }
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${at}.${k}`, eventId);
  };
  for (const event of history.events ?? []) walk(event, '', Number(event.eventId));
  return found;
}

/**
 * Payloads that carry user data: not search attributes (indexed, never encrypted), not the SDK core's own
 * local-activity marker bookkeeping (`details.data`: sequence number, attempt, activity type; its `result` is ours)
 * and not patch markers (`details.patch-data`: the patch id, written by the SDK core without the codec).
 */
const isUserData = (f: FoundPayload): boolean =>
  !f.path.includes('searchAttributes') &&
  !f.path.includes('markerRecordedEventAttributes.details.data') &&
  !f.path.includes('markerRecordedEventAttributes.details.patch-data');

const historyBytes = (history: temporal.api.history.v1.IHistory): Buffer =>
  Buffer.from(temporal.api.history.v1.History.encode(history).finish());

/** A worker and service on the harness's task queue and database with another codec (the harness's worker stopped). */
async function withCodec(h: TemporalHarness, codec: AesGcmCodec) {
  const stack = testStack();
  const dataConverter = { payloadCodecs: [codec] };
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const native = await NativeConnection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection, namespace: stack.namespace, dataConverter });
  const worker: Worker = await createSessionWorker({
    connection: native,
    namespace: stack.namespace,
    taskQueue: h.taskQueue,
    pool: h.pool,
    workflowBundlePath: stack.workflowBundlePath ?? undefined,
    dataConverter,
  });
  const running = worker.run();
  const service = new TemporalSessionService({ client, pool: h.pool, taskQueue: h.taskQueue });
  return {
    client,
    service,
    close: async () => {
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
    },
  };
}

describe('encrypted sessions on Temporal', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  let h: TemporalHarness;
  let raw: Client;
  let rawConnection: Connection;
  let rotated: Awaited<ReturnType<typeof withCodec>> | undefined;
  const ids = uniqueIds();
  const secret = `secret-${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    h = await startTemporalHarness('codec_e2e', { idleTimeoutMs: 60_000 }, { codec: new AesGcmCodec([k1]) });
    rawConnection = await Connection.connect({ address: testStack().temporalAddress });
    raw = new Client({ connection: rawConnection, namespace: testStack().namespace });
  });
  afterAll(async () => {
    await rotated?.close();
    await rawConnection?.close();
    await h?.close();
  });

  test('Temporal stores only ciphertext with the key id; reads through the service decode; rotation mid-run', async () => {
    const userId = ids.userId();
    const s1 = ids.sessionId();
    const recovery = new SessionRecovery(h.service);
    await recovery.recoverSession(s1, userId);
    await recovery.appendTurn(s1, `${secret} q1`, `${secret} a1`, 'memo');
    await h.service.submitTurn(s1, `${secret} q2`, `${secret} a2`);
    await recovery.updateMetadata(s1, 'note', secret);
    const ctx = await h.service.loadContext(s1);
    expect(ctx?.messages.map((m) => m.content)).toEqual(
      [1, 1, 2, 2].map((n, i) => `${secret} ${i % 2 ? 'a' : 'q'}${n}`),
    );
    // The persist activity got its (encrypted) input decoded by the worker: Postgres has the text.
    await eventually(async () => expect((await loadSnapshot(h.pool, s1))?.context.messages).toHaveLength(4));

    // What Temporal holds, read by a client without the codec.
    const handle = raw.workflow.getHandle(sessionWorkflowId(s1));
    const before = await handle.fetchHistory();
    const found = payloadsOf(before);
    const data = found.filter((f) => isUserData(f));
    expect(data.length).toBeGreaterThanOrEqual(8);
    for (const f of data) {
      expect({ at: f.path, encoding: utf8(f.payload.metadata?.encoding) }).toEqual({
        at: f.path,
        encoding: ENCRYPTED_ENCODING,
      });
      expect(utf8(f.payload.metadata?.[KEY_ID_METADATA])).toBe('k1');
    }
    expect(historyBytes(before).includes(secret)).toBe(false);
    // Search attributes and the workflow id name the session and user, never text.
    const description = await handle.describe();
    expect(Object.keys(description.searchAttributes).sort()).toEqual(
      expect.arrayContaining(['AgentType', 'SessionId', 'UserId']),
    );
    expect(JSON.stringify(description.searchAttributes)).not.toContain(secret);
    expect(description.workflowId).not.toContain(secret);
    // The UI's static summary is a payload as well: encrypted, readable with the codec, free of text anyway.
    const decoded = await h.client.workflow.getHandle(sessionWorkflowId(s1)).describe();
    expect(await decoded.staticSummary()).toContain(s1);
    // Without the key the actor's answers are unreadable.
    await expect(handle.query(contextQuery)).rejects.toThrow();

    // Rotation: k2 becomes the newest key, k1 stays for the old payloads; the same sessions carry on.
    const lastK1Event = Math.max(...found.map((f) => f.eventId));
    await h.stopWorker();
    rotated = await withCodec(h, new AesGcmCodec([k2, k1]));
    expect((await rotated.service.loadContext(s1))?.messages).toHaveLength(4);
    await new SessionRecovery(rotated.service).appendTurn(s1, `${secret} q3`, `${secret} a3`);
    const s2 = ids.sessionId();
    await new SessionRecovery(rotated.service).recoverSession(s2, userId);
    await rotated.service.submitTurn(s2, `${secret} q4`, `${secret} a4`);
    expect((await rotated.service.loadContext(s1))?.messages).toHaveLength(6);
    expect((await rotated.service.loadContext(s2))?.messages).toHaveLength(2);

    const after = payloadsOf(await handle.fetchHistory()).filter(isUserData);
    const keyIds = (fs: FoundPayload[]) => [
      ...new Set(fs.map((f) => utf8(f.payload.metadata?.[KEY_ID_METADATA]))),
    ];
    expect(keyIds(after.filter((f) => f.eventId <= lastK1Event))).toEqual(['k1']);
    const newer = after.filter((f) => f.eventId > lastK1Event);
    expect(newer.length).toBeGreaterThan(0);
    expect(keyIds(newer)).toEqual(['k2']);
    const s2History = await raw.workflow.getHandle(sessionWorkflowId(s2)).fetchHistory();
    expect(keyIds(payloadsOf(s2History).filter(isUserData))).toEqual(['k2']);
    expect(historyBytes(s2History).includes(secret)).toBe(false);
    // A process still on the old ring cannot read k2 payloads, and says which key it lacks.
    const stale = new Client({
      connection: rawConnection,
      dataConverter: { payloadCodecs: [new AesGcmCodec([k1])] },
    });
    await expect(stale.workflow.getHandle(sessionWorkflowId(s2)).query(contextQuery)).rejects.toThrow(/"k2"/);
    await eventually(async () => expect((await loadSnapshot(h.pool, s1))?.context.messages).toHaveLength(6));

    // The temporal CLI reads the history decoded through the API's codec routes, given an admin key.
    const app = await buildApp({
      service: rotated.service,
      pool: h.pool,
      client: rotated.client,
      config: apiConfig(),
      logger: silentLogger,
      codec: { codec: new AesGcmCodec([k2, k1]), uiOrigins: [] },
    });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      // JSON output shows payload data as base64: decode every `data` field to look for the text.
      const show = async (extra: string[]): Promise<string> => {
        const { stdout } = await temporalCli([
          ...['workflow', 'show', '-w', sessionWorkflowId(s1), '--output', 'json'],
          ...extra,
        ]);
        const datas = [...stdout.matchAll(/"data":\s*"([A-Za-z0-9+/=]*)"/g)];
        expect(datas.length).toBeGreaterThan(0);
        return datas.map((m) => Buffer.from(m[1], 'base64').toString('utf8')).join('\n');
      };
      expect(await show([])).not.toContain(secret);
      const withCodec = await show([
        '--codec-endpoint',
        `${url}/codec`,
        '--codec-auth',
        `Bearer ${KEYS.admin}`,
      ]);
      expect(withCodec).toContain(`${secret} q1`); // a k1 payload
      expect(withCodec).toContain(`${secret} q3`); // a k2 payload
      await expect(show(['--codec-endpoint', `${url}/codec`])).rejects.toThrow();
    } finally {
      await app.close();
    }
  });
});

describe('canary: no message text in Temporal storage or logs with the codec on', () => {
  test('0 hits with the codec on; hits with it off (positive control)', async () => {
    const stack = testStack();
    if (!stack.temporalCliPath) throw new Error('no temporal CLI resolved by the global setup');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-canary-'));
    // Our own server: the shared one holds other tests' data, and its files must be ours to grep.
    const server = await startDevServer({
      cliPath: stack.temporalCliPath,
      uiPort: null,
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'temporal.log'),
    });
    const apiLog: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        apiLog.push(chunk.toString('utf8'));
        done();
      },
    });
    // No redaction configured: the request logs must carry no text by construction.
    const logger = pino({ level: 'trace' }, sink);
    const canary = {
      on: `canary-on-${randomBytes(8).toString('hex')}`,
      off: `canary-off-${randomBytes(8).toString('hex')}`,
    };
    const harnesses: TemporalHarness[] = [];
    try {
      const runSide = async (side: 'on' | 'off'): Promise<void> => {
        const codec = side === 'on' ? new AesGcmCodec([key(`canary-${side}`)]) : undefined;
        const h = await startTemporalHarness(
          `canary_${side}`,
          { idleTimeoutMs: 60_000 },
          { codec, temporalAddress: server.address },
        );
        harnesses.push(h);
        const app = await buildApp({
          service: h.service,
          pool: h.pool,
          client: h.client,
          config: apiConfig(),
          logger,
          codec: codec && { codec, uiOrigins: [] },
        });
        const ids = uniqueIds();
        const c = canary[side];
        const headers = { authorization: `Bearer ${KEYS.service}`, 'x-user-id': String(ids.userId()) };
        try {
          await Promise.all(
            [0, 1, 2].map(async (n) => {
              const id = ids.sessionId();
              const put = await app.inject({
                method: 'PUT',
                url: `/v1/sessions/${id}`,
                headers,
                payload: { agent_type: 'memo', messages: [{ role: 'system', content: `${c} s${n}` }] },
              });
              expect(put.statusCode).toBe(200);
              for (const ack of ['', '?ack=durable']) {
                const res = await app.inject({
                  method: 'POST',
                  url: `/v1/sessions/${id}/turns${ack}`,
                  headers,
                  payload: { user: `${c} u${n}`, assistant: `${c} a${n}` },
                });
                expect(res.statusCode).toBeLessThan(300);
              }
              const meta = await app.inject({
                method: 'PATCH',
                url: `/v1/sessions/${id}/metadata`,
                headers,
                payload: { note: c },
              });
              expect(meta.statusCode).toBe(200);
              await h.service.submitTurn(id, `${c} lib-u${n}`, `${c} lib-a${n}`);
              await eventually(async () => {
                const res = await app.inject({ method: 'GET', url: `/v1/sessions/${id}`, headers });
                expect(res.json<{ messages: unknown[] }>().messages).toHaveLength(7);
              });
              await eventually(async () =>
                expect((await loadSnapshot(h.pool, id))?.context.messages).toHaveLength(7),
              );
            }),
          );
        } finally {
          await app.close();
        }
      };
      await runSide('on');
      await runSide('off');
    } finally {
      for (const h of harnesses) await h.close();
      await server.stop();
    }

    const files = fs.readdirSync(dir).filter((f) => f.startsWith('temporal.'));
    const count = (haystack: Buffer, needle: string): number => {
      let n = 0;
      for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) n++;
      return n;
    };
    const hits = (needle: string) => ({
      storage: Object.fromEntries(files.map((f) => [f, count(fs.readFileSync(path.join(dir, f)), needle)])),
      apiLog: count(Buffer.from(apiLog.join('')), needle),
      workerLog: count(Buffer.from(workerLogs.join('\n')), needle),
    });
    const on = hits(canary.on);
    const off = hits(canary.off);
    const total = (h: ReturnType<typeof hits>) => Object.values(h.storage).reduce((a, b) => a + b, 0);
    console.log(
      `canary hits (files ${files.join(', ')}; worker logs ${workerLogsCaptured ? `${workerLogs.length} lines` : 'not captured'}, ` +
        `API logs ${apiLog.length} lines): codec on ${JSON.stringify(on)}, codec off ${JSON.stringify(off)}`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
    expect(total(on)).toBe(0);
    expect(on.apiLog + on.workerLog).toBe(0);
    expect(total(off)).toBeGreaterThan(0); // the grep does find text when it is there
    expect(off.apiLog + off.workerLog).toBe(0); // logs carry no text, codec or not
    expect(apiLog.length).toBeGreaterThan(0);
  });
});
