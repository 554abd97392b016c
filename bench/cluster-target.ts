// The benchmark's cluster target: the real Temporal server's four services as processes on their own Postgres
// (src/runtime/cluster.ts, as `cluster start` runs it), with the same worker processes, client and snapshot
// database (on the base Postgres) as a dev-server target. Used by bench/main.ts for `--target cluster`.
import path from 'node:path';
import { toolCacheDir } from '../src/config';
import { startCluster } from '../src/runtime/cluster';
import { resolveTemporalServer } from '../src/runtime/temporal-server-binaries';
import { attachTarget, type BenchBase, NAMESPACE, nextTargetNumber, type Target } from './stack';

export async function startClusterTarget(
  base: BenchBase,
  maxCachedWorkflows: number,
  workers: number,
  log: (m: string) => void,
): Promise<{ target: Target; serverVersion: string }> {
  const binaries = await resolveTemporalServer({
    serverPath: process.env.TEMPORAL_SERVER_PATH || undefined,
    sqlToolPath: process.env.TEMPORAL_SQL_TOOL_PATH || undefined,
    toolCacheDir: toolCacheDir(process.env),
    log,
  });
  const n = nextTargetNumber();
  const target = await attachTarget(base, {
    kind: 'cluster',
    name: `${n}_cluster`,
    setting: 'wal-full', // unused: no SQLite in a cluster
    maxCachedWorkflows,
    workers,
    startServer: async () => {
      const cluster = await startCluster({
        rootDir: path.resolve(__dirname, '..'),
        dir: path.join(base.tempDir, `cluster-${n}`),
        binaries,
        temporalCliPath: base.cliPath,
        namespace: NAMESPACE,
        namespaceRetentionDays: 1,
        log: () => undefined,
      });
      return {
        address: cluster.address,
        pid: cluster.services.frontend.pid ?? -1,
        stop: () => cluster.stop(),
      };
    },
  });
  return { target, serverVersion: binaries.version };
}
