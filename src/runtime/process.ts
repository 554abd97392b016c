// Child-process helpers shared by the embedded runtime: run a command, keep a log tail, stop a child.
// Used by src/runtime/temporal-cli.ts, dev-server.ts and embedded-postgres.ts (not part of the public API).
import { ChildProcess, execFile } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a program (no shell) and resolves with its output; rejects with stderr in the message on failure. */
export function run(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        env: opts.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 0,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr || stdout || '').trim().split('\n').slice(-20).join('\n');
          reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}${detail ? `\n${detail}` : ''}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/** Keeps the last `max` characters written to it (the log tail quoted in start-up errors). */
export class LogTail {
  private text = '';
  constructor(private readonly max = 16 * 1024) {}
  push(chunk: string | Buffer): void {
    this.text += chunk.toString();
    if (this.text.length > this.max * 2) this.text = this.text.slice(-this.max);
  }
  toString(): string {
    return this.text.slice(-this.max);
  }
}

/**
 * Copies the child's stdout and stderr into `log` (ended once the child's streams close) and into a tail of the last
 * `max` characters, returned for the start-up errors that quote it.
 */
export function teeOutput(child: ChildProcess, log: NodeJS.WritableStream, max?: number): LogTail {
  const tail = new LogTail(max);
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (chunk: Buffer) => {
      tail.push(chunk);
      log.write(chunk);
    });
  child.once('close', () => log.end());
  return tail;
}

/** True while the child has neither exited nor been killed by a signal. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Sends `signal`, waits up to `timeoutMs` for the child to exit, then SIGKILLs it and waits again.
 * Resolves once the process is gone.
 */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  timeoutMs: number,
): Promise<void> {
  if (!isRunning(child)) return;
  const gone = exited(child);
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    gone.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  if (timer) clearTimeout(timer);
  if (timedOut && isRunning(child)) {
    child.kill('SIGKILL');
    await gone;
  }
}

/**
 * Signals the child when this Node process exits, so an embedded server never outlives its parent.
 * Returns a function that removes the hook (call it after a clean stop).
 */
export function killOnParentExit(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): () => void {
  const onExit = (): void => {
    if (isRunning(child)) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', onExit);
  return () => process.removeListener('exit', onExit);
}

/** True while a process with this pid exists (EPERM: it does, and belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends `signal` and resolves once the child has exited (at once if it already has). */
export async function signalAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (!isRunning(child)) return;
  const gone = exited(child);
  child.kill(signal);
  await gone;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
