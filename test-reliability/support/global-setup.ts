// Global setup of the reliability suite: resolves the temporal CLI and bundles the workflows once per run.
// Test files read both through suiteAssets() (support/rig.ts); each file starts its own servers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTemporalCli } from '../../src/runtime/temporal-cli';

export const ASSETS_ENV = 'DS_RELIABILITY_ASSETS';
const ROOT = path.resolve(__dirname, '..', '..');

export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-reliability-assets-'));
  const cliPath = await resolveTemporalCli({
    cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
    cacheDir: path.join(ROOT, '.cache'),
    log: (m) => process.stderr.write(`[reliability] ${m}\n`),
  });
  const { bundleWorkflowCode, DefaultLogger } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(path.join(ROOT, 'workflows')),
    logger: new DefaultLogger('WARN'),
  });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, code);
  const file = path.join(dir, 'assets.json');
  fs.writeFileSync(file, JSON.stringify({ cliPath, bundlePath }));
  process.env[ASSETS_ENV] = file;
}
