// Prometheus metrics of durable-sessions: HTTP latency, turns, snapshot writes and lag, cleanup deletions.
// One SessionMetrics per process part (each with its own registry, so two apps in one process never clash);
// the API serves it on /metrics and the worker's activities call recordSnapshotWrite.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type AckMode = 'applied' | 'durable';

export interface MetricsOptions {
  /** Also collect Node's process metrics (CPU, memory, event loop lag). Default true. */
  processMetrics?: boolean;
  registry?: Registry;
}

export class SessionMetrics {
  readonly registry: Registry;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly turns: Counter<'ack'>;
  private readonly snapshotWrites: Counter;
  private readonly snapshotLag: Histogram;
  private readonly cleanupDeletions: Counter;
  private readonly permanentFailures: Counter<'operation' | 'code'>;

  constructor(options: MetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'ds_http_request_duration_seconds',
      help: 'HTTP request latency by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.turns = new Counter({
      name: 'ds_turns_appended_total',
      help: 'Turns appended, by acknowledgement (applied: update; durable: signal)',
      labelNames: ['ack'],
      registers,
    });
    this.snapshotWrites = new Counter({
      name: 'ds_snapshot_writes_total',
      help: 'Session snapshots written to Postgres',
      registers,
    });
    this.snapshotLag = new Histogram({
      name: 'ds_snapshot_lag_seconds',
      help: "Time from a session's last change to its snapshot reaching Postgres",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.permanentFailures = new Counter({
      name: 'ds_storage_permanent_failures_total',
      help: 'Postgres failures no retry can fix (the session actor enters its failed state), by operation and SQLSTATE',
      labelNames: ['operation', 'code'],
      registers,
    });
    this.cleanupDeletions = new Counter({
      name: 'ds_cleanup_deleted_sessions_total',
      help: 'Sessions deleted by retention cleanup',
      registers,
    });
  }

  /** `route` is the route template (`/v1/sessions/:id`), never the raw URL, so label values stay few. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  recordTurn(ack: AckMode): void {
    this.turns.inc({ ack });
  }

  /** For the actor's persist activity: one snapshot written, `lagSeconds` after the change it carries. */
  recordSnapshotWrite(lagSeconds: number): void {
    this.snapshotWrites.inc();
    if (Number.isFinite(lagSeconds) && lagSeconds >= 0) this.snapshotLag.observe(lagSeconds);
  }

  /** A storage failure no retry can fix (activities/index.ts): the session's actor is now in its failed state. */
  recordPermanentStorageFailure(operation: string, code: string): void {
    this.permanentFailures.inc({ operation, code });
  }

  recordCleanupDeletions(count: number): void {
    if (count > 0) this.cleanupDeletions.inc(count);
  }

  /** The Prometheus text exposition of this registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export function createMetrics(options?: MetricsOptions): SessionMetrics {
  return new SessionMetrics(options);
}
