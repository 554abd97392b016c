// A private stack for one reliability test file: its own dev server (SQLite file, WAL), embedded Postgres and a
// worker in a child process, with the faults the suite injects (SIGKILL, restart, stop, hang). close() ends all.
import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { attachCodecPool, createCodec, encryptingDataConverter, type RuntimeCodec } from '../../src/codec';
import type { ActorConfig } from '../../src/config';
import { migrate } from '../../src/postgres/migrate';
import { createPool } from '../../src/postgres/pool';
import { DevServer, startDevServer } from '../../src/runtime/dev-server';
import { EmbeddedPg, createDatabase, startEmbeddedPostgres } from '../../src/runtime/embedded-postgres';
import { isRunning, sleep, stopChild } from '../../src/runtime/process';
import { installTemporalRuntime } from '../../src/runtime/stack';
import { TemporalSessionService } from '../../src/temporal/service';
import { ASSETS_ENV } from './global-setup';
import { abortAllLoads } from './load';

const ROOT = path.resolve(__dirname, '..', '..');

export interface SuiteAssets {
  cliPath: string;
  bundlePath: string;
}

export function suiteAssets(): SuiteAssets {
  const file = process.env[ASSETS_ENV];
  if (!file) throw new Error(`${ASSETS_ENV} is not set: run through test-reliability/jest.config.js`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteAssets;
}

function say(msg: string): void {
  if (process.env.RELIABILITY_VERBOSE)
    process.stderr.write(`[rig ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

/** Pids of the direct children of `pid` (Postgres backends of the postmaster). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export class Rig {
  readonly dir: string;
  readonly taskQueue: string;
  server!: DevServer;
  pg!: EmbeddedPg;
  databaseUrl!: string;
  pool!: pg.Pool;
  connection!: Connection;
  client!: Client;
  service!: TemporalSessionService;
  /** With sessionKeys: the client's codec and the master key ring the worker process gets. */
  codec?: RuntimeCodec;
  codecKeys?: string;
  /** Worker processes started (the first one included) and unexpected exits seen. */
  workerStarts = 0;
  workerUnexpectedExits = 0;
  private worker?: ChildProcess;
  private workerWanted = false;
  private frozen: number[] = [];
  private readonly assets = suiteAssets();
  private serverPort = 0;
  private pgPort = 0;

  private constructor(readonly name: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `ds-reliability-${name}-`));
    fs.chmodSync(this.dir, 0o755); // the embedded Postgres runs as user "postgres" when we are root
    this.taskQueue = `reliability-${name}-${crypto.randomBytes(3).toString('hex')}`;
  }

  /**
   * `sessionKeys`: payloads encrypted with a data key per session (DS_CODEC_SESSION_KEYS) by the client and the
   * worker process, as the stack does; `codecKeys` is then the master key ring (DS_CODEC_KEYS form).
   */
  static async start(
    name: string,
    actor: Partial<ActorConfig> = {},
    options: { sessionKeys?: boolean } = {},
  ): Promise<Rig> {
    installTemporalRuntime();
    const rig = new Rig(name);
    try {
      await Promise.all([rig.startServer(), rig.startPostgres()]);
      rig.databaseUrl = await createDatabase(rig.pg.url, 'reliability');
      rig.pool = createPool(rig.databaseUrl, 8);
      await migrate(rig.pool);
      rig.connection = await Connection.connect({ address: rig.server.address });
      if (options.sessionKeys) {
        const key = crypto.randomBytes(32);
        rig.codecKeys = `kr:${key.toString('base64')}`;
        rig.codec = createCodec([{ id: 'kr', key }], true, 'client');
        attachCodecPool(rig.codec, rig.pool);
      }
      rig.client = new Client({
        connection: rig.connection,
        dataConverter: rig.codec ? encryptingDataConverter(rig.codec) : undefined,
      });
      rig.service = new TemporalSessionService({
        client: rig.client,
        pool: rig.pool,
        taskQueue: rig.taskQueue,
        actor: options.sessionKeys ? { ...actor, removeLocally: true } : actor,
      });
      await rig.startWorker();
      return rig;
    } catch (err) {
      await rig.close();
      throw err;
    }
  }

  // ---- Temporal dev server -----------------------------------------------------------------------------
  async startServer(): Promise<void> {
    this.server = await startDevServer({
      cliPath: this.assets.cliPath,
      port: this.serverPort || undefined,
      uiPort: null,
      dbFile: path.join(this.dir, 'temporal.db'),
      sqliteSynchronous: 'full',
      logFile: path.join(this.dir, 'temporal.log'),
    });
    this.serverPort = Number(this.server.address.split(':').pop());
    say(`${this.name}: dev server ${this.server.address} pid ${this.server.pid}`);
  }

  /** SIGKILL: no shutdown of any kind; the SQLite file (and its WAL) is all that remains. */
  async killServer(): Promise<void> {
    process.kill(this.server.pid, 'SIGKILL');
    await this.server.stop();
    say(`${this.name}: dev server killed`);
  }

  // ---- Postgres ----------------------------------------------------------------------------------------
  async startPostgres(): Promise<void> {
    const logFile = path.join(this.dir, 'postgres.log');
    this.pg = await startEmbeddedPostgres({
      dataDir: path.join(this.dir, 'pg'),
      port: this.pgPort || undefined,
      log: (m) => fs.appendFileSync(logFile, `${m}\n`),
    });
    this.pgPort = this.pg.port;
    say(`${this.name}: postgres on ${this.pgPort} pid ${this.pg.pid}`);
  }

  /** `pg_ctl stop -m immediate`: SIGQUIT to the postmaster (no checkpoint; crash recovery at the next start). */
  async crashPostgres(): Promise<void> {
    process.kill(this.pg.pid, 'SIGQUIT');
    await this.pg.stop();
    say(`${this.name}: postgres stopped (immediate)`);
  }

  /** Hangs Postgres: every process of the cluster is stopped, connections stay open and answer nothing. */
  freezePostgres(): void {
    this.frozen = [this.pg.pid, ...childPids(this.pg.pid)];
    for (const pid of this.frozen) process.kill(pid, 'SIGSTOP');
    say(`${this.name}: postgres frozen (${this.frozen.length} processes)`);
  }

  thawPostgres(): void {
    for (const pid of this.frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // exited
      }
    }
    this.frozen = [];
  }

  // ---- worker process ----------------------------------------------------------------------------------
  async startWorker(): Promise<void> {
    this.workerWanted = true;
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'worker-main.ts')],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: this.server.address,
          TASK_QUEUE: this.taskQueue,
          DATABASE_URL: this.databaseUrl,
          WORKFLOW_BUNDLE: this.assets.bundlePath,
          ...(this.codecKeys ? { DS_CODEC_KEYS: this.codecKeys, DS_CODEC_SESSION_KEYS: '1' } : {}),
        },
      },
    );
    this.worker = child;
    this.workerStarts++;
    const log = fs.createWriteStream(path.join(this.dir, 'worker.log'), { flags: 'a' });
    child.stderr?.pipe(log);
    const ready = new Promise<void>((resolve, reject) => {
      let text = '';
      child.stdout?.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('WORKER READY')) resolve();
      });
      child.once('exit', (code, signal) =>
        reject(new Error(`worker exited before ready (${code ?? signal})`)),
      );
    });
    child.once('exit', (code, signal) => {
      if (this.worker !== child || !this.workerWanted || signal === 'SIGKILL') return;
      // An exit we did not cause (e.g. the server was away too long): count it and bring a worker back.
      this.workerUnexpectedExits++;
      say(`${this.name}: worker exited by itself (${code ?? signal}); restarting`);
      void sleep(500)
        .then(() => (this.worker === child && this.workerWanted ? this.startWorker() : undefined))
        .catch(() => undefined);
    });
    ready.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise((r) => (timer = setTimeout(r, 120_000)))]).finally(() =>
      clearTimeout(timer),
    );
    say(`${this.name}: worker pid ${child.pid} ready`);
  }

  /** SIGKILL the worker process: its workflow cache, in-flight tasks and local activities die with it. */
  async killWorker(): Promise<void> {
    const child = this.worker;
    if (!child || !isRunning(child)) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await gone;
    say(`${this.name}: worker killed`);
  }

  async stopWorker(): Promise<void> {
    this.workerWanted = false;
    if (this.worker) await stopChild(this.worker, 'SIGTERM', 10_000);
  }

  async close(): Promise<void> {
    abortAllLoads();
    this.thawPostgres();
    await this.stopWorker().catch(() => undefined);
    await this.connection?.close().catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
    await Promise.allSettled([this.server?.stop(), this.pg?.stop()]);
    if (!process.env.RELIABILITY_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
