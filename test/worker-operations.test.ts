// What an operator sees of a standalone worker (`durable-sessions worker` in its own process): its Prometheus
// endpoint, and its log while Postgres is out of reach and once it is back. The rate limit is unit-tested first.
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { createMetrics } from '../src/metrics';
import { SessionRecovery } from '../src/recovery';
import { freePort } from '../src/runtime/ports';
import { sleep } from '../src/runtime/process';
import { errorCode, SnapshotHealth } from '../src/snapshot-health';
import { StorageError } from '../src/errors';
import { loadSnapshot } from '../src/postgres/snapshots';
import { TemporalSessionService } from '../src/temporal/service';
import { type CliProcess, startCli } from './support/cli-process';
import { eventually, uniqueIds } from './support/contract';
import { createTestDatabase, type TestDatabase, testStack, uniqueTaskQueue } from './support/stack';

describe('SnapshotHealth: one warning per interval while writes fail, one line when they recover', () => {
  const lines: { level: 'warn' | 'info'; fields: Record<string, unknown>; at: number }[] = [];
  const logger = {
    warn: (fields: object) =>
      lines.push({ level: 'warn', fields: fields as Record<string, unknown>, at: Date.now() }),
    info: (fields: object) =>
      lines.push({ level: 'info', fields: fields as Record<string, unknown>, at: Date.now() }),
  };
  const refused = (): Error =>
    new StorageError('write snapshot failed: connect ECONNREFUSED', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    });

  beforeEach(() => {
    lines.length = 0;
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => jest.useRealTimers());

  test('an outage: the first failure at once, then at most one line per interval with the count since the last', () => {
    const metrics = createMetrics({ processMetrics: false });
    const health = new SnapshotHealth({ logger, intervalMs: 10_000, metrics });
    health.recordSnapshotWrite(0.5); // healthy writes log nothing
    expect(lines).toEqual([]);

    health.recordSnapshotFailure(refused());
    expect(lines).toEqual([
      { level: 'warn', fields: { failures: 1, code: 'ECONNREFUSED', failingForSeconds: 0 }, at: 1_000_000 },
    ]);
    // 30 more failures over the next 25 s: one line per 10 s, each with the failures since the previous line.
    for (let i = 0; i < 30; i++) {
      jest.advanceTimersByTime(833);
      health.recordSnapshotFailure(i === 29 ? new Error('timeout') : refused());
    }
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.at - 1_000_000)).toEqual([0, 10_000, 20_000]);
    expect(warnings.map((l) => l.fields.failures)).toEqual([1, 12, 12]);
    jest.advanceTimersByTime(10_000); // the last 6 failures are reported at the next tick, with the last code
    expect(lines[3]).toMatchObject({ level: 'warn', fields: { failures: 6, code: 'Error' }, at: 1_030_000 });

    health.recordSnapshotWrite(1);
    jest.advanceTimersByTime(10_000);
    expect(lines.slice(4)).toEqual([
      {
        level: 'info',
        fields: { failures: 0, outageFailures: 31, outageSeconds: 40 },
        at: 1_040_000,
      },
    ]);
    health.recordSnapshotWrite(1);
    jest.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(5);
    health.close();
  });

  test('flapping within an interval is one line per interval; a failure long after is reported at once', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const health = new SnapshotHealth({ logger, intervalMs: 10_000, metrics });
    health.recordSnapshotFailure(refused()); // line 1 (warn)
    jest.advanceTimersByTime(1_000);
    health.recordSnapshotWrite(1);
    health.recordSnapshotFailure(refused());
    health.recordSnapshotWrite(1);
    health.recordSnapshotFailure(refused());
    health.recordSnapshotWrite(1); // recovered, as seen at the next tick
    jest.advanceTimersByTime(9_000);
    expect(lines.map((l) => [l.level, l.fields.failures, l.at - 1_000_000])).toEqual([
      ['warn', 1, 0],
      ['info', 2, 10_000],
    ]);
    expect(lines[1].fields).toMatchObject({ outageFailures: 3 });

    jest.advanceTimersByTime(600_000);
    health.recordSnapshotFailure(refused());
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ level: 'warn', fields: { failures: 1 } });

    const text = await metrics.text();
    expect(text).toMatch(/^ds_snapshot_write_failures_total\{code="ECONNREFUSED"\} 4$/m);
    expect(text).toMatch(/^ds_snapshot_writes_failing 1$/m);
    expect(text).toMatch(/^ds_snapshot_writes_total 3$/m);
    health.close();
  });

  test('errorCode: the driver code under our wrapping, else ours, else the name', () => {
    expect(errorCode(refused())).toBe('ECONNREFUSED');
    expect(errorCode(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe('57P01');
    expect(errorCode(new StorageError('write snapshot failed: Connection terminated'))).toBe(
      'storage_unavailable',
    );
    expect(errorCode(new TypeError('x'))).toBe('TypeError');
    expect(errorCode('a string')).toBe('unknown');
  });
});

/** A TCP proxy in front of the test Postgres, so the test can take Postgres away from the worker and give it back. */
class PgProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
  ) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  /** Postgres is gone: open connections break, new ones are refused. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve());
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

describe('durable-sessions worker, as operators run it', () => {
  let db: TestDatabase;
  let proxy: PgProxy;
  let worker: CliProcess | undefined;
  let connection: Connection | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('worker_ops');
    const target = new URL(db.url);
    proxy = new PgProxy({ host: target.hostname, port: Number(target.port) }, await freePort());
    await proxy.open();
  });
  afterAll(async () => {
    await worker?.stop();
    await connection?.close();
    await proxy?.cut();
    await db?.drop();
  });

  const scrape = async (url: string): Promise<string> => (await fetch(url)).text();
  const value = (text: string, series: string): number => {
    const escaped = series.replace(/[{}"=]/g, (c) => `\\${c}`);
    const m = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };

  test('metrics on the configured port; a rate-limited warning while Postgres is down, one line when it is back', async () => {
    const taskQueue = uniqueTaskQueue('worker-ops');
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const metricsPort = await freePort();
    const intervalMs = 2_000;
    worker = startCli(['worker'], {
      TEMPORAL_ADDRESS: testStack().temporalAddress,
      TEMPORAL_NAMESPACE: testStack().namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: viaProxy.toString(),
      DS_WORKER_METRICS_PORT: String(metricsPort),
      DS_SNAPSHOT_WARN_INTERVAL_MS: String(intervalMs),
      DS_WORKFLOW_BUNDLE: testStack().workflowBundlePath ?? '',
      LOG_LEVEL: 'info',
    });
    const running = JSON.parse(await worker.waitFor((l) => l.includes('"worker running"'))) as {
      metrics?: string;
    };
    expect(running.metrics).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
    const metricsUrl = running.metrics as string;

    // Sessions written through the worker: its endpoint counts the snapshots and carries the SDK's worker metrics.
    connection = await Connection.connect({ address: testStack().temporalAddress });
    const client = new Client({ connection, namespace: testStack().namespace });
    const service = new TemporalSessionService({
      client,
      pool: db.pool,
      taskQueue,
      actor: { persistDelayMs: 50 },
    });
    const recovery = new SessionRecovery(service);
    const ids = uniqueIds();
    const sessions = [ids.sessionId('a'), ids.sessionId('b')];
    const userId = ids.userId();
    for (const id of sessions) {
      await recovery.recoverSession(id, userId);
      await recovery.appendTurn(id, 'before the outage', 'ok', '');
    }
    await eventually(async () => {
      const text = await scrape(metricsUrl);
      expect(value(text, 'ds_snapshot_writes_total')).toBeGreaterThanOrEqual(2);
      expect(text).toMatch(/^temporal_\w+/m);
      expect(text).toMatch(/task_queue="worker-ops-/);
    }, 20_000);

    // Postgres goes away. Turns are still acknowledged (Temporal holds them); their snapshots fail and are retried.
    const down = Date.now();
    await proxy.cut();
    for (const id of sessions) await recovery.appendTurn(id, 'during the outage', 'still here', '');
    const warnings = (): Record<string, unknown>[] =>
      worker
        ?.logs()
        .filter((l) => l.level === 40 && String(l.msg).startsWith('snapshot writes are failing')) ?? [];
    await eventually(async () => expect(warnings().length).toBeGreaterThanOrEqual(1), 30_000);
    // The first failure names its cause: the connection cut under a write in flight (no driver code, so the
    // storage_unavailable it is wrapped in), or a new connection refused.
    expect(warnings()[0]).toMatchObject({ failures: expect.any(Number) });
    expect(['ECONNREFUSED', 'storage_unavailable']).toContain(warnings()[0].code);
    await sleep(4 * intervalMs);
    const during = await scrape(metricsUrl);
    expect(value(during, 'ds_snapshot_writes_failing')).toBe(1);
    expect(value(during, 'ds_snapshot_write_failures_total{code="ECONNREFUSED"}')).toBeGreaterThanOrEqual(2);

    // Postgres is back: the retries succeed, and one line says so.
    await proxy.open();
    const recovered = (): Record<string, unknown>[] =>
      worker?.logs().filter((l) => l.level === 30 && String(l.msg).startsWith('snapshot writes recovered')) ??
      [];
    await eventually(async () => expect(recovered()).toHaveLength(1), 30_000);
    await eventually(async () => {
      for (const id of sessions) expect((await loadSnapshot(db.pool, id))?.context.messages).toHaveLength(4);
    }, 20_000);
    expect(value(await scrape(metricsUrl), 'ds_snapshot_writes_failing')).toBe(0);

    // The rate limit held: warnings at least an interval apart, and every failure counted once in them.
    const times = warnings().map((l) => l.time as number);
    for (let i = 1; i < times.length; i++)
      expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(intervalMs - 50);
    expect(times.length).toBeLessThanOrEqual(Math.ceil((Date.now() - down) / intervalMs) + 1);
    const reported =
      warnings().reduce((n, l) => n + (l.failures as number), 0) + (recovered()[0].failures as number);
    const counted = [
      ...(await scrape(metricsUrl)).matchAll(/^ds_snapshot_write_failures_total\{[^}]*\} (\d+)$/gm),
    ];
    expect(reported).toBe(counted.reduce((n, m) => n + Number(m[1]), 0));

    // Those lines replace the SDK's own warning per failed attempt (a stack trace each, every few seconds).
    expect(worker.lines.filter((l) => l.includes('Activity failed'))).toEqual([]);
    expect(await worker.stop()).toBe(0);
  });
});

describe('a worker that stops hands its sessions to the others', () => {
  let db: TestDatabase;
  const workers: CliProcess[] = [];
  let connection: Connection | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('worker_drain');
  });
  afterAll(async () => {
    for (const w of workers) await w.stop();
    await connection?.close();
    await db?.drop();
  });

  test('on SIGINT/SIGTERM it signals every session it holds to continue as new, and the sessions go on on the other worker', async () => {
    const taskQueue = uniqueTaskQueue('worker-drain');
    const start = async (): Promise<CliProcess> => {
      const w = startCli(['worker'], {
        TEMPORAL_ADDRESS: testStack().temporalAddress,
        TEMPORAL_NAMESPACE: testStack().namespace,
        TEMPORAL_TASK_QUEUE: taskQueue,
        DATABASE_URL: db.url,
        DS_WORKER_METRICS_PORT: String(await freePort()),
        DS_WORKFLOW_BUNDLE: testStack().workflowBundlePath ?? '',
        LOG_LEVEL: 'info',
      });
      workers.push(w);
      return w;
    };
    // Worker A alone: it holds every session written now.
    const a = await start();
    await a.waitFor((l) => l.includes('"worker running"'));
    connection = await Connection.connect({ address: testStack().temporalAddress });
    const client = new Client({ connection, namespace: testStack().namespace });
    const service = new TemporalSessionService({ client, pool: db.pool, taskQueue });
    const recovery = new SessionRecovery(service);
    const ids = uniqueIds();
    const sessions = [ids.sessionId('a'), ids.sessionId('b'), ids.sessionId('c')];
    const versions: number[] = [];
    for (const id of sessions) {
      await recovery.recoverSession(id, ids.userId());
      versions.push((await recovery.appendTurn(id, 'on A', 'ok', '')).version);
    }
    const firstRuns = await Promise.all(
      sessions.map(async (id) => (await client.workflow.getHandle(`session/${id}`).describe()).runId),
    );

    // Worker B joins; A stops as an orchestrator stops it.
    const b = await start();
    await b.waitFor((l) => l.includes('"worker running"'));
    const bIdentity = `${b.child.pid}@`;
    expect(await a.stop()).toBe(0);
    const handed = a.logs().find((l) => l.msg === 'worker stopping: sessions handed to the other workers');
    // Each held run is signalled once; a run that continued as new on A itself (it still polled then) once more.
    expect(handed?.sessions).toBeGreaterThanOrEqual(3);

    for (const [i, id] of sessions.entries()) {
      const handle = client.workflow.getHandle(`session/${id}`);
      // The run A held continued as new, carrying the session.
      await eventually(async () => expect((await handle.describe()).runId).not.toBe(firstRuns[i]));
      const closed = await client.workflow.getHandle(`session/${id}`, firstRuns[i]).describe();
      expect(closed.status.name).toBe('CONTINUED_AS_NEW');
      const next = await recovery.appendTurn(id, 'on B', 'ok', '');
      expect(next.version).toBe(versions[i] + 1);
      expect(next.context.messages.map((m) => m.content)).toEqual(['on A', 'ok', 'on B', 'ok']);
      // The task that applied it ran on B. (A run that continued as new while A still polled may have started on A;
      // A signalled it again once it stopped polling, or its next task went to B when A shut down.)
      const started =
        (await handle.fetchHistory()).events?.filter((e) => e.workflowTaskStartedEventAttributes) ?? [];
      expect(started.at(-1)?.workflowTaskStartedEventAttributes?.identity).toContain(bIdentity);
    }
    expect(await b.stop()).toBe(0);
  });
});
