// A TemporalSessionService on the shared test stack: its own database, task queue, worker and client.
// Used by the Temporal contract suite and the actor tests; close() stops everything it started. Under test:cluster
// the workers are `durable-sessions worker` processes (TestStack.workerProcesses) instead of one in this process.
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import type pg from 'pg';
import type { SnapshotObserver } from '../../activities';
import type { ActorConfig } from '../../src/config';
import { insertSnapshotsRaw } from '../../src/postgres/snapshots';
import { installTemporalRuntime } from '../../src/runtime/stack';
import { type WorkerProcess, startWorkerProcess } from '../../src/runtime/worker-processes';
import { createSessionWorker } from '../../src/temporal/worker';
import { TemporalSessionService } from '../../src/temporal/service';
import type { ConversationContext } from '../../src/types';
import type { ContractHarness } from './contract';
import { type TestDatabase, createTestDatabase, testStack, uniqueTaskQueue } from './stack';

const ROOT = path.resolve(__dirname, '..', '..');

export interface TemporalHarness extends ContractHarness {
  service: TemporalSessionService;
  client: Client;
  pool: pg.Pool;
  taskQueue: string;
  /** Stops the worker (actors stop making progress, writes queue up in Temporal). */
  stopWorker(): Promise<void>;
  /** Starts a fresh worker on the same task queue. */
  startWorker(): Promise<void>;
}

export interface HarnessOptions {
  /** Payload codec of the client and the worker (none by default). */
  codec?: PayloadCodec;
  /** The worker's own codec, when it differs from the client's (as the stack's do with keys per session). */
  workerCodec?: PayloadCodec;
  /** Another Temporal frontend than the shared dev server (same namespace). */
  temporalAddress?: string;
  /** Where the worker's activities count snapshot writes and failures. */
  metrics?: SnapshotObserver;
}

export async function startTemporalHarness(
  prefix: string,
  actor: Partial<ActorConfig> = {},
  options: HarnessOptions = {},
): Promise<TemporalHarness> {
  installTemporalRuntime();
  const stack = testStack();
  if (stack.workerProcesses && (options.codec || options.workerCodec || options.metrics))
    throw new Error('worker processes take neither a codec nor an in-process metrics observer');
  const address = options.temporalAddress ?? stack.temporalAddress;
  const dataConverter = options.codec ? { payloadCodecs: [options.codec] } : undefined;
  const db = await createTestDatabase(prefix);
  const taskQueue = uniqueTaskQueue(prefix);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: stack.namespace, dataConverter });
  if (stack.workerProcesses) {
    return processHarness({
      db,
      taskQueue,
      connection,
      client,
      actor,
      count: stack.workerProcesses,
      address,
    });
  }
  const nativeConnection = await NativeConnection.connect({ address });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  const startWorker = async (): Promise<void> => {
    worker = await createSessionWorker({
      connection: nativeConnection,
      namespace: stack.namespace,
      taskQueue,
      pool: db.pool,
      workflowBundlePath: stack.workflowBundlePath ?? undefined,
      dataConverter: options.workerCodec ? { payloadCodecs: [options.workerCodec] } : dataConverter,
      metrics: options.metrics,
    });
    running = worker.run();
  };
  const stopWorker = async (): Promise<void> => {
    if (!worker) return;
    worker.shutdown();
    await running;
    worker = undefined;
  };
  await startWorker();

  const service = new TemporalSessionService({ client, pool: db.pool, taskQueue, actor });
  return {
    service,
    client,
    pool: db.pool,
    taskQueue,
    stopWorker,
    startWorker,
    seed: async (ctx: ConversationContext) => {
      await insertSnapshotsRaw(db.pool, [ctx]);
    },
    close: async () => {
      await stopWorker();
      await nativeConnection.close();
      await connection.close();
      await db.drop();
    },
  };
}

/** The same harness with its workers as `durable-sessions worker` processes, as a deployment runs them. */
async function processHarness(o: {
  db: TestDatabase;
  taskQueue: string;
  connection: Connection;
  client: Client;
  actor: Partial<ActorConfig>;
  count: number;
  address: string;
}): Promise<TemporalHarness> {
  const stack = testStack();
  let workers: WorkerProcess[] = [];
  const stopWorker = async (): Promise<void> => {
    await Promise.all(workers.map((w) => w.stop()));
    workers = [];
  };
  const startWorker = async (): Promise<void> => {
    const started = await Promise.allSettled(
      Array.from({ length: o.count }, (_, i) =>
        startWorkerProcess({
          rootDir: ROOT,
          env: {
            TEMPORAL_ADDRESS: o.address,
            TEMPORAL_NAMESPACE: stack.namespace,
            TEMPORAL_TASK_QUEUE: o.taskQueue,
            DATABASE_URL: o.db.url,
            DS_WORKFLOW_BUNDLE: stack.workflowBundlePath ?? undefined,
            DS_CODEC_DISABLED: '1',
            DS_WORKER_METRICS_PORT: '0',
          },
          logFile: path.join(stack.tempDir || os.tmpdir(), 'workers', `${o.taskQueue}-${i + 1}.log`),
        }),
      ),
    );
    workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await stopWorker();
      throw failed.reason;
    }
  };
  try {
    await startWorker();
  } catch (err) {
    await o.connection.close();
    await o.db.drop();
    throw err;
  }
  const service = new TemporalSessionService({
    client: o.client,
    pool: o.db.pool,
    taskQueue: o.taskQueue,
    actor: o.actor,
  });
  return {
    service,
    client: o.client,
    pool: o.db.pool,
    taskQueue: o.taskQueue,
    stopWorker,
    startWorker,
    seed: async (ctx: ConversationContext) => {
      await insertSnapshotsRaw(o.db.pool, [ctx]);
    },
    close: async () => {
      await stopWorker();
      await o.connection.close();
      await o.db.drop();
    },
  };
}
