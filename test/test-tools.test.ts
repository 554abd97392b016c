// `npm test` on a fresh machine obtains what its tests drive (test/support/test-tools.ts, run by the global setup):
// the Python venv, Chromium and docker-compose; a tool it cannot get is one line saying what to install.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testStack } from './support/stack';
import { ensurePythonVenv, provisionTestTools } from './support/test-tools';

const exec = promisify(execFile);
const ROOT = path.join(__dirname, '..');

test('the global setup provided every tool the suite drives, the venv with the pinned requirements', async () => {
  const { tools } = testStack();
  expect(tools.missing).toEqual({});
  const pins = fs
    .readFileSync(path.join(ROOT, 'examples', 'python', 'requirements.txt'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Za-z]/.test(l))
    .map((l) => l.trim().toLowerCase().replace(/_/g, '-'))
    .sort();
  const { stdout: frozen } = await exec(tools.python as string, ['-m', 'pip', 'freeze', '--all'], {
    timeout: 60_000,
  });
  const installed = frozen
    .split('\n')
    .map((l) => l.trim().toLowerCase().replace(/_/g, '-'))
    .filter((l) => l !== '' && !/^(pip|setuptools|wheel)==/.test(l))
    .sort();
  expect(installed).toEqual(pins);
  expect(path.relative(ROOT, tools.python as string)).toMatch(
    /^\.cache\/python-venv\/[0-9a-f]{16}\/bin\/python$/,
  );

  const { stdout: chromium } = await exec(tools.chromium as string, ['--version'], { timeout: 60_000 });
  expect(chromium).toMatch(/Chromium \d+/);
  const { stdout: compose } = await exec(tools.dockerCompose as string, ['version'], { timeout: 60_000 });
  expect(compose).toMatch(/version/i);
});

test('the venv is keyed by the requirements: reused while they stay, re-made when they change', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-venv-'));
  const requirements = path.join(root, 'requirements.txt');
  const log: string[] = [];
  const make = (): Promise<string> =>
    ensurePythonVenv({ root, requirements, basePython: 'python3', log: (m) => log.push(m) });
  try {
    fs.writeFileSync(requirements, '# nothing to install\n');
    const first = await make();
    const t0 = Date.now();
    expect(await make()).toBe(first);
    expect(Date.now() - t0).toBeLessThan(2_000); // present: one `python3 -c` and a stat
    expect(log).toHaveLength(1);

    fs.writeFileSync(requirements, '# nothing to install, but a different file\n');
    const second = await make();
    expect(second).not.toBe(first);
    expect(fs.existsSync(first)).toBe(false); // the venv of the old requirements is gone
    await exec(second, ['-c', 'import sys; assert sys.prefix != sys.base_prefix'], { timeout: 30_000 });
    expect(fs.readdirSync(path.join(root, '.cache', 'python-venv'))).toEqual([
      path.basename(path.dirname(path.dirname(second))),
    ]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}, 180_000);

test('a tool that cannot be installed is one line saying what to install', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-no-tools-'));
  const log: string[] = [];
  try {
    // No chromium, no docker-compose and no apt-get on this PATH.
    const tools = await provisionTestTools({
      root: ROOT,
      testPathPattern: 'ui-browser|compose',
      env: { PATH: empty },
      log: (m) => log.push(m),
    });
    expect(tools.python).toBeUndefined();
    expect(Object.keys(tools.missing).sort()).toEqual(['chromium', 'dockerCompose']);
    expect(tools.missing.chromium).toMatch(/^Chromium is missing .*: run `sudo apt-get install -y chromium`/);
    expect(tools.missing.dockerCompose).toMatch(
      /^docker-compose is missing .*`sudo apt-get install -y docker-compose`$/,
    );
    for (const line of Object.values(tools.missing)) expect(line).not.toContain('\n');
    expect(log).toEqual(Object.values(tools.missing));
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('no test skips or returns early because a tool is missing', () => {
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.ts'));
  // No exceptions: a test that can be switched off is one a fresh machine may not run.
  const optIns: RegExp[] = [];
  const offenders: string[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(__dirname, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const context = lines.slice(Math.max(0, i - 3), i + 1).join('\n');
      const skips = /\b(test|it|describe)\.skip\b|\bx(it|describe|test)\(|console\.warn\(['`"]skipping/.test(
        line,
      );
      const earlyReturn = /if \(!\w+\) return;/.test(line) && /available|installed/i.test(line);
      if ((skips || earlyReturn) && !optIns.some((re) => re.test(context)))
        offenders.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  expect(offenders).toEqual([]);
});
