// Starts and stops the embedded Temporal dev server (`temporal server start-dev`, SQLite in WAL mode).
// Used by the product's embedded runtime (when no TEMPORAL_ADDRESS is given) and by the jest global setup.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { assertPortFree, freePort } from './ports';
import { LogTail, isRunning, killOnParentExit, sleep, stopChild } from './process';

/** Search attributes the session actors are indexed by; registered at every start (idempotent). */
export const SEARCH_ATTRIBUTES: Readonly<Record<string, 'Keyword' | 'Int'>> = {
  SessionId: 'Keyword',
  UserId: 'Int',
  AgentType: 'Keyword',
};

/** Signals (durable turns) one actor run accepts; see `history.maximumSignalsPerExecution` below. */
export const SIGNALS_PER_RUN = 2000;

/**
 * Dynamic config the product relies on (updates, eager start, erasure, signal bound). deploy/temporal/dynamicconfig.yaml
 * holds the same keys and values for a Temporal cluster (test-cluster/deploy.test.ts compares them). Update-with-start
 * needs no key: server 1.32 no longer knows `frontend.enableExecuteMultiOperation` (it is always on).
 */
export const DYNAMIC_CONFIG: Readonly<Record<string, boolean | number>> = {
  'frontend.enableUpdateWorkflowExecution': true,
  'system.enableEagerWorkflowStart': true,
  // Erasure: by default the server defers deleting a just-closed run until its close tasks are acknowledged,
  // retrying with a backoff that measured 10-20 s here. The session actor has no parent or children whose
  // close tasks matter, and eraseWorkflowHistories lists again until the run is gone, so delete at once.
  'history.transferProcessorEnsureCloseBeforeDelete': false,
  'history.visibilityProcessorEnsureCloseBeforeDelete': false,
  // Updates admitted at once per workflow (server default 10). Past it the server answers ResourceExhausted and
  // clients back off: 50 concurrent writers on one session took 4.0 s instead of 0.24 s. A session's writes are
  // applied one at a time either way; this only lets them queue inside Temporal instead of in client retries.
  'history.maxInFlightUpdates': 200,
  // Durable turns are signals, and Temporal acknowledges a signal whether or not a worker is there to run it: a
  // worker that was away (crashed, or its task held by a Postgres outage) gets every turn received meanwhile in
  // one activation. The SDK spends ~0.6 ms of workflow-thread time per signal (measured), so the server default of
  // 10,000 signals per run could exceed the worker's 5 s deadlock limit, which aborts the worker process
  // (RELIABILITY.md, bug 3). 2,000 - Temporal's limit for updates per run too - bounds that activation to ~1.2 s;
  // past it a durable turn is refused as too_many_in_flight (429) until the actor continues-as-new.
  'history.maximumSignalsPerExecution': SIGNALS_PER_RUN,
  // The actor's Postgres activities run on the worker that scheduled them, without a matching round trip.
  'system.enableActivityEagerExecution': true,
};

export interface DevServerOptions {
  cliPath: string;
  /** Interface the frontend (and UI) binds. Default 127.0.0.1. */
  ip?: string;
  /** Frontend gRPC port; 0 or undefined picks a free port. */
  port?: number;
  /** Web UI port; null = headless, 0 or undefined = a free port. */
  uiPort?: number | null;
  /** SQLite file; undefined = in-memory (lost when the process exits). */
  dbFile?: string;
  /** SQLite `synchronous` pragma (with journal_mode WAL). Default full. */
  sqliteSynchronous?: 'full' | 'normal';
  /** False leaves SQLite's default journal and pragmas (the benchmark's baseline). Default true: WAL. */
  sqliteWal?: boolean;
  /** Namespace to create besides `default`. */
  namespace?: string;
  /** Sets the workflow execution retention of `namespace` (days). */
  namespaceRetentionDays?: number;
  codecEndpoint?: string;
  /** Appends the server's stdout/stderr to this file. */
  logFile?: string;
  /** Readiness deadline. Default 60 s. */
  startTimeoutMs?: number;
  /** Extra `--dynamic-config-value KEY=JSON` entries. */
  extraDynamicConfig?: Readonly<Record<string, string | number | boolean>>;
}

export interface DevServer {
  /** host:port of the gRPC frontend. */
  address: string;
  /** http://host:port of the Web UI, unless headless. */
  uiUrl?: string;
  namespace: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 10 s; idempotent. */
  stop(): Promise<void>;
}

/** Builds the `temporal server start-dev` argument list (exported for inspection in tests and logs). */
export function devServerArgs(o: {
  ip: string;
  port: number;
  uiPort: number | null;
  dbFile?: string;
  sqliteSynchronous: 'full' | 'normal';
  sqliteWal?: boolean;
  namespace: string;
  codecEndpoint?: string;
  extraDynamicConfig?: Readonly<Record<string, string | number | boolean>>;
}): string[] {
  const args = ['server', 'start-dev', '--ip', o.ip, '--port', String(o.port)];
  if (o.uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(o.uiPort), '--ui-disable-news-fetch');
  if (o.dbFile) args.push('--db-filename', o.dbFile);
  // Accepted for the in-memory store as well; WAL is what makes the SQLite store fast.
  if (o.sqliteWal !== false)
    args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', `synchronous=${o.sqliteSynchronous}`);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  if (o.namespace !== 'default') args.push('--namespace', o.namespace);
  if (o.codecEndpoint && o.uiPort !== null) args.push('--ui-codec-endpoint', o.codecEndpoint);
  const dyn: Record<string, string | number | boolean> = {
    ...DYNAMIC_CONFIG,
    ...(o.extraDynamicConfig ?? {}),
  };
  for (const [key, value] of Object.entries(dyn))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  args.push('--log-level', 'warn');
  return args;
}

/**
 * Starts the dev server. A port picked here is free when picked but can be taken before the server binds it (the
 * server's own internal listeners take ephemeral ports too): that start-up failure is retried with fresh ports.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const portsPicked = !opts.port && !opts.uiPort;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(opts);
    } catch (err) {
      const raced = err instanceof Error && /address already in use/.test(err.message);
      if (!portsPicked || !raced || attempt >= 3) throw err;
    }
  }
}

async function startDevServerOnce(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ? opts.port : await freePort(ip);
  const uiPort = opts.uiPort === null ? null : opts.uiPort ? opts.uiPort : await freePort(ip);
  const namespace = opts.namespace ?? 'default';
  if (opts.port) await assertPortFree(port, ip, 'temporal dev server');
  if (opts.uiPort) await assertPortFree(opts.uiPort, ip, 'temporal dev server UI');
  if (opts.dbFile) fs.mkdirSync(path.dirname(path.resolve(opts.dbFile)), { recursive: true });
  const args = devServerArgs({
    ip,
    port,
    uiPort,
    dbFile: opts.dbFile ? path.resolve(opts.dbFile) : undefined,
    sqliteSynchronous: opts.sqliteSynchronous ?? 'full',
    sqliteWal: opts.sqliteWal,
    namespace,
    codecEndpoint: opts.codecEndpoint,
    extraDynamicConfig: opts.extraDynamicConfig,
  });

  const tail = new LogTail();
  let logStream: fs.WriteStream | undefined;
  if (opts.logFile) {
    fs.mkdirSync(path.dirname(path.resolve(opts.logFile)), { recursive: true });
    logStream = fs.createWriteStream(opts.logFile, { flags: 'a' });
    logStream.write(`\n--- ${new Date().toISOString()} temporal ${args.join(' ')}\n`);
  }
  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      tail.push(chunk);
      logStream?.write(chunk);
    });
  }
  const unhook = killOnParentExit(child, 'SIGTERM');
  const host = ip === '0.0.0.0' || ip === '::' ? '127.0.0.1' : ip;
  const address = `${host}:${port}`;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await stopChild(child, 'SIGTERM', 10_000);
      unhook();
      await new Promise<void>((resolve) => (logStream ? logStream.end(resolve) : resolve()));
    })();
    return stopping;
  };

  try {
    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    let lastError: unknown;
    let spawnFailure: Error | undefined;
    void spawnError.then((e) => (spawnFailure = e));
    for (;;) {
      if (spawnFailure) throw new Error(`could not run ${opts.cliPath}: ${spawnFailure.message}`);
      if (!isRunning(child)) {
        throw new Error(
          `temporal dev server exited during start-up (code ${child.exitCode}, signal ${child.signalCode}).\n` +
            `command: ${opts.cliPath} ${args.join(' ')}\n--- log tail ---\n${tail.toString()}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `temporal dev server at ${address} not ready after ${opts.startTimeoutMs ?? 60_000} ms: ${String(lastError)}\n` +
            `--- log tail ---\n${tail.toString()}`,
        );
      }
      try {
        await probe(address, namespace, opts.namespaceRetentionDays);
        if (isRunning(child)) break;
      } catch (err) {
        lastError = err;
        await sleep(200);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    address,
    uiUrl: uiPort === null ? undefined : `http://${host}:${uiPort}`,
    namespace,
    pid: child.pid ?? -1,
    stop,
  };
}

/** One readiness attempt: connect, describe the namespace, and apply the retention if asked. */
async function probe(address: string, namespace: string, retentionDays: number | undefined): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    if (retentionDays !== undefined) {
      await connection.workflowService.updateNamespace({
        namespace,
        config: { workflowExecutionRetentionTtl: msNumberToTs(Math.round(retentionDays * 86_400) * 1000) },
      });
    }
  } finally {
    await connection.close();
  }
}
