// Builds the Temporal worker that hosts session actors and the cleanup workflow: the bundled workflows plus the
// Postgres activities and the cleanup activities. Used by the runtime (`npm start`, `durable-sessions worker`) and by the tests.
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import type { Pool } from 'pg';
import { type SnapshotObserver, createActivities } from '../../activities';
import { SessionKeyCodec } from '../codec/session-key-codec';
import { HeldRuns } from './held-runs';

export interface SessionWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  pool: Pool;
  /**
   * The client the cleanup activities expire actors and erase histories with. Default: a client on `connection`
   * (a NativeConnection serves clients too), so callers that have none need not make one.
   */
  client?: Client;
  /** The payload codec (encryption, see src/codec); the default client gets it too. */
  dataConverter?: DataConverter;
  /** Counts snapshot writes and their lag (the API's /metrics). */
  metrics?: SnapshotObserver;
  /** Records the runs this worker holds, to send them to other workers when it stops (HeldRuns.drain). */
  heldRuns?: HeldRuns;
  /** A prebuilt bundle (tests build one per run); otherwise the workflows are bundled at start. */
  workflowBundlePath?: string;
  /** Extra worker tuning (cache size, concurrency) for benchmarks and operators. */
  tuning?: Partial<
    Pick<
      WorkerOptions,
      'maxCachedWorkflows' | 'maxConcurrentWorkflowTaskExecutions' | 'maxConcurrentLocalActivityExecutions'
    >
  >;
}

export function workflowsPath(): string {
  return require.resolve('../../workflows');
}

export async function createSessionWorker(options: SessionWorkerOptions): Promise<Worker> {
  const client =
    options.client ??
    new Client({
      connection: options.connection,
      namespace: options.namespace,
      dataConverter: options.dataConverter,
    });
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    dataConverter: options.dataConverter,
    ...(options.workflowBundlePath
      ? { workflowBundle: { codePath: options.workflowBundlePath } }
      : { workflowsPath: workflowsPath() }),
    activities: createActivities({
      pool: options.pool,
      client,
      observer: options.metrics,
      shredded: shreds(options.dataConverter),
    }),
    sinks: (options.heldRuns ?? new HeldRuns()).sinks(),
    ...options.tuning,
  });
}

/**
 * Whether payloads are sealed with a key per session (DS_CODEC_SESSION_KEYS): a deleted session's runs are then
 * unreadable, and a cleanup leaves them to the namespace retention instead of erasing them one by one.
 */
function shreds(dataConverter: DataConverter | undefined): boolean {
  return (dataConverter?.payloadCodecs ?? []).some((c) => c instanceof SessionKeyCodec);
}
