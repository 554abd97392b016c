// The benchmark's worker process: the session actor worker (every actor config: it travels in the workflow
// input) and the no-op floor worker, away from the client load.
// Forked by bench/workers.ts; it receives its config, answers memory readings and stops on request over IPC.
import { NativeConnection, Worker } from '@temporalio/worker';
import { attachCodecPool, createCodec, encryptingDataConverter } from '../src/codec/resolve';
import { createPool } from '../src/postgres/pool';
import { installTemporalRuntime } from '../src/runtime/stack';
import { createSessionWorker } from '../src/temporal/worker';
import type { FloorActivities } from './workflows/floor';

export interface WorkerProcessConfig {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  /** The product's workflows, prebuilt (`workflows/index.ts`). */
  actorBundle: string;
  actorTaskQueue: string;
  /** The no-op floor workflow (`bench/workflows/index.ts`); omitted for actor-only workers. */
  floorBundle?: string;
  floorTaskQueue?: string;
  maxCachedWorkflows?: number;
  /** The actors' payload codec, as the product's (`--codec`): the master key alone, or keys per session. */
  codec?: BenchCodec;
}

/** A codec the benchmark runs the actors with: one random master key (base64), made for the run. */
export interface BenchCodec {
  kind: 'master' | 'session';
  keyId: string;
  key: string;
}

export type ToWorker = { type: 'config'; config: WorkerProcessConfig } | { type: 'memory'; id: number } | { type: 'stop' };
export type FromWorker =
  | { type: 'loaded' }
  | { type: 'ready' }
  | { type: 'memory'; id: number; rss: number; heapUsed: number; external: number }
  | { type: 'error'; message: string };

function send(message: FromWorker): void {
  process.send?.(message);
}

/** The process is forked early (loading the SDK and the product's modules takes seconds); the config follows. */
function configured(): Promise<WorkerProcessConfig> {
  return new Promise((resolve) => {
    const orphaned = (): never => process.exit(0);
    const early = (message: ToWorker): void => {
      if (message.type === 'config') {
        process.off('message', early);
        process.off('disconnect', orphaned);
        resolve(message.config);
      }
      if (message.type === 'stop') process.exit(0);
    };
    process.on('message', early);
    process.on('disconnect', orphaned);
    send({ type: 'loaded' });
  });
}

/** The cold floor's activity: one parameterised read of a session's row, on the worker's pool. */
function floorActivities(pool: ReturnType<typeof createPool>): FloorActivities {
  return {
    async floorLoad(sessionId) {
      const { rowCount } = await pool.query('SELECT context_data FROM conversation_context WHERE session_id = $1::text', [sessionId]);
      return rowCount ?? 0;
    },
  };
}

async function main(): Promise<void> {
  const config = await configured();
  installTemporalRuntime();
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const pool = createPool(config.databaseUrl, 20, { applicationName: 'bench-worker' });
  const tuning = config.maxCachedWorkflows ? { maxCachedWorkflows: config.maxCachedWorkflows } : {};
  const codec = config.codec
    ? createCodec([{ id: config.codec.keyId, key: Buffer.from(config.codec.key, 'base64') }], config.codec.kind === 'session', 'worker')
    : undefined;
  attachCodecPool(codec, pool);
  const workers: Worker[] = [
    await createSessionWorker({
      connection,
      namespace: config.namespace,
      taskQueue: config.actorTaskQueue,
      pool,
      workflowBundlePath: config.actorBundle,
      tuning,
      ...(codec ? { dataConverter: encryptingDataConverter(codec) } : {}),
    }),
  ];
  if (config.floorBundle && config.floorTaskQueue) {
    workers.push(
      await Worker.create({
        connection,
        namespace: config.namespace,
        taskQueue: config.floorTaskQueue,
        workflowBundle: { codePath: config.floorBundle },
        activities: floorActivities(pool),
        ...tuning,
      }),
    );
  }
  const running = Promise.all(workers.map((w) => w.run()));
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running.catch(() => undefined);
    await pool.end().catch(() => undefined);
    await connection.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('message', (message: ToWorker) => {
    if (message.type === 'stop') void stop();
    if (message.type === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const m = process.memoryUsage();
      send({ type: 'memory', id: message.id, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
    }
  });
  // Never outlive the benchmark.
  process.on('disconnect', () => void stop());
  running.catch((err: unknown) => {
    send({ type: 'error', message: String((err as Error)?.stack ?? err) });
    process.exit(1);
  });
  send({ type: 'ready' });
}

main().catch((err: unknown) => {
  send({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
