// A TemporalSessionService on the shared test stack: its own database, task queue, worker and client.
// Used by the Temporal contract suite and the actor tests; close() stops everything it started.
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import type pg from 'pg';
import type { SnapshotObserver } from '../../activities';
import type { ActorConfig } from '../../src/config';
import { insertSnapshotsRaw } from '../../src/postgres/snapshots';
import { installTemporalRuntime } from '../../src/runtime/stack';
import { createSessionWorker } from '../../src/temporal/worker';
import { TemporalSessionService } from '../../src/temporal/service';
import type { ConversationContext } from '../../src/types';
import type { ContractHarness } from './contract';
import { createTestDatabase, testStack, uniqueTaskQueue } from './stack';

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
  const address = options.temporalAddress ?? stack.temporalAddress;
  const dataConverter = options.codec ? { payloadCodecs: [options.codec] } : undefined;
  const db = await createTestDatabase(prefix);
  const taskQueue = uniqueTaskQueue(prefix);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: stack.namespace, dataConverter });
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
      dataConverter,
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
