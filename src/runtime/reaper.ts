// Ends the processes this one started when it dies without stopping them (SIGKILL, a crash): a small watcher
// process holds their pids and signals them once our end of its stdin closes. Used by the cluster runtime.
import { type ChildProcess, spawn } from 'node:child_process';

// Plain JavaScript run with `node -e`: the watcher must start without ts-node and outlive us. It ignores the
// terminal's Ctrl-C (which reaches the whole process group) so that a parent still stopping its children is watched.
const WATCHER = `
const tracked = new Map();
let buffer = '';
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  for (let i = buffer.indexOf('\\n'); i >= 0; i = buffer.indexOf('\\n')) {
    const [op, pid, signal] = buffer.slice(0, i).split(' ');
    buffer = buffer.slice(i + 1);
    if (op === '+') tracked.set(Number(pid), signal);
    else if (op === '-') tracked.delete(Number(pid));
  }
});
process.stdin.on('end', () => {
  for (const [pid, signal] of tracked) {
    try { process.kill(pid, signal); } catch {}
  }
  process.exit(0);
});
`;

let watcher: ChildProcess | undefined;

function send(line: string): void {
  if (!watcher) {
    watcher = spawn(process.execPath, ['-e', WATCHER], { stdio: ['pipe', 'ignore', 'ignore'] });
    watcher.on('error', () => undefined);
    watcher.stdin?.on('error', () => undefined);
    // Neither the watcher nor its pipe keeps this process alive; at a normal exit nothing is tracked any more.
    watcher.unref();
    (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  }
  watcher.stdin?.write(`${line}\n`);
}

/**
 * Signals `child` with `signal` should this process die while the child still runs. Call it right after spawning;
 * the child is forgotten when it exits.
 */
export function reapWithParent(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  child.once('exit', reapPidWithParent(child.pid, signal));
}

/** The same for a process known by its pid; call the returned function once it has exited. */
export function reapPidWithParent(pid: number, signal: NodeJS.Signals): () => void {
  send(`+ ${pid} ${signal}`);
  return () => send(`- ${pid}`);
}
