// The Python adapter (clients/python: a Session of the OpenAI Agents SDK for Python over the HTTP API) runs its own
// pytest suite against the real HTTP API here, on a real Temporal dev server and Postgres. Its virtualenv is made
// from clients/python/requirements.txt like examples/python's (test/support/test-tools.ts); a venv that cannot be
// made fails this test, and so does any test pytest skips.
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ensurePythonVenv } from './support/test-tools';
import { KEYS, startHttpHarness, type HttpHarness } from './support/http-harness';

const exec = promisify(execFile);
const ROOT = path.join(__dirname, '..');
const CLIENT = path.join(ROOT, 'clients', 'python');

describe('clients/python: the OpenAI Agents SDK (Python) session on the HTTP API', () => {
  let s: HttpHarness;
  let baseUrl: string;
  let python: string;

  beforeAll(async () => {
    // Its own cache root: ensurePythonVenv removes the venvs of other requirements under the same root.
    python = await ensurePythonVenv({
      root: path.join(ROOT, '.cache', 'clients-python'),
      requirements: path.join(CLIENT, 'requirements.txt'),
      basePython: process.env.PYTHON || 'python3',
      log: (m) => process.stderr.write(`[adapters-python] ${m}\n`),
    });
    s = await startHttpHarness('adapters_python');
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  }, 15 * 60_000);
  afterAll(async () => {
    await s?.close();
  });

  test(
    'pytest clients/python/tests passes, nothing skipped',
    async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, DS_BASE_URL: baseUrl, DS_API_KEY: KEYS.alice };
      for (const k of Object.keys(env)) if (/^(PYTHONPATH|OPENAI_)/.test(k)) delete env[k];
      env.PYTHONDONTWRITEBYTECODE = '1';
      const result = await exec(python, ['-m', 'pytest', '-p', 'no:cacheprovider', '-q', '-rs', 'tests'], {
        cwd: CLIENT,
        env,
        timeout: 5 * 60_000,
      }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`pytest failed:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`);
      });
      const summary = result.stdout.trim().split('\n').pop() ?? '';
      expect(summary).toMatch(/^\d+ passed/);
      expect(summary).not.toMatch(/skipped|xfail|deselected|error/);
    },
    10 * 60_000,
  );
});
