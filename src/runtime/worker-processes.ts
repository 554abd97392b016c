// `durable-sessions worker` as a child process: started and awaited until it polls, SIGKILLed, or stopped with
// SIGTERM as an orchestrator stops it. Used by `cluster start` (N workers), test:cluster and the benchmark.
import fs from 'node:fs';
import path from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { isRunning, signalAndWait, stopChild, teeOutput } from './process';
import { reapWithParent } from './reaper';

export interface WorkerProcessOptions {
  /** The project root (scripts/cli.js is used from a checkout). */
  rootDir: string;
  /** Added to this process's environment: TEMPORAL_ADDRESS, DATABASE_URL, TEMPORAL_TASK_QUEUE, codec, bundle… */
  env: NodeJS.ProcessEnv;
  /** Its output (pino lines), appended. */
  logFile: string;
  /** Default 120 s. */
  startTimeoutMs?: number;
  /** How long stop() lets it drain before SIGKILL. Default 30 s (Kubernetes' default grace period). */
  stopTimeoutMs?: number;
  /** Called when it exits while it was meant to run (not after kill() or stop()). */
  onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface WorkerProcess {
  readonly pid: number;
  readonly running: boolean;
  /** SIGKILL: its workflow cache and whatever it was running die with it. Resolves once it is gone. */
  kill(): Promise<void>;
  /**
   * SIGTERM (the worker drains and exits), SIGKILL after `stopTimeoutMs`; idempotent. Resolves with how it ended:
   * code 0 and no signal when it drained in time.
   */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The command line that runs the CLI the way this code is loaded (compiled, cached JavaScript, or TypeScript). */
export function cliCommand(rootDir: string): string[] {
  const compiled = path.resolve(__dirname, '..', 'cli', 'main.js');
  if (fs.existsSync(compiled)) return [compiled];
  const launcher = path.join(rootDir, 'scripts', 'cli.js');
  if (fs.existsSync(launcher)) return [launcher];
  return ['-r', 'ts-node/register/transpile-only', path.resolve(__dirname, '..', 'cli', 'main.ts')];
}

/** Starts `durable-sessions worker` and resolves once it logs that it runs. */
export async function startWorkerProcess(o: WorkerProcessOptions): Promise<WorkerProcess> {
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true });
  const log = fs.createWriteStream(o.logFile, { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, [...cliCommand(o.rootDir), 'worker'], {
    cwd: o.rootDir,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  reapWithParent(child);
  let wanted = true;
  const tail = teeOutput(child, log, 8 * 1024);
  const ready = new Promise<void>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text = (text + chunk.toString()).slice(-4096);
      if (text.includes('"msg":"worker running"')) resolve();
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`worker exited during start-up (${code ?? signal}); log ${o.logFile}:\n${tail}`)),
    );
  });
  child.once('exit', (code, signal) => {
    if (wanted) {
      wanted = false;
      o.onUnexpectedExit?.(code, signal);
    }
  });
  const handle: WorkerProcess = {
    pid: child.pid ?? -1,
    get running() {
      return isRunning(child);
    },
    kill: async () => {
      wanted = false;
      await signalAndWait(child, 'SIGKILL');
    },
    stop: async () => {
      wanted = false;
      await stopChild(child, 'SIGTERM', o.stopTimeoutMs ?? 30_000);
      return { code: child.exitCode, signal: child.signalCode };
    },
  };
  const timeoutMs = o.startTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ready,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`worker not running after ${timeoutMs} ms; log ${o.logFile}:\n${tail}`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    await handle.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return handle;
}
