// The payload codec's own cost per turn (issue 17): what one applied turn puts through the codec — the client
// encodes the update's arguments and decodes its result, the worker decodes the arguments, encodes the result and
// the persist activity's snapshot, the activity decodes it — with no codec, the master-key codec and the codec with
// keys per session (the client's asks Postgres for the live key on each write; the worker's caches it), against an
// embedded Postgres. No Temporal: the figure is the codec's share of a turn, to set beside BENCHMARKS.md's latencies.
// Run: npx ts-node --transpile-only bench/codec-cost.ts [--turns 2000] [--sessions 50]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultPayloadConverter, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import { AesGcmCodec, SessionKeyCodec, SessionKeyStore, type KeyRing } from '../src/codec';
import { createDatabase, startEmbeddedPostgres } from '../src/runtime/embedded-postgres';
import { createPool } from '../src/postgres/pool';
import { migrate } from '../src/postgres/migrate';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TURNS = arg('turns', 2000);
const SESSIONS = arg('sessions', 50);
const ROUNDS = arg('rounds', 3);

const ring: KeyRing = [{ id: 'kbench', key: Buffer.alloc(32, 3) }];
const identity: PayloadCodec = { encode: async (p) => p, decode: async (p) => p };

/** A window of 20 messages of ~120 bytes: the update's result and the snapshot carry it. */
function window(i: number) {
  return Array.from({ length: 20 }, (_, k) => ({
    role: k % 2 ? 'assistant' : 'user',
    content: `message ${i}/${k} ${'lorem ipsum dolor sit amet '.repeat(4)}`,
  }));
}

async function turn(client: PayloadCodec, worker: PayloadCodec, sessionId: string, i: number): Promise<void> {
  const wf: SerializationContext = {
    type: 'workflow',
    namespace: 'default',
    workflowId: `session/${sessionId}`,
  };
  const act: SerializationContext = {
    type: 'activity',
    namespace: 'default',
    workflowId: wf.workflowId,
    isLocal: false,
  };
  const args = defaultPayloadConverter.toPayload({
    type: 'appendTurn',
    user: `question ${i}`,
    assistant: `answer ${i}`,
  });
  const sentArgs = await client.encode([args], wf);
  await worker.decode(sentArgs, wf);
  const result = await worker.encode(
    [defaultPayloadConverter.toPayload({ version: i, context: { messages: window(i) } })],
    wf,
  );
  await client.decode(result, wf);
  const snapshot = await worker.encode(
    [defaultPayloadConverter.toPayload({ version: i, messages: window(i) })],
    act,
  );
  await worker.decode(snapshot, act);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-codec-cost-'));
  fs.chmodSync(dir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') });
  const pool = createPool(await createDatabase(pg.url, 'codec_cost'), 4);
  try {
    await migrate(pool);
    const variants: Record<string, () => { client: PayloadCodec; worker: PayloadCodec }> = {
      none: () => ({ client: identity, worker: identity }),
      master: () => ({ client: new AesGcmCodec(ring), worker: new AesGcmCodec(ring) }),
      session: () => ({
        client: new SessionKeyCodec(ring, new SessionKeyStore(ring, { db: pool, encodeCacheMs: 0 })),
        worker: new SessionKeyCodec(ring, new SessionKeyStore(ring, { db: pool })),
      }),
    };
    const results: Record<string, number[]> = { none: [], master: [], session: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, make] of Object.entries(variants)) {
        const { client, worker } = make();
        // Warm: keys exist and are cached as a running actor's would be.
        for (let s = 0; s < SESSIONS; s++) await turn(client, worker, `bench-${r}-${s}`, 0);
        const start = performance.now();
        for (let i = 0; i < TURNS; i++) await turn(client, worker, `bench-${r}-${i % SESSIONS}`, i);
        results[name].push(((performance.now() - start) * 1000) / TURNS);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const line = (name: string) =>
      `${name}: ${median(results[name]).toFixed(1)} µs/turn (rounds ${results[name].map((x) => x.toFixed(1)).join(', ')})`;
    console.log(
      `turns ${TURNS} over ${SESSIONS} sessions, ${ROUNDS} rounds, ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} load`,
    );
    for (const name of Object.keys(results)) console.log(line(name));
    const keys = await pool.query<{ n: string }>('SELECT count(*) AS n FROM session_key');
    console.log(`session keys in Postgres: ${keys.rows[0].n}`);
  } finally {
    await pool.end();
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
