// Keeps the benchmark from rotting: runs `npm run bench -- --quick` once (its own stack, small sizes) and checks
// that every workload produced figures. It judges no numbers; it always
// runs (leave it out locally with `npx jest --testPathIgnorePatterns bench-smoke`).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** `npm run bench -- <args> --no-progress` into a temp dir: its exit code, output and results file. */
async function bench(
  args: string[],
  check: (results: Record<string, unknown> & { failures: object }, stdout: string) => void,
): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-smoke-'));
  const out = path.join(dir, 'results.json');
  try {
    const { code, stdout, stderr } = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
    }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          require.resolve('ts-node/dist/bin.js'),
          '--transpile-only',
          'bench/main.ts',
          ...args,
          '--no-progress',
          '--out',
          out,
        ],
        {
          cwd: ROOT,
          env: { ...process.env, TEMPORAL_ADDRESS: '', DATABASE_URL: '' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let so = '';
      let se = '';
      child.stdout.on('data', (c: Buffer) => (so += c.toString()));
      child.stderr.on('data', (c: Buffer) => (se += c.toString()));
      child.on('close', (c) => resolve({ code: c, stdout: so, stderr: se }));
    });
    if (code !== 0) throw new Error(`bench exited with ${code}\n${stdout}\n${stderr.slice(-4000)}`);
    const results = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown> & {
      failures: object;
    };
    expect(results.failures).toEqual({});
    check(results, stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(out.replace(/\.json$/, '-worker.log'), { force: true });
  }
}

test(
  'npm run bench -- --quick produces every figure',
  () =>
    bench(['--quick'], (results, stdout) => {
      for (const key of [
        'latency',
        'throughput',
        'history',
        'variants',
        'contention',
        'store',
        'cold',
        'list',
        'cleanup',
        'memory',
        'sqlite',
      ]) {
        expect(results[key]).toBeDefined();
      }
      expect(stdout).toContain('| workload |');
      // The cold start's second floor: update-with-start whose workflow reads the row in an activity first.
      const cold = results.cold as { floorWithLoad: { p50: { median: number } } };
      expect(cold.floorWithLoad.p50.median).toBeGreaterThan(0);
      // The paced sessions' turns were read back from their histories (issue 15's actions per turn at one per 5 s).
      const history = results.history as Record<string, { turns: number }>;
      for (const group of ['Paced', 'PacedTrailing', 'PacedWide']) {
        expect(history[`applied${group}`].turns).toBeGreaterThan(0);
        expect(history[`durable${group}`].turns).toBeGreaterThan(0);
      }
    }),
  10 * 60 * 1000,
);

test(
  'npm run bench -- --codec session: the latency workload with the actors sealed by keys per session',
  () =>
    bench(['--quick', '--only', 'latency', '--codec', 'session'], (results, stdout) => {
      expect(results.settings).toMatchObject({ codec: 'session' });
      expect(results.latency).toBeDefined();
      // Every encrypted payload of the sessions' histories is sealed with a session's key, none with the master key.
      const sealed = results.sealed as { sessionKey: number; masterKey: number };
      expect(sealed.sessionKey).toBeGreaterThan(10);
      expect(sealed.masterKey).toBe(0);
      expect(stdout).toContain('actor codec: session');
    }),
  5 * 60 * 1000,
);
