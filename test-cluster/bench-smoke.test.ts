// Keeps the benchmark's cluster target from rotting: `npm run bench -- --quick --target cluster --workers 2` runs the
// latency and throughput workloads on a cluster of its own. It judges no numbers (BENCHMARKS.md records them).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Results } from '../bench/results';
import { clusterAssets } from './support/assets';

const ROOT = path.resolve(__dirname, '..');

test('npm run bench -- --quick --target cluster --workers 2 produces the latency and throughput figures', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-smoke-'));
  const out = path.join(dir, 'results.json');
  const assets = clusterAssets();
  try {
    const args = ['--quick', '--target', 'cluster', '--workers', '2', '--no-progress', '--out', out];
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'bench/main.ts', ...args],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            TEMPORAL_SERVER_PATH: assets.server,
            TEMPORAL_SQL_TOOL_PATH: assets.sqlTool,
            TEMPORAL_CLI_PATH: assets.temporalCliPath,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr.on('data', (c: Buffer) => (text += c.toString()));
      child.on('close', (c) => resolve({ code: c, output: text }));
    });
    if (code !== 0) throw new Error(`bench exited with ${code}\n${output.slice(-4000)}`);
    const results = JSON.parse(fs.readFileSync(out, 'utf8')) as Results;
    expect(results.failures).toEqual({});
    const [run] = results.topologies ?? [];
    expect(run).toMatchObject({ target: 'cluster', workers: 2 });
    expect(run.server).toContain(assets.serverVersion);
    expect(run.latency?.series.applied.p50.median).toBeGreaterThan(0);
    expect(run.throughput?.opsPerSec.durable.median).toBeGreaterThan(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
