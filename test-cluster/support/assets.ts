// What the cluster suite's global setup obtained once for every test file: the Temporal server, the temporal CLI
// and the workflow bundle. Test files that start their own cluster (faults, `cluster start`) read them here.
import fs from 'node:fs';
import type { TemporalServerBinaries } from '../../src/runtime/temporal-server-binaries';

export const ASSETS_ENV = 'DS_CLUSTER_ASSETS';

export interface ClusterAssets {
  server: string;
  sqlTool: string;
  serverVersion: string;
  temporalCliPath: string;
  bundlePath: string;
}

export function clusterAssets(): ClusterAssets {
  const file = process.env[ASSETS_ENV];
  if (!file) throw new Error(`${ASSETS_ENV} is not set: run through test-cluster/jest.config.js`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ClusterAssets;
}

export function serverBinaries(assets: ClusterAssets = clusterAssets()): TemporalServerBinaries {
  return { server: assets.server, sqlTool: assets.sqlTool, version: assets.serverVersion };
}
