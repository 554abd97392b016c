// Postgres-side counters of the benchmark: snapshot rows the actor wrote, and snapshot lag sampling.
// Used by the throughput workload (snapshot writes per turn at saturation, lag p99).
import type pg from 'pg';
import { nowMs, sleep } from './stats';

/**
 * Rows the actor's snapshot upsert wrote in this database (pg_stat_statements `rows` of the upsert, which skips
 * stale versions). pg_stat_statements records a statement when it ends, so no settling is needed. Without the
 * extension it falls back to n_tup_ins + n_tup_upd of conversation_context, which backends flush at most once a
 * second while busy (and up to 10 s later when they then go idle), after a settle.
 */
export async function snapshotRowWrites(pool: pg.Pool, settleMs = 1_500): Promise<number> {
  const client = await pool.connect();
  try {
    try {
      const r = await client.query<{ writes: string }>(
        `SELECT coalesce(sum(s.rows), 0)::text AS writes
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = current_database()
           AND s.query LIKE '%INSERT INTO conversation_context AS c%'
           AND s.query LIKE '%c.version < EXCLUDED.version%'`,
      );
      return Number(r.rows[0]?.writes ?? 0);
    } catch {
      await sleep(settleMs);
      await client.query('SELECT pg_stat_clear_snapshot()');
      const r = await client.query<{ writes: string }>(
        `SELECT (n_tup_ins + n_tup_upd)::text AS writes FROM pg_stat_user_tables WHERE relname = 'conversation_context'`,
      );
      return Number(r.rows[0]?.writes ?? 0);
    }
  } finally {
    client.release();
  }
}

/** The writes of a series that acknowledged turns, as counted: none at all means the counter missed them. */
export function writesPerTurn(writes: number, turns: number): number {
  if (turns > 0 && writes <= 0)
    throw new Error(
      `no snapshot writes counted for ${turns} acknowledged turns: the counter no longer sees the actor's upsert`,
    );
  return turns > 0 ? writes / turns : 0;
}

/**
 * Snapshot lag: for each acknowledged turn (session, version, ack wall time), the time until Postgres holds that
 * version, read from the row's `persisted_at` when a poll first sees it (resolution: the poll interval).
 */
export class LagTracker {
  private readonly pending = new Map<string, { version: number; ackAt: number }[]>();
  readonly lags: number[] = [];
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly intervalMs = 10,
  ) {}

  acked(sessionId: string, version: number): void {
    let list = this.pending.get(sessionId);
    if (!list) this.pending.set(sessionId, (list = []));
    list.push({ version, ackAt: Date.now() });
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll();
        await sleep(this.intervalMs);
      }
    })();
  }

  /** Stops the load-time polling and waits (up to timeoutMs) for every acknowledged version to reach Postgres. */
  async finish(timeoutMs = 15_000): Promise<{ unresolved: number }> {
    this.running = false;
    await this.loop;
    const deadline = nowMs() + timeoutMs;
    while (this.unresolved() > 0 && nowMs() < deadline) {
      await this.poll();
      await sleep(this.intervalMs);
    }
    return { unresolved: this.unresolved() };
  }

  private unresolved(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }

  private async poll(): Promise<void> {
    const ids = [...this.pending.entries()].filter(([, l]) => l.length > 0).map(([id]) => id);
    if (ids.length === 0) return;
    const r = await this.pool.query<{ session_id: string; version: string; at: string }>(
      `SELECT session_id, version::text, (extract(epoch FROM persisted_at) * 1000)::text AS at
       FROM conversation_context WHERE session_id = ANY($1::text[])`,
      [ids],
    );
    for (const row of r.rows) {
      const list = this.pending.get(row.session_id);
      if (!list) continue;
      const stored = Number(row.version);
      const at = Number(row.at);
      const keep = list.filter((a) => {
        if (a.version > stored) return true;
        this.lags.push(Math.max(0, at - a.ackAt));
        return false;
      });
      this.pending.set(row.session_id, keep);
    }
  }
}
