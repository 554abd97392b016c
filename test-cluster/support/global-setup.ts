// Global setup of `npm run test:cluster`: obtains the Temporal server (built into the per-user tool cache the first
// time) and the temporal CLI, starts ONE cluster for the contract and HTTP tests, bundles the workflows once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toolCacheDir } from '../../src/config';
import { type Cluster, startCluster } from '../../src/runtime/cluster';
import { run } from '../../src/runtime/process';
import { resolveTemporalCli } from '../../src/runtime/temporal-cli';
import { resolveTemporalServer } from '../../src/runtime/temporal-server-binaries';
import { STACK_FILE_ENV, type TestStack } from '../../test/support/stack';
import { ASSETS_ENV, type ClusterAssets } from './assets';

const ROOT = path.resolve(__dirname, '..', '..');

interface Handles {
  cluster?: Cluster;
  tempDir: string;
  stackFile: string;
}

declare global {
  var __DS_CLUSTER_SUITE__: Handles | undefined;
}

const say = (m: string): void => void process.stderr.write(`[test-cluster] ${m}\n`);

export default async function globalSetup(): Promise<void> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-sessions-cluster-'));
  fs.chmodSync(tempDir, 0o755); // the private Postgres runs as user "postgres" when we are root
  const stackFile = path.join(tempDir, 'stack.json');
  const handles: Handles = { tempDir, stackFile };
  globalThis.__DS_CLUSTER_SUITE__ = handles;
  try {
    const t0 = Date.now();
    const [binaries, temporalCliPath, bundlePath] = await Promise.all([
      resolveTemporalServer({
        serverPath: process.env.TEMPORAL_SERVER_PATH || undefined,
        sqlToolPath: process.env.TEMPORAL_SQL_TOOL_PATH || undefined,
        toolCacheDir: toolCacheDir(process.env),
        log: say,
      }),
      resolveTemporalCli({
        cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
        cacheDir: path.join(ROOT, '.cache'),
        log: say,
      }),
      bundle(tempDir),
      // Worker processes run through scripts/cli.js: transpile its cache once, before several start at once.
      run(process.execPath, [path.join(ROOT, 'scripts', 'cli.js'), '--help'], {
        cwd: ROOT,
        timeoutMs: 120_000,
      }),
    ]).then(([b, c, p]) => [b, c, p] as const);
    say(`Temporal server ${binaries.version}: ${binaries.server}`);
    handles.cluster = await startCluster({
      rootDir: ROOT,
      dir: path.join(tempDir, 'cluster'),
      binaries,
      temporalCliPath,
      namespace: 'default',
      namespaceRetentionDays: 1,
      log: (m) => (process.env.DS_TEST_VERBOSE ? say(m) : undefined),
    });
    say(
      `cluster ready at ${handles.cluster.address} in ${Date.now() - t0} ms (logs ${handles.cluster.logDir})`,
    );

    const assets: ClusterAssets = {
      server: binaries.server,
      sqlTool: binaries.sqlTool,
      serverVersion: binaries.version,
      temporalCliPath,
      bundlePath,
    };
    const assetsFile = path.join(tempDir, 'assets.json');
    fs.writeFileSync(assetsFile, JSON.stringify(assets, null, 2));
    process.env[ASSETS_ENV] = assetsFile;

    const stack: TestStack = {
      temporalAddress: handles.cluster.address,
      namespace: 'default',
      databaseUrl: handles.cluster.postgresUrl,
      workflowBundlePath: bundlePath,
      tempDir,
      temporalCliPath,
      postgresPid: handles.cluster.postgres.pid,
      tools: { missing: {} },
      workerProcesses: 2,
    };
    fs.writeFileSync(stackFile, JSON.stringify(stack, null, 2));
    process.env[STACK_FILE_ENV] = stackFile;
  } catch (err) {
    await stopSuite(handles);
    throw err;
  }
}

async function bundle(tempDir: string): Promise<string> {
  const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(path.join(ROOT, 'workflows')),
    logger: new DefaultLogger('WARN'),
  });
  const file = path.join(tempDir, 'workflow-bundle.js');
  fs.writeFileSync(file, code);
  return file;
}

/** Stops the cluster and removes the temp dir (teardown, and setup on failure). DS_TEST_KEEP=1 keeps the logs. */
export async function stopSuite(handles: Handles): Promise<void> {
  await handles.cluster?.stop();
  if (!process.env.DS_TEST_KEEP) fs.rmSync(handles.tempDir, { recursive: true, force: true });
}
