// Finds (or builds into the per-user tool cache) the real Temporal server and `temporal-sql-tool` of one version.
// Used by the cluster runtime (src/runtime/cluster.ts), its tests and the benchmark's cluster target.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { processAlive, run, sleep } from './process';
import { findOnPath, isExecutable } from './temporal-cli';

/** The server version the cluster runs, is tested on, and docker-compose.yml pins. */
export const TEMPORAL_SERVER_VERSION = '1.32.1';

/** Binary names as the official images have them (temporalio/server, temporalio/admin-tools). */
const SERVER_EXE = 'temporal-server';
const SQL_TOOL_EXE = 'temporal-sql-tool';

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  version: string;
}

export interface ResolveServerOptions {
  /** TEMPORAL_SERVER_PATH / TEMPORAL_SQL_TOOL_PATH: used as given (any version, logged). */
  serverPath?: string;
  sqlToolPath?: string;
  /** The per-user tool cache; binaries live under `<toolCacheDir>/temporal-server/<version>/`. */
  toolCacheDir: string;
  /** PATH to search; defaults to this process's. */
  searchPath?: string;
  /** Environment of `go install`; defaults to this process's. */
  env?: NodeJS.ProcessEnv;
  /** Set to false to only look, never build. Default true. */
  install?: boolean;
  log?: (msg: string) => void;
}

/** Where the build of `version` is kept. */
export function cachedServerDir(toolCacheDir: string, version = TEMPORAL_SERVER_VERSION): string {
  return path.join(toolCacheDir, 'temporal-server', version);
}

/**
 * The server and the sql tool: the explicit paths, then both on PATH when they are this version, then the tool
 * cache, else `go install` from the Go module proxy into the cache (once per machine; concurrent callers wait for
 * the first one's build).
 */
export async function resolveTemporalServer(opts: ResolveServerOptions): Promise<TemporalServerBinaries> {
  const log = opts.log ?? (() => undefined);
  const version = TEMPORAL_SERVER_VERSION;
  const explicit = await explicitBinaries(opts, log);
  if (explicit) return explicit;

  const searchPath = opts.searchPath ?? process.env.PATH ?? '';
  const onPath = {
    server: findOnPath(SERVER_EXE, searchPath),
    sqlTool: findOnPath(SQL_TOOL_EXE, searchPath),
  };
  if (onPath.server && onPath.sqlTool) {
    const [sv, tv] = await Promise.all([binaryVersion(onPath.server), binaryVersion(onPath.sqlTool)]);
    if (sv === version && tv === version) return { server: onPath.server, sqlTool: onPath.sqlTool, version };
    log(`ignoring ${onPath.server} (${sv}) and ${onPath.sqlTool} (${tv}) on PATH: not version ${version}`);
  }

  const dir = cachedServerDir(opts.toolCacheDir, version);
  const cached = { server: path.join(dir, SERVER_EXE), sqlTool: path.join(dir, SQL_TOOL_EXE), version };
  if (isExecutable(cached.server) && isExecutable(cached.sqlTool)) return cached;
  if (opts.install === false)
    throw new Error(`Temporal server ${version} is not in ${dir}.\n${installHelp(dir)}`);
  await buildIntoCache(dir, opts.env ?? process.env, log);
  return cached;
}

/** `temporal-server --version` → "1.32.1" (both tools print `<name> version <x>`). */
export async function binaryVersion(binary: string): Promise<string> {
  const { stdout } = await run(binary, ['--version'], { timeoutMs: 30_000 });
  return /version\s+v?(\S+)/.exec(stdout)?.[1] ?? stdout.trim();
}

async function explicitBinaries(
  opts: ResolveServerOptions,
  log: (m: string) => void,
): Promise<TemporalServerBinaries | undefined> {
  if (!opts.serverPath && !opts.sqlToolPath) return undefined;
  if (!opts.serverPath || !opts.sqlToolPath)
    throw new Error('set both TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH (or neither)');
  for (const [name, p] of [
    ['TEMPORAL_SERVER_PATH', opts.serverPath],
    ['TEMPORAL_SQL_TOOL_PATH', opts.sqlToolPath],
  ])
    if (!isExecutable(path.resolve(p))) throw new Error(`${name}=${p} is not an executable file`);
  const server = path.resolve(opts.serverPath);
  const version = await binaryVersion(server);
  if (version !== TEMPORAL_SERVER_VERSION)
    log(
      `TEMPORAL_SERVER_PATH is version ${version}; durable-sessions is tested on ${TEMPORAL_SERVER_VERSION}`,
    );
  return { server, sqlTool: path.resolve(opts.sqlToolPath), version };
}

function installHelp(dir: string): string {
  return [
    'Build it (about 11 minutes on 2 cores; needs Go, see go.temporal.io/server go.mod for the version):',
    `  GOBIN=${dir} go install go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION} go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`,
    `  then rename ${dir}/server to ${SERVER_EXE} and ${dir}/sql to ${SQL_TOOL_EXE};`,
    '  or set TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH to existing binaries.',
  ].join('\n');
}

/**
 * Builds both binaries with one `go install` into a temporary GOBIN beside `dir`, then renames the directory into
 * place, so `dir` is either complete or absent. A lock directory keeps a second caller from building the same
 * thing at the same time: it waits for the first (a lock whose owner died is taken over).
 */
async function buildIntoCache(dir: string, env: NodeJS.ProcessEnv, log: (m: string) => void): Promise<void> {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  await acquireLock(lock, log);
  try {
    if (isExecutable(path.join(dir, SERVER_EXE)) && isExecutable(path.join(dir, SQL_TOOL_EXE))) return;
    const tmp = `${dir}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    const started = Date.now();
    log(
      `building Temporal server ${TEMPORAL_SERVER_VERSION} and temporal-sql-tool with go install into ${dir} ` +
        '(once per machine; about 11 minutes on 2 cores)',
    );
    try {
      const v = `v${TEMPORAL_SERVER_VERSION}`;
      await run(
        'go',
        ['install', `go.temporal.io/server/cmd/server@${v}`, `go.temporal.io/server/cmd/tools/sql@${v}`],
        // Outside any module, so no go.mod nearby decides what gets built.
        { env: { ...env, GOBIN: tmp }, cwd: os.tmpdir(), timeoutMs: 60 * 60_000 },
      );
      fs.renameSync(path.join(tmp, 'server'), path.join(tmp, SERVER_EXE));
      fs.renameSync(path.join(tmp, 'sql'), path.join(tmp, SQL_TOOL_EXE));
      const built = await binaryVersion(path.join(tmp, SERVER_EXE));
      if (built !== TEMPORAL_SERVER_VERSION) throw new Error(`go install built version ${built}`);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.renameSync(tmp, dir);
    } catch (err) {
      throw new Error(`could not build the Temporal server: ${(err as Error).message}\n${installHelp(dir)}`, {
        cause: err,
      });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    log(`built Temporal server ${TEMPORAL_SERVER_VERSION} in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** mkdir is atomic: the one that creates the lock directory builds; others wait while its owner lives. */
async function acquireLock(lock: string, log: (m: string) => void): Promise<void> {
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number.parseInt(readOr(path.join(lock, 'pid'), ''), 10);
    if (Number.isInteger(owner) && processAlive(owner)) {
      if (!announced) log(`waiting for process ${owner}, which is building the Temporal server`);
      announced = true;
      await sleep(2_000);
    } else if (!Number.isInteger(owner) && Date.now() - statMtime(lock) < 10_000) {
      await sleep(500); // just created, its pid not written yet
    } else {
      // Its owner died mid-build: take the lock over, and drop what that build left half made.
      const dir = lock.replace(/\.lock$/, '');
      for (const entry of fs.readdirSync(path.dirname(dir)))
        if (entry.startsWith(`${path.basename(dir)}.tmp-${owner}-`))
          fs.rmSync(path.join(path.dirname(dir), entry), { recursive: true, force: true });
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function statMtime(p: string): number {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}
