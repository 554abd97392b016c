// The session worker as its own process, so the reliability suite can SIGKILL and restart it.
// Started by support/rig.ts with TEMPORAL_ADDRESS, TASK_QUEUE, DATABASE_URL and WORKFLOW_BUNDLE in the environment,
// and DS_CODEC_KEYS (+ DS_CODEC_SESSION_KEYS) when the rig encrypts.
import { NativeConnection } from '@temporalio/worker';
import { attachCodecPool, createCodec, encryptingDataConverter, parseKeyRing } from '../../src/codec';
import { createPool } from '../../src/postgres/pool';
import { installTemporalRuntime } from '../../src/runtime/stack';
import { createSessionWorker } from '../../src/temporal/worker';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function connect(address: string): Promise<NativeConnection> {
  // The dev server may be down (the server-crash test restarts it): keep trying.
  for (;;) {
    try {
      return await NativeConnection.connect({ address });
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function main(): Promise<void> {
  installTemporalRuntime();
  const pool = createPool(env('DATABASE_URL'), 10);
  const connection = await connect(env('TEMPORAL_ADDRESS'));
  const ring = parseKeyRing(process.env.DS_CODEC_KEYS ?? '');
  const codec = ring ? createCodec(ring, process.env.DS_CODEC_SESSION_KEYS === '1', 'worker') : undefined;
  attachCodecPool(codec, pool);
  const worker = await createSessionWorker({
    connection,
    namespace: 'default',
    taskQueue: env('TASK_QUEUE'),
    pool,
    workflowBundlePath: env('WORKFLOW_BUNDLE'),
    dataConverter: codec ? encryptingDataConverter(codec) : undefined,
  });
  process.once('SIGTERM', () => worker.shutdown());
  // Never outlive the test process that started us.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
  }, 1_000).unref();
  const running = worker.run();
  process.stdout.write('WORKER READY\n');
  await running;
  await connection.close();
  await pool.end();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
