// Jest global setup: starts ONE Temporal dev server and ONE embedded Postgres and bundles the workflows once.
// Configured in jest.config.js; test files reach the stack through test/support/stack.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTemporalCli } from '../../src/runtime/temporal-cli';
import { DevServer, startDevServer } from '../../src/runtime/dev-server';
import { EmbeddedPg, startEmbeddedPostgres } from '../../src/runtime/embedded-postgres';
import { STACK_FILE_ENV, TestStack } from './stack';
import { provisionTestTools } from './test-tools';

const ROOT = path.resolve(__dirname, '..', '..');

export interface StackHandles {
  devServer?: DevServer;
  postgres?: EmbeddedPg;
  tempDir: string;
  stackFile: string;
}

declare global {
  var __DS_TEST_STACK__: StackHandles | undefined;
}

function say(msg: string): void {
  if (process.env.DS_TEST_VERBOSE) process.stderr.write(`[test-stack] ${msg}\n`);
}

async function bundle(tempDir: string): Promise<{ path: string | null; error?: string }> {
  const entry = path.join(ROOT, 'workflows', 'index.ts');
  if (!fs.existsSync(entry)) return { path: null, error: `${entry} does not exist` };
  try {
    const t0 = Date.now();
    const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve(entry),
      logger: new DefaultLogger('WARN'),
    });
    const file = path.join(tempDir, 'workflow-bundle.js');
    fs.writeFileSync(file, code);
    say(`bundled workflows in ${Date.now() - t0} ms`);
    return { path: file };
  } catch (err) {
    const error = `bundling ${entry} failed: ${(err as Error).message}`;
    process.stderr.write(`[test-stack] ${error}\n`);
    return { path: null, error };
  }
}

export default async function globalSetup(globalConfig: { testPathPattern?: string }): Promise<void> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-sessions-jest-'));
  fs.chmodSync(tempDir, 0o755); // the embedded Postgres may run as user "postgres"
  const stackFile = path.join(os.tmpdir(), `durable-sessions-jest-${process.pid}.json`);
  const handles: StackHandles = { tempDir, stackFile };
  globalThis.__DS_TEST_STACK__ = handles;
  const externalTemporal = process.env.TEMPORAL_ADDRESS || undefined;
  const externalDb = process.env.DATABASE_URL || undefined;

  try {
    const t0 = Date.now();
    const cliPromise = resolveTemporalCli({
      cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
      cacheDir: path.join(ROOT, '.cache'),
      log: (m) => process.stderr.write(`[test-stack] ${m}\n`),
    });
    const temporalPromise = (async (): Promise<string> => {
      if (externalTemporal) return externalTemporal;
      const cliPath = await cliPromise;
      handles.devServer = await startDevServer({
        cliPath,
        // The UI costs little and test/ui-browser.test.ts needs it; DS_TEST_UI=0 runs headless.
        uiPort: process.env.DS_TEST_UI === '0' ? null : 0,
        dbFile: path.join(tempDir, 'temporal', 'temporal.db'),
        sqliteSynchronous: 'full',
        logFile: path.join(tempDir, 'temporal.log'),
      });
      say(
        `temporal dev server at ${handles.devServer.address} in ${Date.now() - t0} ms` +
          (handles.devServer.uiUrl ? ` (UI ${handles.devServer.uiUrl})` : ''),
      );
      if (handles.devServer.uiUrl)
        process.stderr.write(`[test-stack] Temporal UI: ${handles.devServer.uiUrl}\n`);
      return handles.devServer.address;
    })();
    const dbPromise = (async (): Promise<string> => {
      if (externalDb) return externalDb;
      const logFile = fs.createWriteStream(path.join(tempDir, 'postgres.log'));
      handles.postgres = await startEmbeddedPostgres({
        dataDir: path.join(tempDir, 'pg'),
        log: (m) => logFile.write(`${m}\n`),
      });
      say(`embedded postgres on port ${handles.postgres.port} in ${Date.now() - t0} ms`);
      return handles.postgres.url;
    })();
    const bundlePromise = bundle(tempDir);
    // Python venv, Chromium, docker-compose: obtained here so that `npm test` needs no manual step.
    const toolsPromise = provisionTestTools({
      root: ROOT,
      testPathPattern: globalConfig?.testPathPattern ?? '',
      log: (m) => process.stderr.write(`[test-setup] ${m}\n`),
    });

    const [temporalAddress, databaseUrl, bundled, tools] = await Promise.all([
      temporalPromise,
      dbPromise,
      bundlePromise,
      toolsPromise,
    ]);
    const temporalCliPath = await cliPromise.catch(() => null);
    const stack: TestStack = {
      temporalAddress,
      namespace: process.env.TEMPORAL_NAMESPACE || 'default',
      databaseUrl,
      workflowBundlePath: bundled.path,
      workflowBundleError: bundled.error,
      tempDir,
      temporalCliPath,
      uiUrl: handles.devServer?.uiUrl,
      devServerPid: handles.devServer?.pid,
      postgresPid: handles.postgres?.pid,
      tools,
    };
    fs.writeFileSync(stackFile, JSON.stringify(stack, null, 2));
    process.env[STACK_FILE_ENV] = stackFile;
    say(`stack ready in ${Date.now() - t0} ms: ${stackFile}`);
  } catch (err) {
    await stopStack(handles);
    throw err;
  }
}

/** Stops whatever was started and removes the temp dir and stack file (used by teardown and on setup failure). */
export async function stopStack(handles: StackHandles): Promise<void> {
  await Promise.allSettled([handles.devServer?.stop(), handles.postgres?.stop()]);
  fs.rmSync(handles.tempDir, { recursive: true, force: true });
  fs.rmSync(handles.stackFile, { force: true });
}
