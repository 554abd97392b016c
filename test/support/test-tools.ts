// The tools the test suite drives besides Node: a Python virtualenv for examples/python, Debian's Chromium and
// docker-compose. Called by global-setup.ts so that `npm test` obtains them; idempotent and fast when present.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../src/runtime/process';

export type ToolName = 'python' | 'chromium' | 'dockerCompose';

/** What the tests use, or for each tool that could not be had, the one line saying what to install. */
export interface TestTools {
  /** The virtualenv's interpreter, with examples/python/requirements.txt installed. */
  python?: string;
  chromium?: string;
  dockerCompose?: string;
  missing: Partial<Record<ToolName, string>>;
}

/** Which test files need which tool: a run of other files provisions nothing (no apt-get for `jest rules`). */
export const TOOL_USERS: Record<ToolName, readonly string[]> = {
  python: ['test/python-example.test.ts', 'test/test-tools.test.ts'],
  chromium: ['test/ui-browser.test.ts', 'test/codec-ui-browser.test.ts', 'test/test-tools.test.ts'],
  dockerCompose: ['test/compose.test.ts', 'test/test-tools.test.ts'],
};

export interface ProvisionOptions {
  root: string;
  /** jest's testPathPattern: only tools whose test files it selects are provisioned ('' selects all). */
  testPathPattern: string;
  log: (msg: string) => void;
  env?: NodeJS.ProcessEnv;
}

export async function provisionTestTools(opts: ProvisionOptions): Promise<TestTools> {
  const env = opts.env ?? process.env;
  const wanted = (tool: ToolName): boolean => selects(opts.testPathPattern, opts.root, TOOL_USERS[tool]);
  const tools: TestTools = { missing: {} };

  // Chromium and docker-compose come from one apt-get run (one `apt-get update`), in parallel with the venv.
  const system = (async () => {
    const needChromium = wanted('chromium') && !findChromium(env);
    const needCompose = wanted('dockerCompose') && !findOnPath('docker-compose', env.PATH ?? '');
    const packages = [...(needChromium ? ['chromium'] : []), ...(needCompose ? ['docker-compose'] : [])];
    const failure =
      (packages.length > 0 ? await aptInstall(packages, env, opts.log) : undefined) ??
      'apt-get reported success but it is not on PATH';
    if (wanted('chromium')) {
      tools.chromium = findChromium(env);
      if (!tools.chromium)
        tools.missing.chromium = `Chromium is missing for test/ui-browser.test.ts and ${failure}: run \`sudo apt-get install -y chromium\` (or set CHROMIUM_PATH to a Chromium binary)`;
    }
    if (wanted('dockerCompose')) {
      tools.dockerCompose = findOnPath('docker-compose', env.PATH ?? '');
      if (!tools.dockerCompose)
        tools.missing.dockerCompose = `docker-compose is missing for test/compose.test.ts and ${failure}: run \`sudo apt-get install -y docker-compose\``;
    }
  })();
  const python = (async () => {
    if (!wanted('python')) return;
    try {
      tools.python = await ensurePythonVenv({
        root: opts.root,
        requirements: path.join(opts.root, 'examples', 'python', 'requirements.txt'),
        basePython: env.PYTHON || 'python3',
        env,
        log: opts.log,
      });
    } catch (err) {
      tools.missing.python = `the Python virtualenv for examples/python could not be made (${firstLine(err)}): install Python 3 with venv and pip (\`sudo apt-get install -y python3-venv\`) and run npm test again`;
    }
  })();
  await Promise.all([system, python]);
  for (const line of Object.values(tools.missing)) opts.log(line);
  return tools;
}

/** Whether jest's path pattern selects any of `files` (relative to root). */
function selects(pattern: string, root: string, files: readonly string[]): boolean {
  if (!pattern) return true;
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch {
    return true;
  }
  return files.some((f) => re.test(path.join(root, f)));
}

export interface VenvOptions {
  root: string;
  requirements: string;
  /** The interpreter the venv is made from. */
  basePython: string;
  env?: NodeJS.ProcessEnv;
  log: (msg: string) => void;
}

/**
 * `.cache/python-venv/<hash>/bin/python` with the requirements installed; the hash covers the requirements file
 * and the base interpreter's version, so changing either makes a new venv. Built in a temporary directory and
 * renamed into place, so a run never sees a half-installed venv, and two runs at once both end with a whole one.
 */
export async function ensurePythonVenv(opts: VenvOptions): Promise<string> {
  const requirements = fs.readFileSync(opts.requirements);
  const { stdout: version } = await run(opts.basePython, ['-c', 'import sys; print(sys.version)'], {
    timeoutMs: 30_000,
  });
  const hash = crypto
    .createHash('sha256')
    .update(requirements)
    .update('\0')
    .update(version.trim())
    .digest('hex')
    .slice(0, 16);
  const parent = path.join(opts.root, '.cache', 'python-venv');
  const dir = path.join(parent, hash);
  const python = path.join(dir, 'bin', 'python');
  if (fs.existsSync(python)) return python;

  opts.log(`making the Python virtualenv ${path.relative(opts.root, dir)} (${opts.requirements})`);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `${hash}.tmp-`));
  try {
    try {
      await run(opts.basePython, ['-m', 'venv', tmp], { timeoutMs: 120_000 });
    } catch (err) {
      // Debian's python3 needs python3-venv (ensurepip) for this; install it when we may, then try again.
      if (await aptInstall(['python3-venv'], opts.env ?? process.env, opts.log)) throw err;
      fs.rmSync(tmp, { recursive: true, force: true });
      await run(opts.basePython, ['-m', 'venv', tmp], { timeoutMs: 120_000 });
    }
    await run(
      path.join(tmp, 'bin', 'python'),
      [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-input',
        '--quiet',
        '-r',
        opts.requirements,
      ],
      { timeoutMs: 10 * 60_000 },
    );
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another run finished the same venv first: use theirs.
      if (!fs.existsSync(python)) throw err;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // Venvs of earlier requirements are no longer used by this checkout.
  for (const old of fs.readdirSync(parent)) {
    if (old !== hash && !old.includes('.tmp-'))
      fs.rmSync(path.join(parent, old), { recursive: true, force: true });
  }
  return python;
}

let aptUpdated = false;

/**
 * Installs Debian packages: as root directly, else with `sudo -n` when that works without a password.
 * Resolves undefined on success, else the reason (finishing "… and <reason>" in the caller's one line).
 */
async function aptInstall(
  packages: string[],
  env: NodeJS.ProcessEnv,
  log: (msg: string) => void,
): Promise<string | undefined> {
  if (!findOnPath('apt-get', env.PATH ?? '')) return 'this machine has no apt-get';
  let prefix: string[];
  if (process.getuid?.() === 0) prefix = [];
  else if (
    await run('sudo', ['-n', 'true'], { timeoutMs: 10_000 }).then(
      () => true,
      () => false,
    )
  )
    prefix = ['sudo', '-n'];
  else return 'cannot be installed here (not root, and sudo asks for a password)';

  const aptGet = async (args: string[], timeoutMs: number): Promise<void> => {
    // Through `env`, because sudo drops the caller's environment; and waiting for another apt run (a parallel test
    // run, unattended upgrades) rather than failing on its lock.
    const [file, ...rest] = [...prefix, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
    await run(file, [...rest, '-o', 'DPkg::Lock::Timeout=600'], { env, timeoutMs });
  };
  log(`installing ${packages.join(' ')} with apt-get (once per machine; this takes a minute or two)`);
  try {
    if (!aptUpdated) await aptGet(['update', '-q'], 5 * 60_000);
    aptUpdated = true;
    await aptGet(['install', '-y', '-q', '--no-install-recommends', ...packages], 15 * 60_000);
    return undefined;
  } catch (err) {
    log(`apt-get install ${packages.join(' ')} failed: ${String(err)}`);
    return `apt-get install failed (${firstLine(err)})`;
  }
}

function findChromium(env: NodeJS.ProcessEnv): string | undefined {
  if (env.CHROMIUM_PATH) return isExecutable(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : undefined;
  return findOnPath('chromium', env.PATH ?? '');
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    const candidate = path.join(dir || '.', name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
}
