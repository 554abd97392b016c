// Snapshot write health for operators: counts failed writes and says so in the log while they fail (at most one
// warning per interval) and once when they recover. The worker's activities report to it as their SnapshotObserver.
import type { Logger as SdkLogger, LogLevel, LogMetadata } from '@temporalio/common';
import { Counter, Gauge } from 'prom-client';
import type { SessionActivities, SnapshotObserver } from '../activities';
import { SessionError } from './errors';
import type { SessionMetrics } from './metrics';

export interface SnapshotHealthLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export interface SnapshotHealthOptions {
  logger: SnapshotHealthLogger;
  /** At most one log line per this many milliseconds (config.worker.snapshotWarnIntervalMs). */
  intervalMs: number;
  /**
   * Counts the writes (and what else it observes); the failure counter and the failing gauge are added to its
   * registry, so they appear wherever it is served (the API's /metrics, a worker's endpoint).
   */
  metrics?: SessionMetrics;
}

/**
 * Outages last minutes and every actor retries its write every few seconds, so logging each failure would bury
 * the log. Instead, while writes fail, one warning per interval carries how many failed since the last line and
 * the last error's code; the first successful write after failures is announced once, no sooner than the interval
 * allows. Whatever happens in between is folded into the next line, so every failure is reported exactly once.
 */
export class SnapshotHealth implements SnapshotObserver {
  private failing = false;
  /** When the current outage began (its first failure). */
  private failingSince = 0;
  /** Failures of the current outage, and those not yet reported in a line. */
  private outageFailures = 0;
  private unreported = 0;
  private lastCode = '';
  /** Whether the current state (failing, or recovered after failures) still needs its line. */
  private announce: 'none' | 'failing' | 'recovered' = 'none';
  private lastLineAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private readonly failures?: Counter<'code'>;
  private readonly failingGauge?: Gauge;

  constructor(private readonly options: SnapshotHealthOptions) {
    const registers = options.metrics ? [options.metrics.registry] : undefined;
    if (registers) {
      this.failures = new Counter({
        name: 'ds_snapshot_write_failures_total',
        help: 'Snapshot writes that failed (each is retried), by error code (SQLSTATE or socket error)',
        labelNames: ['code'],
        registers,
      });
      this.failingGauge = new Gauge({
        name: 'ds_snapshot_writes_failing',
        help: '1 while snapshot writes fail (from the first failure to the next successful write), else 0',
        registers,
      });
    }
  }

  recordSnapshotWrite(lagSeconds: number): void {
    this.options.metrics?.recordSnapshotWrite(lagSeconds);
    if (!this.failing) return;
    this.failing = false;
    this.failingGauge?.set(0);
    this.announce = 'recovered';
    this.emitWhenAllowed();
  }

  recordSnapshotFailure(error: unknown): void {
    const code = errorCode(error);
    this.failures?.inc({ code });
    this.lastCode = code;
    this.unreported++;
    if (!this.failing) {
      this.failing = true;
      this.failingGauge?.set(1);
      // A recovery not yet announced followed by a new failure is one outage, seen at the interval's grain.
      if (this.announce !== 'recovered') {
        this.failingSince = Date.now();
        this.outageFailures = 0;
      }
    }
    this.outageFailures++;
    this.announce = 'failing';
    this.emitWhenAllowed();
  }

  /** Counted by the metrics; the activity logs each one itself (none is retried, so none floods the log). */
  recordPermanentStorageFailure(operation: string, code: string): void {
    this.options.metrics?.recordPermanentStorageFailure(operation, code);
  }

  /** Stops the pending line's timer (it is unref'd, so this only matters to tests and clean shutdowns). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private emitWhenAllowed(): void {
    const wait = this.lastLineAt + this.options.intervalMs - Date.now();
    if (wait <= 0) {
      this.emit();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.emit();
    }, wait);
    this.timer.unref();
  }

  private emit(): void {
    const { logger } = this.options;
    const outageSeconds = Math.round((Date.now() - this.failingSince) / 1000);
    if (this.announce === 'failing') {
      logger.warn(
        { failures: this.unreported, code: this.lastCode, failingForSeconds: outageSeconds },
        `snapshot writes are failing: ${this.unreported} failed since the last report (last error ${this.lastCode}); ` +
          'acknowledged turns are safe in Temporal and are written when Postgres answers again',
      );
    } else if (this.announce === 'recovered') {
      logger.info(
        { failures: this.unreported, outageFailures: this.outageFailures, outageSeconds },
        `snapshot writes recovered after ${this.outageFailures} failures in ${outageSeconds} s`,
      );
      this.outageFailures = 0;
    } else {
      return;
    }
    this.announce = 'none';
    this.unreported = 0;
    this.lastLineAt = Date.now();
  }
}

/** The activities whose failures SnapshotHealth reports (the lifecycle actor's, and the legacy runs'). */
const SNAPSHOT_WRITES: ReadonlySet<string> = new Set<keyof SessionActivities>([
  'writeSnapshot',
  'persistSnapshot',
]);

/**
 * The Temporal SDK's logger without its per-attempt "Activity failed" warning for snapshot writes: during an
 * outage every actor's retry would print one (with a stack trace) every few seconds, burying the one line per
 * interval that SnapshotHealth writes for them. Permanent failures are still logged by the activity itself.
 */
export function withoutSnapshotRetryWarnings(inner: SdkLogger): SdkLogger {
  const dropped = (level: LogLevel, message: string, meta?: LogMetadata): boolean =>
    level === 'WARN' && message === 'Activity failed' && SNAPSHOT_WRITES.has(String(meta?.activityType));
  return {
    log: (level, message, meta) =>
      dropped(level, message, meta) ? undefined : inner.log(level, message, meta),
    trace: (message, meta) => inner.trace(message, meta),
    debug: (message, meta) => inner.debug(message, meta),
    info: (message, meta) => inner.info(message, meta),
    warn: (message, meta) => (dropped('WARN', message, meta) ? undefined : inner.warn(message, meta)),
    error: (message, meta) => inner.error(message, meta),
  };
}

/**
 * What an operator greps for: the driver's code (SQLSTATE such as 57P01, or a socket code such as ECONNREFUSED),
 * found under any wrapping SessionError (whose own code, e.g. storage_unavailable, is the fallback), else the name.
 */
export function errorCode(error: unknown): string {
  let fallback: string | undefined;
  let e: unknown = error;
  for (let depth = 0; e && depth < 6; depth++) {
    if (e instanceof SessionError) fallback ??= e.code;
    else {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code !== '') return code;
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return fallback ?? (error instanceof Error ? error.name : 'unknown');
}
