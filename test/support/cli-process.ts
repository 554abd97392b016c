// Runs `durable-sessions <command>` in its own process, as users and operators do, and follows what it prints.
// Used by the tests of long-running commands (api, worker); stop() ends it with Ctrl-C's signal.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface CliProcess {
  readonly child: ChildProcess;
  /** Every line printed so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[];
  /** The lines that are JSON objects (pino's log lines). */
  logs(): Record<string, unknown>[];
  /** Resolves with the first line (already printed or still to come) that `match` accepts. */
  waitFor(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGINT, then SIGKILL when it has not exited within 30 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `src/cli/main.ts <args>` through ts-node in the project root, with `env` over this process's. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', 'src/cli/main.ts', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const onLine = (line: string): void => {
    lines.push(line);
    if (process.env.DS_TEST_VERBOSE) process.stderr.write(`[${args[0]}] ${line}\n`);
    for (const w of [...waiters])
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      parts.forEach(onLine);
    });
  }
  let stopping: Promise<number | null> | undefined;
  return {
    child,
    lines,
    logs: () =>
      lines.flatMap((l) => {
        if (!l.startsWith('{')) return [];
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    waitFor: (match, timeoutMs = 120_000) => {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no such line within ${timeoutMs} ms; output:\n${lines.slice(-30).join('\n')}`));
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.push(waiter);
        void exited.then(() => {
          if (!waiters.includes(waiter)) return;
          waiters.splice(waiters.indexOf(waiter), 1);
          clearTimeout(timer);
          reject(new Error(`the process exited first; output:\n${lines.slice(-30).join('\n')}`));
        });
      });
    },
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGINT');
          const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
          const code = await exited;
          clearTimeout(timer);
          return code;
        }
        return exited;
      })()),
  };
}
