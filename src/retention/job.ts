// SessionCleanupJob: deletes expired sessions now and then on an interval (the reference's cleanup.go).
// Used by the runtime and by library users; a service may supply its own scheduler (Temporal: a Schedule).
import type { SessionService } from '../service';
import { DEFAULT_CLEANUP_INTERVAL_MS, DEFAULT_RETENTION_DAYS } from '../types';

export interface CleanupConfig {
  retentionDays: number;
  cleanupIntervalMs: number;
}

/** A scheduler a service runs itself (the Temporal service backs it with a Temporal Schedule). */
export interface CleanupScheduler {
  /** Makes sure cleanups run every interval, starting now. Idempotent. */
  start(): Promise<void>;
  /** Makes sure no further cleanups are started. Idempotent. */
  stop(): Promise<void>;
  /** Runs one cleanup now and returns how many sessions it deleted. */
  runOnce(): Promise<number>;
}

/** A service that schedules its own cleanups. */
export interface SchedulingSessionService extends SessionService {
  cleanupScheduler(config: CleanupConfig): CleanupScheduler;
}

export interface CleanupLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function hasCleanupScheduler(service: SessionService): service is SchedulingSessionService {
  return typeof (service as Partial<SchedulingSessionService>).cleanupScheduler === 'function';
}

const consoleLogger: CleanupLogger = {
  info: (message, fields) => console.info(message, fields ?? {}),
  error: (message, fields) => console.error(message, fields ?? {}),
};

export class SessionCleanupJob {
  /** The resolved config: non-positive values were replaced by the defaults, like the reference. */
  readonly config: Readonly<CleanupConfig>;
  private readonly logger: CleanupLogger;
  private running = false;
  /** Bumped by every start and stop; a run or timer of an older generation does nothing. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Generation of the run under way, if any. */
  private inFlightOf: number | undefined;
  private abortCleanup: (() => void) | undefined;
  private scheduler: CleanupScheduler | undefined;
  /** Scheduler start/stop calls in the order they were asked for, so a stop never overtakes its start. */
  private transitions: Promise<void> = Promise.resolve();

  constructor(
    private readonly service: SessionService,
    config: Partial<CleanupConfig> = {},
    options: { logger?: CleanupLogger } = {},
  ) {
    this.config = Object.freeze(resolveCleanupConfig(config));
    this.logger = options.logger ?? consoleLogger;
  }

  /**
   * Starts cleaning: one run now, then one every interval. A second start while running does nothing.
   * Aborting `signal` stops the job. Resolves once the job is scheduled, not when the first run ends.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.running || signal?.aborted) return;
    this.running = true;
    const generation = ++this.generation;
    if (signal) {
      const onAbort = (): void => void this.stop();
      signal.addEventListener('abort', onAbort, { once: true });
      this.abortCleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.logger.info('session cleanup job started', { ...this.config });

    const scheduler = this.ownScheduler();
    if (scheduler) {
      try {
        await this.transition(() => scheduler.start());
      } catch (error) {
        // The schedule could not be set up: the job is not running, and the caller should know.
        if (this.generation === generation) this.markStopped();
        throw error;
      }
      return;
    }
    this.timer = setInterval(() => this.tick(generation), this.config.cleanupIntervalMs);
    // A cleanup timer alone should not keep a process alive.
    this.timer.unref();
    this.tick(generation);
  }

  /**
   * Stops at once: no run starts after this returns. A run already under way may finish; its result is only
   * logged. Idempotent. With a service scheduler, resolves when the scheduler has stopped.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.markStopped();
    this.generation++;
    this.logger.info('session cleanup job stopped');
    const scheduler = this.scheduler;
    if (scheduler) await this.transition(() => scheduler.stop());
  }

  isRunning(): boolean {
    return this.running;
  }

  /** Runs one cleanup now, whether or not the job is running, and returns how many sessions it deleted. */
  runOnce(): Promise<number> {
    const scheduler = this.ownScheduler();
    return scheduler ? scheduler.runOnce() : this.service.cleanupExpired(this.config.retentionDays);
  }

  private tick(generation: number): void {
    // Ticks are dropped while a run is in flight, like Go's ticker, so runs never overlap.
    if (generation !== this.generation || this.inFlightOf === generation) return;
    this.inFlightOf = generation;
    const settled = (): void => {
      if (this.inFlightOf === generation) this.inFlightOf = undefined;
    };
    this.service.cleanupExpired(this.config.retentionDays).then(
      (deleted) => {
        settled();
        const stale = generation !== this.generation;
        if (deleted > 0 || stale)
          this.logger.info('session cleanup deleted expired sessions', {
            deleted,
            retentionDays: this.config.retentionDays,
            ...(stale ? { finishedAfterStop: true } : {}),
          });
      },
      (error: unknown) => {
        settled();
        this.logger.error('session cleanup failed', { error, retentionDays: this.config.retentionDays });
      },
    );
  }

  private markStopped(): void {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.abortCleanup?.();
    this.abortCleanup = undefined;
  }

  private ownScheduler(): CleanupScheduler | undefined {
    if (!this.scheduler && hasCleanupScheduler(this.service))
      this.scheduler = this.service.cleanupScheduler(this.config);
    return this.scheduler;
  }

  private transition(step: () => Promise<void>): Promise<void> {
    const next = this.transitions.then(step);
    // A failed step must not block the ones after it; the caller of this step sees its error.
    this.transitions = next.catch(() => undefined);
    return next;
  }
}

/**
 * The reference's fallbacks: a non-positive (or fractional) retention and a non-positive interval become the
 * defaults. Also used by the runtime, which sets up the cleanup Schedule without a job.
 */
export function resolveCleanupConfig(config: Partial<CleanupConfig> = {}): CleanupConfig {
  return {
    // Days are whole (the services reject fractions), so a fraction falls back like a non-positive value.
    retentionDays: Number.isInteger(config.retentionDays)
      ? positiveOr(config.retentionDays, DEFAULT_RETENTION_DAYS)
      : DEFAULT_RETENTION_DAYS,
    cleanupIntervalMs: positiveOr(config.cleanupIntervalMs, DEFAULT_CLEANUP_INTERVAL_MS),
  };
}

function positiveOr(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}
