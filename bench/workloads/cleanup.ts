// Cleanup of M expired sessions: the product's cleanup (the cleanup workflow via service.cleanupExpired when it
// exists) and the direct SQL batch delete of PostgresSessionStore, each with actor turn latency before and during.
import { PostgresSessionStore } from '../../src/postgres/store';
import { SessionRecovery } from '../../src/recovery';
import type { BenchContext } from '../context';
import { seedSessions, settleSeeded } from '../seed';
import { latency, Latency, nowMs } from '../stats';

const RETENTION_DAYS = 30;

export interface CleanupRun {
  path: string;
  seeded: number;
  deleted: number;
  seconds: number;
  rowsPerSec: number;
  timedOut: boolean;
  /** Expired seeded sessions left after the cleanup (goal 0) and unexpired ones it deleted (goal 0). */
  survivors: number;
  freshDeleted: number;
  /** Data keys of the expired sessions left after the cleanup (goal 0) and of unexpired ones destroyed (goal 0). */
  keysLeft: number;
  freshKeysDestroyed: number;
  turnsBefore: Latency;
  turnsDuring: Latency;
  p99Ratio: number;
  error?: string;
}

export interface CleanupResult {
  product?: CleanupRun;
  sqlBatch: CleanupRun;
}

export async function runCleanup(ctx: BenchContext, opts: { timeoutMs: number }): Promise<CleanupResult> {
  const service = ctx.target.service as unknown as { cleanupExpired?: (days: number) => Promise<number> };
  const product =
    typeof service.cleanupExpired === 'function'
      ? await cleanupWith(ctx, 'product', 'TemporalSessionService.cleanupExpired (cleanup workflow)', () =>
          (service.cleanupExpired as (d: number) => Promise<number>).call(ctx.target.service, RETENTION_DAYS), opts.timeoutMs)
      : undefined;
  const store = new PostgresSessionStore(ctx.target.pool);
  const sqlBatch = await cleanupWith(ctx, 'sql', 'PostgresSessionStore.cleanupExpired (SQL batches of 1000)', () =>
    store.cleanupExpired(RETENTION_DAYS), opts.timeoutMs);
  return { product, sqlBatch };
}

async function cleanupWith(
  ctx: BenchContext,
  tag: string,
  label: string,
  cleanup: () => Promise<number>,
  timeoutMs: number,
): Promise<CleanupRun> {
  const { target, progress, sizes } = ctx;
  const m = sizes.cleanupRows;
  progress.step(`cleanup (${tag}): seeding ${m} expired sessions`, m);
  const now = Math.floor(Date.now() / 1000);
  await seedSessions(
    target.pool,
    {
      prefix: `${ctx.runId}-exp-${tag}`,
      count: m,
      firstUser: 2_000_000,
      perUser: 20,
      newest: now - 40 * 86_400,
      spreadSeconds: 20 * 86_400,
      keys: true,
    },
    (n) => progress.tick(n),
  );
  // Unexpired sessions beside them (1 per 100, ≥ 1 day inside the retention): the cleanup must not touch them.
  const fresh = Math.max(100, Math.floor(m / 100));
  const freshPrefix = `${ctx.runId}-fresh-${tag}`;
  await seedSessions(target.pool, {
    prefix: freshPrefix,
    count: fresh,
    firstUser: 3_000_000,
    perUser: 20,
    newest: now - 86_400,
    spreadSeconds: (RETENTION_DAYS - 2) * 86_400,
    keys: true,
  });
  await settleSeeded(target.pool);
  const recovery = new SessionRecovery(target.service);
  const id = `${ctx.runId}-cleanup-turns-${tag}`;
  await recovery.recoverSession(id, 41, 'assistant');
  const turn = (i: number) => recovery.appendTurn(id, `q${i}`, `a${i}`);
  for (let i = 0; i < 10; i++) await turn(i);

  progress.step(`cleanup (${tag}): turns before`, Math.max(50, sizes.turns));
  const before: number[] = [];
  for (let i = 0; i < Math.max(50, sizes.turns); i++) {
    const t0 = nowMs();
    await turn(i);
    before.push(nowMs() - t0);
    progress.tick();
  }

  progress.step(`cleanup (${tag}): deleting ${m} expired sessions`, 1);
  const expiredNow = async () =>
    Number((await target.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM conversation_context WHERE updated_at < $1::bigint`, [now - RETENTION_DAYS * 86_400])).rows[0].n);
  const expiredBefore = await expiredNow();
  const during: number[] = [];
  let running = true;
  let error: string | undefined;
  let timedOut = false;
  const t0 = nowMs();
  const work = cleanup().then(
    (n) => n,
    (err: unknown) => {
      error = String((err as Error)?.message ?? err);
      return NaN;
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const turns = (async () => {
    for (let i = 0; running; i++) {
      const s = nowMs();
      await turn(i);
      during.push(nowMs() - s);
    }
  })();
  const outcome = await Promise.race([work, timeout]);
  const seconds = (nowMs() - t0) / 1000;
  clearTimeout(timer);
  running = false;
  await turns;
  if (outcome === 'timeout') {
    timedOut = true;
    await stopCleanupWorkflows(ctx);
    await work;
  }
  const deleted = expiredBefore - (await expiredNow());
  // Rows of a seeded group still there: its sessions, or their data keys.
  const rowsOf = async (table: 'conversation_context' | 'session_key', prefix: string) =>
    Number((await target.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE session_id LIKE $1`, [`${prefix}-%`])).rows[0].n);
  const left = (prefix: string) => rowsOf('conversation_context', prefix);
  const keys = (prefix: string) => rowsOf('session_key', prefix);
  const survivors = timedOut ? NaN : await left(`${ctx.runId}-exp-${tag}`);
  const freshDeleted = fresh - (await left(freshPrefix));
  const keysLeft = timedOut ? NaN : await keys(`${ctx.runId}-exp-${tag}`);
  const freshKeysDestroyed = fresh - (await keys(freshPrefix));
  progress.done();
  const b = latency(before);
  const d = latency(during);
  return {
    path: label,
    seeded: m,
    deleted,
    seconds,
    rowsPerSec: deleted / seconds,
    timedOut,
    survivors,
    freshDeleted,
    keysLeft,
    freshKeysDestroyed,
    turnsBefore: b,
    turnsDuring: d,
    p99Ratio: d.p99 / b.p99,
    error: timedOut ? undefined : error,
  };
}

/** Terminates running cleanup workflows (only when the product cleanup exceeds the benchmark's budget). */
async function stopCleanupWorkflows(ctx: BenchContext): Promise<void> {
  const c = ctx.target.client;
  for await (const w of c.workflow.list({ query: `WorkflowType = 'sessionCleanup' AND ExecutionStatus = 'Running'` })) {
    await c.workflow.getHandle(w.workflowId, w.runId).terminate('benchmark time budget').catch(() => undefined);
  }
}
