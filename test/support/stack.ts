// What test files use of the shared jest stack: its addresses, throw-away databases, task queues, the CLI.
// The stack itself (one dev server, one Postgres, one workflow bundle) is started by global-setup.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { run } from '../../src/runtime/process';
import { createDatabase, dropDatabase } from '../../src/runtime/embedded-postgres';
import { migrate } from '../../src/postgres/migrate';
import type { TestTools, ToolName } from './test-tools';

export const STACK_FILE_ENV = 'DS_TEST_STACK_FILE';

/** Written by global-setup.ts as JSON; read by test files through testStack(). */
export interface TestStack {
  /** host:port of the Temporal frontend (the shared dev server, or TEMPORAL_ADDRESS). */
  temporalAddress: string;
  namespace: string;
  /** Admin URL of the Postgres server (the embedded one, or DATABASE_URL). */
  databaseUrl: string;
  /** File holding the workflow bundle's code (`Worker.create({ workflowBundle: { codePath } })`), or null. */
  workflowBundlePath: string | null;
  /** Why there is no bundle, when workflowBundlePath is null. */
  workflowBundleError?: string;
  tempDir: string;
  temporalCliPath: string | null;
  /** http://host:port of the dev server's Web UI (absent with DS_TEST_UI=0 or an external TEMPORAL_ADDRESS). */
  uiUrl?: string;
  devServerPid?: number;
  postgresPid?: number;
  /** The Python venv, Chromium and docker-compose the global setup obtained (test/support/test-tools.ts). */
  tools: TestTools;
  /**
   * When set (test:cluster), each harness runs its session workers as this many `durable-sessions worker`
   * processes instead of one worker inside the test process (test/support/temporal-harness.ts).
   */
  workerProcesses?: number;
}

let cached: TestStack | undefined;

export function testStack(): TestStack {
  if (cached) return cached;
  const file = process.env[STACK_FILE_ENV];
  if (!file)
    throw new Error(
      `${STACK_FILE_ENV} is not set: run the tests through jest (test/support/global-setup.ts)`,
    );
  cached = JSON.parse(fs.readFileSync(file, 'utf8')) as TestStack;
  return cached;
}

/**
 * The path of a tool the global setup obtained; throws its one-line "install this" message when it could not,
 * so a test that needs a missing tool fails rather than skips.
 */
export function requireTool(tool: ToolName): string {
  const { tools } = testStack();
  const found = tools[tool];
  if (found) return found;
  throw new Error(
    tools.missing[tool] ?? `the global setup did not provision ${tool}: run the test through jest`,
  );
}

/** `{ codePath }` of the prebuilt workflow bundle, for `Worker.create({ workflowBundle })`. */
export function workflowBundle(): { codePath: string } {
  const stack = testStack();
  if (!stack.workflowBundlePath) {
    throw new Error(
      `no workflow bundle: ${stack.workflowBundleError ?? 'workflows/index.ts did not exist at setup'}`,
    );
  }
  return { codePath: stack.workflowBundlePath };
}

function suffix(): string {
  return `${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
}

/** A task queue nobody else uses, so tests never pick up each other's tasks. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${suffix()}`;
}

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  /** Ends the pool and drops the database. */
  drop(): Promise<void>;
}

/** Creates a migrated, uniquely named database on the stack's Postgres (prefix is sanitised). */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const adminUrl = testStack().databaseUrl;
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .replace(/^[^a-z_]/, '_')
    .slice(0, 40);
  const name = `${clean}_${suffix()}`;
  const url = await createDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    await dropDatabase(adminUrl, name).catch(() => undefined);
    throw err;
  }
  let dropped: Promise<void> | undefined;
  return {
    url,
    pool,
    drop: () => {
      dropped ??= (async () => {
        await pool.end().catch(() => undefined);
        await dropDatabase(adminUrl, name);
      })();
      return dropped;
    },
  };
}

/** Runs the temporal CLI against the stack's server, e.g. `temporalCli(['workflow', 'list', '--query', q])`. */
export async function temporalCli(args: string[]): Promise<{ stdout: string }> {
  const stack = testStack();
  if (!stack.temporalCliPath) throw new Error('no temporal CLI was resolved by the global setup');
  const { stdout } = await run(
    stack.temporalCliPath,
    [...args, '--address', stack.temporalAddress, '--namespace', stack.namespace],
    { timeoutMs: 60_000 },
  );
  return { stdout };
}
