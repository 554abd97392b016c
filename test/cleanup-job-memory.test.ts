// Tests of SessionCleanupJob on the in-memory service and on fake services, with jest's fake timers.
// Covers the reference's semantics and the fixed stop race, and delegation to a service's own scheduler.
import {
  type CleanupConfig,
  type CleanupLogger,
  type CleanupScheduler,
  SessionCleanupJob,
} from '../src/retention/job';
import { InMemorySessionService } from '../src/memory/in-memory-service';
import type { SessionService } from '../src/service';
import { DEFAULT_CLEANUP_INTERVAL_MS, DEFAULT_RETENTION_DAYS } from '../src/types';

const INTERVAL = 1000;

function silentLogger(): jest.Mocked<CleanupLogger> {
  return { info: jest.fn(), error: jest.fn() };
}

/** A service whose cleanupExpired is a mock; the other methods are never called by the job. */
function fakeService(cleanup: (days: number) => Promise<number> = async () => 0) {
  const cleanupExpired = jest.fn(cleanup);
  const unused = () => Promise.reject(new Error('not used by the cleanup job'));
  const service: SessionService = {
    saveContext: unused,
    loadContext: unused,
    listSessions: unused,
    listSessionsPage: unused,
    deleteSession: unused,
    cleanupExpired,
  };
  return { service, cleanupExpired };
}

/** Lets timers and the promise callbacks they start run. */
const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('SessionCleanupJob config', () => {
  it('falls back to the defaults for non-positive values, like the reference', () => {
    const { service } = fakeService();
    expect(new SessionCleanupJob(service).config).toEqual({
      retentionDays: DEFAULT_RETENTION_DAYS,
      cleanupIntervalMs: DEFAULT_CLEANUP_INTERVAL_MS,
    });
    expect(new SessionCleanupJob(service, { retentionDays: 0, cleanupIntervalMs: -1 }).config).toEqual({
      retentionDays: 30,
      cleanupIntervalMs: 24 * 60 * 60 * 1000,
    });
    expect(new SessionCleanupJob(service, { retentionDays: -3, cleanupIntervalMs: NaN }).config).toEqual({
      retentionDays: 30,
      cleanupIntervalMs: 24 * 60 * 60 * 1000,
    });
    expect(new SessionCleanupJob(service, { retentionDays: 7, cleanupIntervalMs: 5 }).config).toEqual({
      retentionDays: 7,
      cleanupIntervalMs: 5,
    });
    // Whole days only (the services reject fractions).
    expect(new SessionCleanupJob(service, { retentionDays: 1.5 }).config.retentionDays).toBe(30);
  });

  it('exposes a config that cannot be changed', () => {
    const job = new SessionCleanupJob(fakeService().service, { retentionDays: 7 });
    expect(Object.isFrozen(job.config)).toBe(true);
  });
});

describe('SessionCleanupJob with the in-process timer', () => {
  it('runs once immediately on start, then every interval', async () => {
    const { service, cleanupExpired } = fakeService();
    const job = new SessionCleanupJob(
      service,
      { retentionDays: 7, cleanupIntervalMs: INTERVAL },
      { logger: silentLogger() },
    );
    await job.start();
    expect(job.isRunning()).toBe(true);
    await advance(0);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
    expect(cleanupExpired).toHaveBeenCalledWith(7);
    await advance(INTERVAL - 1);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
    await advance(1);
    expect(cleanupExpired).toHaveBeenCalledTimes(2);
    await advance(3 * INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(5);
    await job.stop();
  });

  it('ignores a second start while running', async () => {
    const { service, cleanupExpired } = fakeService();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger: silentLogger() });
    await job.start();
    await job.start();
    await advance(0);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
    await advance(INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(2);
    await job.stop();
  });

  it('stops at once, idempotently, with no run after stop', async () => {
    const { service, cleanupExpired } = fakeService();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger: silentLogger() });
    await job.stop(); // not running: nothing to do
    await job.start();
    await advance(0);
    const stopped = job.stop();
    expect(job.isRunning()).toBe(false);
    await stopped;
    await job.stop();
    await advance(10 * INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('stop right after start prevents every later run', async () => {
    const { service, cleanupExpired } = fakeService();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger: silentLogger() });
    await job.start();
    await job.stop();
    await advance(10 * INTERVAL);
    // Only the immediate run, which had begun before stop.
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
  });

  it('lets a run in flight at stop finish, logs it, and starts nothing after', async () => {
    let finish: (n: number) => void = () => undefined;
    const { service, cleanupExpired } = fakeService(
      () => new Promise<number>((resolve) => (finish = resolve)),
    );
    const logger = silentLogger();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger });
    await job.start();
    await advance(0);
    await job.stop();
    finish(3);
    await advance(5 * INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
    expect(logger.info).toHaveBeenCalledWith(
      'session cleanup deleted expired sessions',
      expect.objectContaining({ deleted: 3, finishedAfterStop: true }),
    );
    expect(job.isRunning()).toBe(false);
  });

  it('does not overlap runs: a tick during a slow run is dropped', async () => {
    const finishers: Array<(n: number) => void> = [];
    const { service, cleanupExpired } = fakeService(
      () => new Promise<number>((resolve) => finishers.push(resolve)),
    );
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger: silentLogger() });
    await job.start();
    await advance(3 * INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
    finishers[0](0);
    await advance(INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(2);
    await job.stop();
  });

  it('can start again after stop', async () => {
    const { service, cleanupExpired } = fakeService();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger: silentLogger() });
    await job.start();
    await job.stop();
    await job.start();
    await advance(INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(3);
    expect(job.isRunning()).toBe(true);
    await job.stop();
  });

  it('stops when the signal aborts, and does not start on an aborted signal', async () => {
    const { service, cleanupExpired } = fakeService();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger: silentLogger() });
    const controller = new AbortController();
    await job.start(controller.signal);
    await advance(0);
    controller.abort();
    expect(job.isRunning()).toBe(false);
    await advance(5 * INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);

    await job.start(controller.signal);
    expect(job.isRunning()).toBe(false);
    await advance(5 * INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(1);
  });

  it('an old signal aborting later does not stop a newer start', async () => {
    const { service } = fakeService();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger: silentLogger() });
    const first = new AbortController();
    await job.start(first.signal);
    await job.stop();
    await job.start();
    first.abort();
    expect(job.isRunning()).toBe(true);
    await job.stop();
  });

  it('logs errors of periodic runs and keeps running', async () => {
    const { service, cleanupExpired } = fakeService(() => Promise.reject(new Error('database down')));
    const logger = silentLogger();
    const job = new SessionCleanupJob(service, { cleanupIntervalMs: INTERVAL }, { logger });
    await job.start();
    await advance(INTERVAL);
    expect(cleanupExpired).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(logger.error).toHaveBeenCalledWith(
      'session cleanup failed',
      expect.objectContaining({ error: expect.any(Error) }),
    );
    expect(job.isRunning()).toBe(true);
    await job.stop();
  });

  it('deletes expired sessions of the in-memory service and logs the count', async () => {
    let nowMs = 1_700_000_000_000;
    const service = new InMemorySessionService({ now: () => nowMs });
    nowMs += 31 * 86400 * 1000;
    const logger = silentLogger();
    const job = new SessionCleanupJob(
      service,
      { retentionDays: 30, cleanupIntervalMs: INTERVAL },
      { logger },
    );
    await job.start();
    await advance(0);
    expect(await service.listSessions(1, 10)).toEqual([]);
    expect(logger.info).toHaveBeenCalledWith(
      'session cleanup deleted expired sessions',
      expect.objectContaining({ deleted: 4, retentionDays: 30 }),
    );
    await job.stop();
  });

  it('runOnce works whether or not the job is running and returns the count', async () => {
    let nowMs = 1_700_000_000_000;
    const service = new InMemorySessionService({ now: () => nowMs });
    const job = new SessionCleanupJob(service, { retentionDays: 1 }, { logger: silentLogger() });
    expect(await job.runOnce()).toBe(0);
    nowMs += (86400 - 1000) * 1000;
    // The cutoff is now T - 1000: session-004 (updated at T - 900) stays, the other three go.
    expect(await job.runOnce()).toBe(3);
    expect(job.isRunning()).toBe(false);
  });

  it('runOnce passes errors to the caller', async () => {
    const { service } = fakeService(() => Promise.reject(new Error('database down')));
    const job = new SessionCleanupJob(service, {}, { logger: silentLogger() });
    await expect(job.runOnce()).rejects.toThrow('database down');
  });
});

describe('SessionCleanupJob with a service scheduler', () => {
  function schedulingService(scheduler: Partial<CleanupScheduler> = {}) {
    const own: jest.Mocked<CleanupScheduler> = {
      start: jest.fn(scheduler.start ?? (async () => undefined)),
      stop: jest.fn(scheduler.stop ?? (async () => undefined)),
      runOnce: jest.fn(scheduler.runOnce ?? (async () => 11)),
    };
    const { service, cleanupExpired } = fakeService();
    const cleanupScheduler = jest.fn((_config: CleanupConfig) => own);
    return {
      service: Object.assign(service, { cleanupScheduler }),
      scheduler: own,
      cleanupScheduler,
      cleanupExpired,
    };
  }

  it('delegates start, stop and runOnce, tracking running state itself', async () => {
    const { service, scheduler, cleanupScheduler, cleanupExpired } = schedulingService();
    const job = new SessionCleanupJob(
      service,
      { retentionDays: 0, cleanupIntervalMs: 60_000 },
      { logger: silentLogger() },
    );
    await job.start();
    expect(cleanupScheduler).toHaveBeenCalledWith({ retentionDays: 30, cleanupIntervalMs: 60_000 });
    expect(scheduler.start).toHaveBeenCalledTimes(1);
    expect(job.isRunning()).toBe(true);
    await job.start();
    expect(scheduler.start).toHaveBeenCalledTimes(1);

    expect(await job.runOnce()).toBe(11);
    await job.stop();
    await job.stop();
    expect(scheduler.stop).toHaveBeenCalledTimes(1);
    expect(job.isRunning()).toBe(false);
    await advance(10 * 60_000);
    expect(cleanupExpired).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
    expect(cleanupScheduler).toHaveBeenCalledTimes(1);
  });

  it('runOnce delegates while stopped', async () => {
    const { service, scheduler } = schedulingService();
    const job = new SessionCleanupJob(service, {}, { logger: silentLogger() });
    expect(await job.runOnce()).toBe(11);
    expect(scheduler.runOnce).toHaveBeenCalledTimes(1);
    expect(scheduler.start).not.toHaveBeenCalled();
  });

  it('a stop during a pending start reaches the scheduler after the start', async () => {
    const order: string[] = [];
    let release: () => void = () => undefined;
    const { service } = schedulingService({
      start: () =>
        new Promise<void>((resolve) => {
          order.push('start');
          release = () => {
            order.push('started');
            resolve();
          };
        }),
      stop: async () => {
        order.push('stop');
      },
    });
    const job = new SessionCleanupJob(service, {}, { logger: silentLogger() });
    const starting = job.start();
    const stopping = job.stop();
    expect(job.isRunning()).toBe(false);
    await advance(0);
    expect(order).toEqual(['start']);
    release();
    await Promise.all([starting, stopping]);
    expect(order).toEqual(['start', 'started', 'stop']);
  });

  it('a failing scheduler start is thrown and leaves the job stopped', async () => {
    const { service } = schedulingService({ start: () => Promise.reject(new Error('no schedule')) });
    const job = new SessionCleanupJob(service, {}, { logger: silentLogger() });
    await expect(job.start()).rejects.toThrow('no schedule');
    expect(job.isRunning()).toBe(false);
  });

  it('stops the scheduler when the signal aborts', async () => {
    const { service, scheduler } = schedulingService();
    const job = new SessionCleanupJob(service, {}, { logger: silentLogger() });
    const controller = new AbortController();
    await job.start(controller.signal);
    controller.abort();
    expect(job.isRunning()).toBe(false);
    await advance(0);
    expect(scheduler.stop).toHaveBeenCalledTimes(1);
  });
});
