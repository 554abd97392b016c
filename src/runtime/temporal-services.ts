// One Temporal server service (history, matching, frontend or worker) as its own `temporal-server start` process:
// started, awaited until it listens, SIGKILLed or stopped, and started again on the same ports. Used by cluster.ts.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { isRunning, signalAndWait, sleep, stopChild, teeOutput } from './process';
import { reapWithParent } from './reaper';

export type TemporalServiceName = 'history' | 'matching' | 'frontend' | 'worker';

/**
 * The order services start in. History first, alone: on an empty database every service initialises the cluster
 * metadata, and services started together race to (one fails). Then matching, which history hands tasks to; then
 * the frontend, which clients reach; last Temporal's own worker service, which needs the frontend.
 */
export const SERVICE_START_ORDER: readonly TemporalServiceName[] = [
  'history',
  'matching',
  'frontend',
  'worker',
];

export interface TemporalServiceOptions {
  service: TemporalServiceName;
  /** The `temporal-server` binary. */
  binary: string;
  /** The whole environment of the process (the server's config template reads it). */
  env: NodeJS.ProcessEnv;
  /** Where its gRPC port listens once it is up. */
  host: string;
  grpcPort: number;
  /** Its output, appended. */
  logFile: string;
  /** More to wait for after the port listens (e.g. the cluster metadata history writes). */
  ready?: () => Promise<boolean>;
  startTimeoutMs?: number;
  /** Called when the process exits while it was meant to run (not after kill() or stop()). */
  onUnexpectedExit?: (
    service: TemporalServiceName,
    code: number | null,
    signal: NodeJS.Signals | null,
  ) => void;
}

export class TemporalService {
  private child?: ChildProcess;
  private wanted = false;

  constructor(readonly o: TemporalServiceOptions) {}

  get name(): TemporalServiceName {
    return this.o.service;
  }

  get pid(): number | undefined {
    return this.child && isRunning(this.child) ? this.child.pid : undefined;
  }

  /** Starts the process and resolves once its gRPC port accepts connections (and `ready` holds). */
  async start(): Promise<void> {
    if (this.child && isRunning(this.child)) return;
    fs.mkdirSync(path.dirname(this.o.logFile), { recursive: true });
    const log = fs.createWriteStream(this.o.logFile, { flags: 'a' });
    log.write(`\n--- ${new Date().toISOString()} temporal-server start (${this.o.service})\n`);
    // `temporal-server start` with TEMPORAL_SERVICES, exactly what the temporalio/server image runs.
    const child = spawn(this.o.binary, ['start'], {
      env: { ...this.o.env, TEMPORAL_SERVICES: this.o.service },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reapWithParent(child);
    this.child = child;
    this.wanted = true;
    let spawnFailure: Error | undefined;
    child.once('error', (err) => (spawnFailure = err));
    const tail = teeOutput(child, log, 8 * 1024);
    child.once('exit', (code, signal) => {
      if (this.child === child && this.wanted) {
        this.wanted = false;
        this.o.onUnexpectedExit?.(this.o.service, code, signal);
      }
    });

    const timeoutMs = this.o.startTimeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnFailure) throw new Error(`could not run ${this.o.binary}: ${spawnFailure.message}`);
      if (!isRunning(child))
        throw new Error(
          `temporal ${this.o.service} exited during start-up (code ${child.exitCode}, signal ${child.signalCode}); ` +
            `log ${this.o.logFile}:\n${tail}`,
        );
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `temporal ${this.o.service} not ready after ${timeoutMs} ms; log ${this.o.logFile}:\n${tail}`,
        );
      }
      if ((await listening(this.o.host, this.o.grpcPort)) && (!this.o.ready || (await this.o.ready())))
        return;
      await sleep(100);
    }
  }

  /** Sends `signal` (SIGKILL by default: no shutdown of any kind) and resolves once the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.wanted = false;
    if (this.child) await signalAndWait(this.child, signal);
  }

  /** SIGTERM (the server's graceful stop), SIGKILL after 20 s; idempotent. */
  async stop(): Promise<void> {
    this.wanted = false;
    if (this.child) await stopChild(this.child, 'SIGTERM', 20_000);
  }
}

/** Whether a TCP connection to host:port is accepted right now. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
