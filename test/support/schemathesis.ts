// Schemathesis from PyPI in a virtualenv under .cache/, made from test/schemathesis-requirements.txt (all pinned).
// Used by test/http-schemathesis.test.ts; the venv is re-created when the requirements file changes.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
export const REQUIREMENTS = path.join(ROOT, 'test', 'schemathesis-requirements.txt');
const VENV = path.join(ROOT, '.cache', 'schemathesis-venv');
/** Holds the digest of the requirements the venv was made from. */
const STAMP = path.join(VENV, 'requirements.sha256');

/** The schemathesis executable, installing it first when the venv is missing or out of date. */
export async function schemathesisBin(python = process.env.PYTHON ?? 'python3'): Promise<string> {
  const bin = path.join(VENV, 'bin', 'schemathesis');
  const wanted = crypto.createHash('sha256').update(fs.readFileSync(REQUIREMENTS)).digest('hex');
  const stamp = fs.existsSync(STAMP) ? fs.readFileSync(STAMP, 'utf8').trim() : '';
  if (stamp === wanted && fs.existsSync(bin)) return bin;
  try {
    fs.rmSync(VENV, { recursive: true, force: true });
    await exec(python, ['-m', 'venv', VENV], { timeout: 120_000 });
    await exec(
      path.join(VENV, 'bin', 'pip'),
      ['install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS],
      { timeout: 600_000 },
    );
  } catch (err) {
    // Not a skip: a machine that cannot make the venv cannot run this test, and says what to install.
    throw new Error(
      `could not install schemathesis into ${VENV} (needs ${python} with venv and pip, and PyPI): ` +
        `on Debian \`apt-get install python3-venv\`\n${String(err)}`,
    );
  }
  fs.writeFileSync(STAMP, `${wanted}\n`);
  return bin;
}
