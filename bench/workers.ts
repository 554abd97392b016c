// Forks, configures and stops the benchmark's worker process (bench/worker-process.ts) and reads its memory.
// Used by bench/main.ts for the main stack, each SQLite-settings server and the memory workload.
import { ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { FromWorker, ToWorker, WorkerProcessConfig } from './worker-process';

export interface WorkerHandle {
  pid: number;
  memory(): Promise<{ rss: number; heapUsed: number; external: number }>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Where worker processes write their output (the SDK's warnings); set by bench/main.ts. */
export const workerLog = { file: '' };

/** Forks and configures a worker process; resolves once its workers run. */
export function startWorkerProcess(config: WorkerProcessConfig, timeoutMs = 120_000): Promise<WorkerHandle> {
  return forkWorkerProcess().configure(config, timeoutMs);
}

export interface ForkedWorker {
  /** Sends the config; resolves once the workers run. */
  configure(config: WorkerProcessConfig, timeoutMs?: number): Promise<WorkerHandle>;
  /** Ends the process whatever state it is in. */
  stop(): Promise<void>;
}

/**
 * Forks a worker process now, before its server exists: loading the SDK and the product's modules under ts-node
 * takes seconds, which then overlap with the dev server's start-up.
 */
export function forkWorkerProcess(): ForkedWorker {
  const out = workerLog.file ? fs.openSync(workerLog.file, 'a') : 'inherit';
  const child = fork(path.join(__dirname, 'worker-process.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only', '--expose-gc'],
    stdio: ['ignore', out, out, 'ipc'],
  });
  if (typeof out === 'number') fs.closeSync(out);
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
  // The child listens for its config once its modules are loaded; a message sent before that would be lost.
  const loaded = new Promise<void>((resolve) => {
    const onMessage = (m: FromWorker) => {
      if (m.type !== 'loaded') return;
      child.off('message', onMessage);
      resolve();
    };
    child.on('message', onMessage);
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' } satisfies ToWorker);
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    })());
  return {
    stop,
    configure: async (config, timeoutMs = 120_000) => {
      try {
        return await configureWorker(child, loaded, exited, config, timeoutMs, stop);
      } catch (err) {
        await stop();
        throw err;
      }
    },
  };
}

async function configureWorker(
  child: ChildProcess,
  loaded: Promise<void>,
  exited: Promise<void>,
  config: WorkerProcessConfig,
  timeoutMs: number,
  stop: () => Promise<void>,
): Promise<WorkerHandle> {
  // The whole start-up (loading included) counts against timeoutMs.
  const pending = new Map<number, (m: Extract<FromWorker, { type: 'memory' }>) => void>();
  let failure: string | undefined;
  child.on('message', (m: FromWorker) => {
    if (m.type === 'memory') pending.get(m.id)?.(m);
    if (m.type === 'error') failure = m.message;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker process not ready in time')), timeoutMs);
    child.on('message', (m: FromWorker) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve();
      }
      if (m.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`worker process failed: ${m.message}`));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`worker process exited during start-up${failure ? `: ${failure}` : ''}`));
    });
    void loaded.then(() => child.send({ type: 'config', config } satisfies ToWorker));
  });
  let nextId = 0;
  return {
    pid: child.pid ?? -1,
    memory: () =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, (m) => {
          pending.delete(id);
          resolve({ rss: m.rss, heapUsed: m.heapUsed, external: m.external });
        });
        child.send({ type: 'memory', id } satisfies ToWorker);
      }),
    stop,
  };
}
