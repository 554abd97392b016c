// Forks and stops the benchmark's worker process (bench/worker-process.ts) and reads its memory.
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

export async function startWorkerProcess(config: WorkerProcessConfig, timeoutMs = 120_000): Promise<WorkerHandle> {
  const out = workerLog.file ? fs.openSync(workerLog.file, 'a') : 'inherit';
  const child = fork(path.join(__dirname, 'worker-process.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only', '--expose-gc'],
    env: { ...process.env, BENCH_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', out, out, 'ipc'],
  });
  if (typeof out === 'number') fs.closeSync(out);
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
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
  });
  let nextId = 0;
  let stopping: Promise<void> | undefined;
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
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null) return;
        child.send({ type: 'stop' } satisfies ToWorker);
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      })()),
  };
}
