// The whole runtime in one call: Temporal (embedded dev server or TEMPORAL_ADDRESS), Postgres (embedded or
// DATABASE_URL), migrations, the client-side service and optionally the worker. Used by the CLI and the benchmark.
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type pg from 'pg';
import {
  type RuntimeCodec,
  attachCodecPool,
  createCodec,
  encryptingDataConverter,
  resolveCodecKeys,
} from '../codec';
import type { Config } from '../config';
import { isLoopback } from '../http/auth';
import type { Logger } from '../logger';
import { migrate } from '../postgres/migrate';
import { createPool } from '../postgres/pool';
import { TemporalSessionService } from '../temporal/service';
import { HeldRuns } from '../temporal/held-runs';
import { createSessionWorker } from '../temporal/worker';
import { DevServer, startDevServer } from './dev-server';
import { EmbeddedPg, ensureDatabase, startEmbeddedPostgres } from './embedded-postgres';
import { freePort, portIsFree } from './ports';
import { resolveCleanupConfig } from '../retention/job';
import { SessionMetrics, createMetrics } from '../metrics';
import { SnapshotHealth, withoutSnapshotRetryWarnings } from '../snapshot-health';
import { cleanupScheduleId, ensureCleanupSchedule } from '../retention/schedule';
import { stackFile, uiOrigins } from './stack-file';
import { resolveTemporalCli } from './temporal-cli';

export { stackFile, uiOrigins } from './stack-file';

export const EMBEDDED_DATABASE = 'durable_sessions';

export interface StackOptions {
  /** Run a worker in this process (default true). */
  worker?: boolean;
  logger: Logger;
}

export interface Stack {
  config: Config;
  temporalAddress: string;
  /** The Temporal Web UI, when the embedded dev server runs it. */
  uiUrl?: string;
  databaseUrl: string;
  pool: pg.Pool;
  client: Client;
  service: TemporalSessionService;
  worker?: Worker;
  /** This process's metrics (snapshot writes from the worker; the API adds its own). */
  metrics: SessionMetrics;
  /** Where the Temporal SDK serves its worker metrics, when it does. */
  temporalMetricsAddress?: string;
  /** The payload codec every client and worker here uses; undefined when payloads are not encrypted. */
  codec?: StackCodec;
  /** Stops everything this call started, in reverse order; idempotent. */
  stop(): Promise<void>;
}

/** What the API's codec routes need (pass as `codec` to buildApp/startApi). */
export interface StackCodec {
  codec: RuntimeCodec;
  /** Browser origins that may use a UI session at /codec/* (the embedded Temporal UI's unless configured). */
  uiOrigins: string[];
  /** The API's codec endpoint the embedded UI was started with. */
  endpoint?: string;
}

let runtimeInstalled = false;
/**
 * Quiets the Temporal SDK's own logging to warnings (less the per-attempt warnings of snapshot writes, which
 * SnapshotHealth reports rate-limited) and, given an address, serves the SDK's worker metrics there in Prometheus
 * format (the API's /metrics and a worker's endpoint append them). Once per process.
 */
export function installTemporalRuntime(metricsAddress?: string): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: withoutSnapshotRetryWarnings(new DefaultLogger('WARN')),
      // The CLI stops on SIGINT/SIGTERM itself (untilSignalled): a worker hands its sessions over while it still
      // polls, then shuts down (src/temporal/held-runs.ts). The SDK's own handler would shut it down first.
      shutdownSignals: [],
      ...(metricsAddress
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } } }
        : {}),
    });
  } catch {
    // Already installed by the host application: keep its choice.
  }
}

export async function startStack(config: Config, options: StackOptions): Promise<Stack> {
  const log = options.logger;
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    while (stops.length > 0) {
      const next = stops.pop() as () => Promise<void>;
      await next().catch((err: unknown) => log.warn({ err }, 'stop failed'));
    }
  };
  try {
    fs.mkdirSync(config.dataDir, { recursive: true });
    const keys = resolveCodecKeys(
      config.codec,
      config.temporal.address ? undefined : { dataDir: config.dataDir, generate: true },
    );
    const codec = keys ? createCodec(keys.ring, config.codec.sessionKeys, 'client') : undefined;
    // The worker's own (its keys cached; the client's codec asks Postgres on every write).
    const workerCodec = keys ? createCodec(keys.ring, config.codec.sessionKeys, 'worker') : undefined;
    if (keys)
      log.info(
        {
          source: keys.source,
          file: keys.file,
          keyId: keys.ring[0].id,
          sessionKeys: config.codec.sessionKeys,
        },
        'payload encryption on',
      );
    else
      log.warn(
        'payload encryption off: message text is stored in Temporal in clear (see docs/encryption.md)',
      );
    const endpoint = codec ? codecEndpoint(config) : undefined;
    const dataConverter = codec ? encryptingDataConverter(codec) : undefined;
    const [temporal, postgres] = await Promise.all([
      startTemporal(config, log, endpoint),
      startPostgres(config, log),
    ]);
    if (temporal.server) stops.push(() => (temporal.server as DevServer).stop());
    if (postgres.embedded) stops.push(() => (postgres.embedded as EmbeddedPg).stop());

    const pool = createPool(postgres.url, 20);
    stops.push(() => pool.end());
    await migrate(pool);
    attachCodecPool(codec, pool);
    attachCodecPool(workerCodec, pool);

    // The SDK's worker metrics: where configured, else a free loopback port when this process runs a worker.
    const temporalMetricsAddress =
      config.api.temporalMetricsAddress ??
      (options.worker !== false ? `127.0.0.1:${await freePort()}` : undefined);
    installTemporalRuntime(temporalMetricsAddress);
    const metrics = createMetrics();
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
    const service = new TemporalSessionService({
      client,
      pool,
      taskQueue: config.temporal.taskQueue,
      actor: config.actor,
    });

    let worker: Worker | undefined;
    if (options.worker !== false) {
      const native = await NativeConnection.connect({ address: temporal.address });
      stops.push(() => native.close());
      // The activities report snapshot writes here: counted in `metrics`, and logged while they fail.
      const snapshotHealth = new SnapshotHealth({
        logger: log,
        intervalMs: config.worker.snapshotWarnIntervalMs,
        metrics,
      });
      stops.push(async () => snapshotHealth.close());
      const heldRuns = new HeldRuns();
      worker = await createSessionWorker({
        connection: native,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        pool,
        dataConverter: workerCodec ? encryptingDataConverter(workerCodec) : undefined,
        metrics: snapshotHealth,
        workflowBundlePath: config.worker.workflowBundlePath,
        heldRuns,
      });
      const running = worker.run();
      const w = worker;
      const external = !temporal.server;
      stops.push(async () => {
        const stopPolling = (): void => {
          if (w.getState() === 'RUNNING') w.shutdown();
        };
        // Against a shared Temporal (other workers may poll): the sessions this worker holds go to them now, not at
        // the end of the grace period (src/temporal/held-runs.ts). The embedded stack's worker is the only one.
        if (external && w.getState() === 'RUNNING') {
          const started = Date.now();
          const signalled = await heldRuns.handOver(client, stopPolling).catch((err: unknown) => {
            log.warn({ err }, 'could not send the sessions this worker holds to the other workers');
            return 0;
          });
          log.info(
            { sessions: signalled, ms: Date.now() - started },
            'worker stopping: sessions handed to the other workers',
          );
        }
        stopPolling();
        await running;
      });

      // Cleanups belong to the retention Schedule: a worker only makes sure it exists (created or updated
      // idempotently; racing starters leave one schedule) and never starts a run itself, so N workers starting
      // do not mean N cleanups. A schedule an operator paused stays paused.
      const cleanup = resolveCleanupConfig({
        retentionDays: config.cleanup.retentionDays,
        cleanupIntervalMs: config.cleanup.intervalMs,
      });
      const schedule = await ensureCleanupSchedule(client, {
        scheduleId: cleanupScheduleId(config.temporal.taskQueue),
        taskQueue: config.temporal.taskQueue,
        retentionDays: cleanup.retentionDays,
        intervalMs: cleanup.cleanupIntervalMs,
      });
      const fields = {
        scheduleId: schedule.handle.scheduleId,
        outcome: schedule.outcome,
        retentionDays: cleanup.retentionDays,
        intervalMs: cleanup.cleanupIntervalMs,
      };
      if (schedule.paused)
        log.warn(fields, 'cleanup schedule is paused: no retention cleanup runs until it is unpaused');
      else log.info(fields, 'cleanup schedule ready');
    }

    if (temporal.server || postgres.embedded) {
      const file = stackFile(config);
      fs.writeFileSync(
        file,
        JSON.stringify({
          temporalAddress: temporal.address,
          databaseUrl: postgres.url,
          uiUrl: temporal.server?.uiUrl,
          codecEndpoint: temporal.server ? endpoint : undefined,
          pid: process.pid,
        }),
      );
      stops.push(async () => fs.rmSync(file, { force: true }));
    }
    let stopping: Promise<void> | undefined;
    return {
      config,
      temporalAddress: temporal.address,
      uiUrl: temporal.server?.uiUrl,
      databaseUrl: postgres.url,
      pool,
      client,
      service,
      worker,
      metrics,
      temporalMetricsAddress,
      codec: codec && {
        codec,
        uiOrigins: uiOrigins(config, temporal.server?.uiUrl),
        endpoint: temporal.server ? endpoint : undefined,
      },
      stop: () => (stopping ??= stop()),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The API's codec routes as the embedded UI (a browser on this machine) reaches them. */
function codecEndpoint(config: Config): string {
  const host = isLoopback(config.api.host) || config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.api.port}/codec`;
}

async function startTemporal(
  config: Config,
  log: Logger,
  codecEndpoint: string | undefined,
): Promise<{ address: string; server?: DevServer }> {
  if (config.temporal.address) return { address: config.temporal.address };
  const cliPath = await resolveTemporalCli({
    cliPath: config.temporal.cliPath,
    cacheDir: config.cacheDir,
    log: (msg) => log.info(msg),
  });
  // The configured ports when free (a stable UI address), any free port otherwise.
  const port = (await portIsFree(config.temporal.port)) ? config.temporal.port : 0;
  const uiPort = (await portIsFree(config.temporal.uiPort)) ? config.temporal.uiPort : 0;
  const started = Date.now();
  const server = await startDevServer({
    cliPath,
    port,
    uiPort,
    dbFile: path.join(config.dataDir, 'temporal.db'),
    sqliteSynchronous: config.temporal.sqliteSynchronous,
    namespace: config.temporal.namespace,
    namespaceRetentionDays: config.temporal.namespaceRetentionDays,
    logFile: path.join(config.dataDir, 'temporal.log'),
    codecEndpoint,
  });
  log.info(
    { address: server.address, ui: server.uiUrl, ms: Date.now() - started },
    'temporal dev server ready',
  );
  return { address: server.address, server };
}

async function startPostgres(config: Config, log: Logger): Promise<{ url: string; embedded?: EmbeddedPg }> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const started = Date.now();
  const port = (await portIsFree(config.postgresPort)) ? config.postgresPort : 0;
  const embedded = await startEmbeddedPostgres({
    dataDir: path.join(config.dataDir, 'postgres'),
    port,
    log: (msg) => log.debug(msg),
  });
  const url = await ensureDatabase(embedded.url, EMBEDDED_DATABASE);
  log.info({ port: embedded.port, ms: Date.now() - started }, 'embedded postgres ready');
  return { url, embedded };
}
