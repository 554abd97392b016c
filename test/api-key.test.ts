// The embedded API key is kept under the data dir (0600) and survives restarts of the API; `api-key rotate`
// replaces it. Runs `durable-sessions api` as its own process against the test stack, twice, as a user would.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildProgram } from '../src/cli/main';
import { apiKeyFile, loadOrCreateApiKey, readApiKey, rotateApiKey } from '../src/runtime/api-key-file';
import { type CliProcess, startCli } from './support/cli-process';
import { createTestDatabase, type TestDatabase, testStack, uniqueTaskQueue } from './support/stack';

describe('the API key of the embedded stack', () => {
  let tmp: string;
  let db: TestDatabase;
  const running: CliProcess[] = [];

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-api-key-'));
    db = await createTestDatabase('api_key');
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await db?.drop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** `durable-sessions api` on a free port with the data dir `dataDir`; resolves with its URL and printed key. */
  async function startApi(dataDir: string): Promise<{ api: CliProcess; url: string; key: string }> {
    const api = startCli(['api'], {
      TEMPORAL_ADDRESS: testStack().temporalAddress,
      TEMPORAL_NAMESPACE: testStack().namespace,
      TEMPORAL_TASK_QUEUE: uniqueTaskQueue('api-key'),
      DATABASE_URL: db.url,
      DURABLE_SESSIONS_DATA_DIR: dataDir,
      DS_API_PORT: '0',
      DS_API_KEYS: '',
    });
    running.push(api);
    const urlLine = await api.waitFor((l) => /HTTP API\s+http:\/\//.test(l));
    const keyLine = await api.waitFor((l) => /API key\s+dsk_/.test(l));
    return {
      api,
      url: /HTTP API\s+(http:\/\/\S+)/.exec(urlLine)?.[1] as string,
      key: /API key\s+(dsk_\S+)/.exec(keyLine)?.[1] as string,
    };
  }

  const status = async (url: string, key: string): Promise<number> =>
    (
      await fetch(`${url}/v1/users/42/sessions`, {
        headers: { authorization: `Bearer ${key}`, 'x-user-id': '42' },
      })
    ).status;

  test('kept in <dataDir>/api-key with mode 0600, the same after a restart, replaced by rotate', () => {
    const dir = path.join(tmp, 'unit');
    const first = loadOrCreateApiKey(dir);
    expect(first).toMatchObject({ created: true, file: apiKeyFile(dir) });
    expect(first.key).toMatch(/^dsk_[A-Za-z0-9_-]{32}$/);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(first.file, 'utf8')).toBe(`${first.key}\n`);
    expect(loadOrCreateApiKey(dir)).toEqual({ ...first, created: false });

    const rotated = rotateApiKey(dir);
    expect(rotated.key).not.toBe(first.key);
    expect(readApiKey(dir)?.key).toBe(rotated.key);
    expect(fs.statSync(rotated.file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['api-key']); // nothing left aside

    fs.writeFileSync(rotated.file, 'short\n');
    expect(() => readApiKey(dir)).toThrow(/does not hold a usable API key/);
    expect(readApiKey(path.join(tmp, 'none'))).toBeUndefined();
  });

  test('the curl lines of the last run keep working after a restart; after a rotation only the new key does', async () => {
    const dataDir = path.join(tmp, 'stack');
    const first = await startApi(dataDir);
    expect(await status(first.url, first.key)).toBe(200);
    await first.api.stop();

    const second = await startApi(dataDir);
    expect(second.key).toBe(first.key);
    expect(await status(second.url, first.key)).toBe(200);
    expect(fs.statSync(path.join(dataDir, 'api-key')).mode & 0o777).toBe(0o600);

    // Rotation writes a new key; the running API keeps the one it started with until it restarts.
    const printed: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
      printed.push(parts.map(String).join(' '));
    });
    const saved = process.env.DURABLE_SESSIONS_DATA_DIR;
    process.env.DURABLE_SESSIONS_DATA_DIR = dataDir;
    try {
      await buildProgram().parseAsync(['api-key', 'rotate', '--json'], { from: 'user' });
      await buildProgram().parseAsync(['api-key', 'show'], { from: 'user' });
    } finally {
      log.mockRestore();
      if (saved === undefined) delete process.env.DURABLE_SESSIONS_DATA_DIR;
      else process.env.DURABLE_SESSIONS_DATA_DIR = saved;
    }
    const rotated = JSON.parse(printed[0]) as { key: string; file: string; restart_needed: boolean };
    expect(rotated.key).not.toBe(first.key);
    expect(rotated.file).toBe(path.join(dataDir, 'api-key'));
    expect(printed[1]).toBe(rotated.key);
    expect(await status(second.url, first.key)).toBe(200);
    await second.api.stop();

    const third = await startApi(dataDir);
    expect(third.key).toBe(rotated.key);
    expect(await status(third.url, rotated.key)).toBe(200);
    expect(await status(third.url, first.key)).toBe(401);
    expect(await third.api.stop()).toBe(0);
  });
});
