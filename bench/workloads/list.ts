// listSessions with N stored sessions: first pages of random users, and keyset cursor pages.
// Seeds with insertSnapshotsRaw (unnest) in chunks, then ANALYZE.
import type { BenchContext } from '../context';
import { seedSessions } from '../seed';
import { Figure, figure, latency, nowMs } from '../stats';

export const LIST_FIRST_USER = 1_000_000;
const PER_USER = 50;

export interface ListResult {
  rows: number;
  perUser: number;
  seedSeconds: number;
  seedRowsPerSec: number;
  firstPage: { p50: Figure; p99: Figure };
  cursorPage: { p50: Figure; p99: Figure };
}

export async function runList(ctx: BenchContext): Promise<ListResult> {
  const { target, progress, sizes } = ctx;
  const rows = sizes.rows;
  progress.step(`listSessions: seeding ${rows} sessions`, rows);
  const t0 = nowMs();
  const now = Math.floor(Date.now() / 1000);
  await seedSessions(
    target.pool,
    { prefix: `${ctx.runId}-list`, count: rows, firstUser: LIST_FIRST_USER, perUser: PER_USER, newest: now - 60, spreadSeconds: 20 * 86_400 },
    (n) => progress.tick(n),
  );
  await target.pool.query('ANALYZE conversation_context');
  const seedSeconds = (nowMs() - t0) / 1000;
  const users = Math.max(1, Math.floor(rows / PER_USER));
  const user = () => LIST_FIRST_USER + Math.floor(Math.random() * users);
  const q = sizes.listQueries;
  progress.step(`listSessions: ${sizes.rounds} × (${q} first pages + cursor pages)`, sizes.rounds * q * 2);
  const rounds: { first: number[]; next: number[] }[] = [];
  for (let r = 0; r < sizes.rounds; r++) {
    const first: number[] = [];
    const next: number[] = [];
    for (let i = 0; i < q; i++) {
      const s = nowMs();
      await target.service.listSessions(user(), 20);
      first.push(nowMs() - s);
      progress.tick();
    }
    // Cursor pages: page through one user's sessions 10 at a time, timing every page after the first.
    while (next.length < q) {
      const owner = user();
      let page = await target.service.listSessionsPage(owner, 10);
      while (page.nextCursor && next.length < q) {
        const s = nowMs();
        page = await target.service.listSessionsPage(owner, 10, { cursor: page.nextCursor });
        next.push(nowMs() - s);
        progress.tick();
      }
      if (!page.nextCursor && next.length === 0) break;
    }
    rounds.push({ first, next });
  }
  progress.done();
  const l = rounds.map((x) => ({ first: latency(x.first), next: latency(x.next) }));
  return {
    rows,
    perUser: PER_USER,
    seedSeconds,
    seedRowsPerSec: rows / seedSeconds,
    firstPage: { p50: figure(l.map((x) => x.first.p50)), p99: figure(l.map((x) => x.first.p99)) },
    cursorPage: { p50: figure(l.map((x) => x.next.p50)), p99: figure(l.map((x) => x.next.p99)) },
  };
}
