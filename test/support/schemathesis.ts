// Schemathesis from PyPI in a virtualenv under .cache/, made from test/schemathesis-requirements.txt (all pinned).
// Used by test/http-schemathesis.test.ts; the venv is made again when the requirements or the interpreter change.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../src/runtime/process';

const ROOT = path.resolve(__dirname, '..', '..');
const REQUIREMENTS = path.join(ROOT, 'test', 'schemathesis-requirements.txt');
const VENV = path.join(ROOT, '.cache', 'schemathesis-venv');
/** Holds the digest of what the venv was made from. */
const STAMP = path.join(VENV, 'made-from.sha256');

/**
 * The command that runs schemathesis (`<venv python> -m schemathesis.cli`: the venv's console scripts name the
 * directory it was built in), installing it first when the venv is missing or out of date.
 */
export async function schemathesisCommand(python = process.env.PYTHON || 'python3'): Promise<string[]> {
  const venvPython = path.join(VENV, 'bin', 'python');
  const command = [venvPython, '-m', 'schemathesis.cli'];
  try {
    const { stdout: version } = await run(python, ['-c', 'import sys; print(sys.version)'], {
      timeoutMs: 30_000,
    });
    const wanted = crypto
      .createHash('sha256')
      .update(fs.readFileSync(REQUIREMENTS))
      .update(version.trim())
      .digest('hex');
    if (fs.existsSync(venvPython) && fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8').trim() === wanted)
      return command;
    // Made aside and renamed into place, so an interrupted install never looks like a finished one.
    const tmp = `${VENV}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    try {
      await run(python, ['-m', 'venv', tmp], { timeoutMs: 120_000 });
      await run(
        path.join(tmp, 'bin', 'python'),
        ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', REQUIREMENTS],
        { timeoutMs: 10 * 60_000 },
      );
      fs.writeFileSync(path.join(tmp, 'made-from.sha256'), `${wanted}\n`);
      fs.rmSync(VENV, { recursive: true, force: true });
      fs.renameSync(tmp, VENV);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    return command;
  } catch (err) {
    // Not a skip: without the venv this test cannot run, and it says what to install.
    throw new Error(
      `schemathesis could not be installed into ${path.relative(ROOT, VENV)} from ${path.relative(ROOT, REQUIREMENTS)}: ` +
        `install Python 3 with venv and pip (\`sudo apt-get install -y python3-venv\`); PyPI must be reachable\n${String(err)}`,
    );
  }
}
