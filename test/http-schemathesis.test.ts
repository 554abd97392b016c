// Schemathesis, with all its checks, against /openapi.json of a real API (real Temporal, Postgres and a worker):
// the OpenAPI document tells the truth about every route, status, header and limit. See docs/http-api.md.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AesGcmCodec } from '../src/codec';
import { startApi, type RunningApi } from '../src/http/server';
import pino from 'pino';
import { SessionMetrics } from '../src/metrics';
import { ALICE, KEYS, apiConfig } from './support/http-harness';
import { schemathesisCommand } from './support/schemathesis';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';

const CONFIG = path.join(__dirname, 'schemathesis.toml');
/** Test cases per operation and phase: small, so the whole file stays well under two minutes on 2 cores. */
const MAX_EXAMPLES = Number(process.env.DS_SCHEMATHESIS_EXAMPLES ?? 20);
/** A fixed seed keeps CI reproducible; set DS_SCHEMATHESIS_SEED to explore others. */
const SEED = process.env.DS_SCHEMATHESIS_SEED ?? '20240613';
/**
 * Seconds schemathesis waits for an answer before it reports a network error. Its default (10 s) is a latency bound,
 * and this test checks what the API answers, not how fast (that is the benchmark's): a request that hangs still
 * fails here, while one slowed by two cores shared with the dev server, Postgres and the worker does not.
 */
const REQUEST_TIMEOUT_SECONDS = 60;

describe('schemathesis against /openapi.json', () => {
  let h: TemporalHarness;
  let api: RunningApi;
  let schemathesis: string[];
  let workDir: string;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-schemathesis-'));
    schemathesis = await schemathesisCommand();
    const codec = new AesGcmCodec([{ id: 'k1', key: Buffer.alloc(32, 7) }]);
    h = await startTemporalHarness('http_schemathesis', {}, { codec });
    api = await startApi({
      service: h.service,
      pool: h.pool,
      client: h.client,
      // An event stream of a session that exists lasts this long (then the client reconnects): short, so a generated
      // request to one ends within schemathesis' timeout.
      config: apiConfig({ host: '127.0.0.1', port: 0, sseMaxSeconds: 1 }),
      // Every request's route, status and time, shown (the slowest) when the test fails.
      logger: pino({ level: 'info' }, pino.destination({ dest: requestLog(workDir), sync: true })),
      metrics: new SessionMetrics({ processMetrics: false }),
      codec: { codec },
    });
  }, 900_000);
  afterAll(async () => {
    await api?.close();
    await h?.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('all checks, 0 failures', async () => {
    const args = [
      '--config-file',
      CONFIG,
      'run',
      `${api.url}/openapi.json`,
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      SEED,
      '--request-timeout',
      String(REQUEST_TIMEOUT_SECONDS),
      // One worker: the machine has two cores, shared with the dev server, Postgres and the session worker.
      '--workers',
      '1',
      '--generation-database',
      'none',
      '--no-color',
      // The admin key reaches every operation (cleanup and the codec too) and acts for one user on session routes.
      // With one identity object_level_authorization has no peer to probe: another user's session answering like a
      // missing one is test/http-api.test.ts's to show, route by route.
      '-H',
      `Authorization: Bearer ${KEYS.admin}`,
      '-H',
      `X-User-Id: ${ALICE}`,
    ];
    const { code, output } = await run(schemathesis, args, workDir);
    // The whole report on failure (each failure with a curl line to reproduce it); its summary otherwise.
    process.stderr.write(quoted(code === 0 ? summary(output) : `${clip(output)}\n${slowestRequests(workDir)}`));
    expect(code).toBe(0);
  }, 600_000);
});

function requestLog(dir: string): string {
  return path.join(dir, 'api-requests.log');
}

/** The API's ten slowest requests (route, status, milliseconds): where a network error's time went. */
function slowestRequests(dir: string): string {
  const lines = fs.readFileSync(requestLog(dir), 'utf8').split('\n').filter(Boolean);
  const requests = lines
    .map((line) => JSON.parse(line) as { msg?: string; method?: string; route?: string; status?: number; ms?: number })
    .filter((r) => r.msg === 'request' && typeof r.ms === 'number')
    .sort((a, b) => (b.ms ?? 0) - (a.ms ?? 0))
    .slice(0, 10);
  const errors = lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50).slice(0, 10);
  return [
    'the API\'s slowest requests:',
    ...requests.map((r) => `  ${r.ms} ms ${r.method} ${r.route} ${r.status}`),
    ...(errors.length ? ['its first errors:', ...errors.map((e) => `  ${e.slice(0, 2000)}`)] : []),
  ].join('\n');
}

/** From schemathesis' SUMMARY banner to the end. */
function summary(output: string): string {
  const at = output.lastIndexOf('SUMMARY');
  return at < 0 ? clip(output) : output.slice(output.lastIndexOf('\n', at) + 1);
}

/**
 * The report as a quotation: each line indented behind a bar, its banners drawn without '='. Schemathesis closes
 * with a pytest-shaped line ("=== 2 warnings in 111.26s ==="), and CI reads such a line as a test runner's closing
 * one: one with no test in it made a whole run count as having run no test.
 */
function quoted(report: string): string {
  return report
    .split('\n')
    .map((line) => `  │ ${line.replace(/={3,}/g, (bar) => '─'.repeat(bar.length))}`)
    .join('\n')
    .concat('\n');
}

/** Generated bodies can be megabytes long: each line is cut to what a reader can use. */
function clip(output: string): string {
  return output
    .split('\n')
    .map((line) => (line.length > 2000 ? `${line.slice(0, 2000)}… (${line.length} characters)` : line))
    .join('\n');
}

function run(command: string[], args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      command[0],
      [...command.slice(1), ...args],
      { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 540_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}
