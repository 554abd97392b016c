// Turns the benchmark's results into the one markdown table it prints (and BENCHMARKS.md quotes).
// Used by bench/main.ts.
import type { Figure } from './stats';
import type { Results } from './results';
import { type HistoryGroup, WIDE_WINDOW_MS } from './workloads/history';

const ms = (v: number) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) : '–');
const num = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');
/** A median with its spread over rounds. */
const f = (fig: Figure | undefined, fmt: (v: number) => string = ms) =>
  !fig || !Number.isFinite(fig.median)
    ? '–'
    : fig.rounds.length > 1
      ? `${fmt(fig.median)} (${fmt(fig.min)}–${fmt(fig.max)})`
      : fmt(fig.median);
const verdict = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? '✅ met' : '❌ missed');

export function markdownTable(r: Results): string {
  const rows: string[][] = [];
  const add = (...cells: string[]) => rows.push(cells);
  const lat = r.latency;
  if (lat) {
    const s = lat.series;
    const l3 = (k: keyof typeof s) => `p50 ${f(s[k].p50)} · p90 ${f(s[k].p90)} · p99 ${f(s[k].p99)} ms`;
    add('floor: no-op Update, 1 client', l3('floorUpdate'), '', '', '');
    add('floor: no-op Signal (signal-with-start, as `submitTurn`), 1 client', l3('floorSignal'), `plain Signal: ${l3('floorSignalPlain')}`, '', '');
    add('warm `appendTurn`, applied (Update), 1 client', l3('applied'), `p50 ${f(lat.ratios.appliedP50, x)} · p99 ${f(lat.ratios.appliedP99, x)} the Update floor`, 'p50 ≤ 1.15×, p99 ≤ 1.3×',
      verdict(lat.ratios.appliedP50.median <= 1.15 && lat.ratios.appliedP99.median <= 1.3));
    add('warm `appendTurn`, durable (Signal), 1 client', l3('durable'), `p50 ${f(lat.ratios.durableP50, x)} · p99 ${f(lat.ratios.durableP99, x)} the Signal floor`, 'p50 ≤ 1.15×',
      verdict(lat.ratios.durableP50.median <= 1.15));
    add('read-your-writes after a durable append', `${num(100 * lat.readYourWrites.fraction, 1)} % (${lat.readYourWrites.seen}/${lat.readYourWrites.total})`, '', '100 %',
      verdict(lat.readYourWrites.fraction === 1));
  }
  const tp = r.throughput;
  if (tp) {
    const what = `${tp.sessions} sessions, ${tp.clients} clients`;
    add(`sustained, applied (${what})`, `${f(tp.opsPerSec.applied, num)} turns/s (p50 ${f(tp.p50.applied)} · p99 ${f(tp.p99.applied)} ms)`,
      `${f(tp.ratios.applied, x)} the floor's ${f(tp.opsPerSec.floorUpdate, num)} updates/s`, '≥ 0.9×', verdict(tp.ratios.applied.median >= 0.9));
    add(`sustained, durable (${what})`, `${f(tp.opsPerSec.durable, num)} turns/s (p50 ${f(tp.p50.durable)} · p99 ${f(tp.p99.durable)} ms)`,
      `${f(tp.ratios.durable, x)} the floor's ${f(tp.opsPerSec.floorSignal, num)} signals/s`, '≥ 0.9×', verdict(tp.ratios.durable.median >= 0.9));
    const w = tp.snapshotWritesPerTurn;
    add('Postgres snapshot writes per turn at saturation', `applied ${f(w.applied, (v) => num(v, 3))} · durable ${f(w.durable, (v) => num(v, 3))}`, 'rows of the snapshot upsert (pg_stat_statements)', '≤ 0.25',
      verdict(Math.max(w.applied.median, w.durable.median) <= 0.25));
    const lg = tp.snapshotLag;
    add('snapshot lag at saturation (ack → row in Postgres)', `applied p50 ${f(lg.applied.p50)} · p99 ${f(lg.applied.p99)} ms; durable p50 ${f(lg.durable.p50)} · p99 ${f(lg.durable.p99)} ms`,
      `max ${ms(Math.max(lg.applied.max.max, lg.durable.max.max))} ms; unresolved ${lg.unresolved}`, 'bounded', verdict(lg.unresolved === 0));
  }
  const c = r.contention;
  if (c) {
    add(`same-session contention, ${c.writers} writers × ${c.writesEach}`,
      `kept: actor applied ${f(c.keptPercent.actorApplied, (v) => num(v, 1))} % · actor durable ${f(c.keptPercent.actorDurable, (v) => num(v, 1))} % · PostgresSessionStore ${f(c.keptPercent.store, (v) => num(v, 1))} %`,
      `turns/s: ${f(c.turnsPerSec.actorApplied, num)} · ${f(c.turnsPerSec.actorDurable, num)} · ${f(c.turnsPerSec.store, num)}`, '100 % kept (actor)',
      verdict(c.keptPercent.actorApplied.min === 100 && c.keptPercent.actorDurable.min === 100));
  }
  if (r.store) {
    add('`PostgresSessionStore` single-writer `appendTurn`', `p50 ${f(r.store.p50)} · p99 ${f(r.store.p99)} ms`, `${f(r.store.turnsPerSec, num)} turns/s`, '', '');
  }
  const h = r.history;
  if (h) {
    add('history events per turn (1 client)', `applied ${num(h.appliedSequential.eventsPerTurn, 2)} · durable ${num(h.durableSequential.eventsPerTurn, 2)}`, `floor ${num(h.floorSequential.eventsPerTurn, 2)} per update`, '', '');
    add('history events per turn (saturated)', `applied ${num(h.appliedSaturated.eventsPerTurn, 2)} · durable ${num(h.durableSaturated.eventsPerTurn, 2)}`, `floor ${num(h.floorSaturated.eventsPerTurn, 2)} per op`, '', '');
    add('Temporal actions per turn (as the history shows them)', `1 client: applied ${num(h.appliedSequential.actionsPerTurn, 2)} · durable ${num(h.durableSequential.actionsPerTurn, 2)}; saturated: applied ${num(h.appliedSaturated.actionsPerTurn, 2)} · durable ${num(h.durableSaturated.actionsPerTurn, 2)}`,
      `floor ${num(h.floorSequential.actionsPerTurn, 2)} per update (1 client) · ${num(h.floorSaturated.actionsPerTurn, 2)} per op (saturated); queries and rejected updates not counted`, '', '');
    // The paced groups: actions per turn at one turn per 5 s, with the goal where the config is one it applies to.
    const paced = (label: string, applied: HistoryGroup | undefined, durable: HistoryGroup | undefined, judged: boolean) => {
      if (!applied || !durable) return;
      add(label, `applied ${num(applied.actionsPerTurn, 2)} · durable ${num(durable.actionsPerTurn, 2)}`,
        `by event: applied ${topActions(applied.actionsPerTurnByType)}; durable ${topActions(durable.actionsPerTurnByType)}`,
        judged ? '≤ 1.5 applied, ≤ 1.2 durable' : '', judged ? verdict(applied.actionsPerTurn <= 1.5 && durable.actionsPerTurn <= 1.2) : '');
    };
    paced('Temporal actions per turn, one turn per 5 s per session (creation included)', h.appliedPaced, h.durablePaced, true);
    paced('… with every write waiting the window (no leading edge: the actor before it)', h.appliedPacedTrailing, h.durablePacedTrailing, false);
    paced(`… with the snapshot write coalesced over ${WIDE_WINDOW_MS / 1000} s (Postgres lags by up to that)`, h.appliedPacedWide, h.durablePacedWide, true);
    add('history bytes per run', `applied ${f(h.appliedSequential.bytesPerRun, (v) => `${num(v / 1024)} KB`)} (${num(h.appliedSequential.turnsPerRun.median)} turns) · durable ${f(h.durableSequential.bytesPerRun, (v) => `${num(v / 1024)} KB`)}`,
      `${num(h.appliedSequential.bytesPerTurn)} / ${num(h.durableSequential.bytesPerTurn)} B per turn`, '', '');
  }
  const cold = r.cold;
  if (cold) {
    add(`cold rehydrate (idle-completed actor, next write; ${cold.sessions} sessions)`, `p50 ${f(cold.rehydrate.p50)} · p99 ${f(cold.rehydrate.p99)} ms`,
      `p50 ${f(cold.ratioP50, x)} a bare update-with-start (p50 ${f(cold.floorUpdateWithStart.p50)} · p99 ${f(cold.floorUpdateWithStart.p99)} ms)` +
        (cold.floorWithLoad ? ` · ${f(cold.ratioWithLoadP50, x)} one that reads the row in an activity first (p50 ${f(cold.floorWithLoad.p50)} ms)` : ''), 'p50 ≤ 1.3×', verdict(cold.ratioP50.median <= 1.3));
  }
  const ls = r.list;
  if (ls) {
    add(`\`listSessions\` with ${ls.rows.toLocaleString('en')} sessions`, `first page p50 ${f(ls.firstPage.p50)} · p99 ${f(ls.firstPage.p99)} ms; cursor page p50 ${f(ls.cursorPage.p50)} · p99 ${f(ls.cursorPage.p99)} ms`,
      `seeded at ${num(ls.seedRowsPerSec)} rows/s`, `p99 ≤ 5 ms${ls.rows < 1_000_000 ? ' (at 1 M)' : ''}`, verdict(Math.max(ls.firstPage.p99.median, ls.cursorPage.p99.median) <= 5));
  }
  for (const run of [r.cleanup?.product, r.cleanup?.sqlBatch]) {
    if (!run) continue;
    const exact = run.survivors === 0 && run.freshDeleted === 0 && run.keysLeft === 0 && run.freshKeysDestroyed === 0;
    const what = run.error ? `failed: ${run.error.slice(0, 80)}` : `${num(run.seconds, 1)} s${run.timedOut ? ' (stopped: time budget)' : ''}, ${num(run.rowsPerSec)} rows/s (${run.deleted} deleted; ${run.survivors ?? '?'} expired left, ${run.freshDeleted ?? '?'} unexpired deleted; keys: ${run.keysLeft ?? '?'} left, ${run.freshKeysDestroyed ?? '?'} unexpired destroyed)`;
    const projected = run.rowsPerSec > 0 ? 1_000_000 / run.rowsPerSec : NaN;
    add(`cleanup of ${run.seeded.toLocaleString('en')} expired: ${run.path}`, what,
      `turn p99 ${ms(run.turnsDuring.p99)} during vs ${ms(run.turnsBefore.p99)} ms before (${x(run.p99Ratio)}); 1 M ≈ ${num(projected)} s`, '1 M ≤ 20 s, p99 ≤ 1.5×',
      verdict(!run.error && exact && projected <= 20 && run.p99Ratio <= 1.5));
  }
  const m = r.memory;
  if (m) {
    add(`worker memory per cached actor (${m.sessions.toLocaleString('en')} actors)`, `RSS ${num(m.rssPerSessionKB, 1)} KB · main heap ${num(m.heapPerSessionKB, 1)} KB per actor`, `no-op workflow: RSS ${num(m.floorRssPerWorkflowKB, 1)} KB · main heap ${num(m.floorHeapPerWorkflowKB, 1)} KB each (${m.note})`, '≤ 100 KB', verdict(m.rssPerSessionKB <= 100));
  }
  const a = r.agent;
  if (a) {
    const t = a.transcript;
    add('agent step (`appendMessages`, 4 messages with a tool call), applied, 1 client', `no transcript p50 ${f(t.off.p50)} · p99 ${f(t.off.p99)} ms; transcript p50 ${f(t.on.p50)} · p99 ${f(t.on.p99)} ms`,
      `transcript ${f(t.ratioP50, x)} (p50) · ${f(t.ratioP99, x)} (p99) the step without one; Update floor p50 ${f(t.floorUpdateP50)} ms`, '', '');
    add('transcript cost per step', `${num(t.rowsPerStep, 2)} rows, ${num(t.bytesPerStep)} B in Postgres`,
      `history ${num(t.historyBytesPerStep.on)} B per step vs ${num(t.historyBytesPerStep.off)} B without (${x(t.historyBytesPerStep.on / t.historyBytesPerStep.off)})`, '', '');
    const w = a.watch;
    add('watch: acknowledgement → event (library `watch`, the actor\'s long-poll)', `applied p50 ${f(w.applied.p50)} · p99 ${f(w.applied.p99)} ms; durable p50 ${f(w.durable.p50)} · p99 ${f(w.durable.p99)} ms`,
      `event after send ${f(w.eventOverAckP50, x)} the applied ack (p50 ${f(w.appliedAck.p50)} ms); a watched session's ack ${f(w.watchedOverUnwatchedP50, x)} an unwatched one's (p50 ${f(w.unwatchedAck.p50)} ms)`, '', '');
  }
  for (const s of r.sqlite ?? []) {
    add(`SQLite: ${s.label}`, `Update p50 ${f(s.floorUpdateP50)} → applied ${f(s.appliedP50)} ms · Signal p50 ${f(s.floorSignalP50)} → durable ${f(s.durableP50)} ms`,
      `updates/s ${f(s.floorUpdatesPerSec, num)} → ${f(s.appliedPerSec, num)} · signals/s ${f(s.floorSignalsPerSec, num)} → ${f(s.durablePerSec, num)}`, '', '');
  }
  for (const v of r.variants ?? []) {
    const l = v.latency;
    const t = v.throughput;
    const h = v.history;
    add(`persist config: ${v.label}, 1 client`, `applied p50 ${f(l.series.applied.p50)} · p99 ${f(l.series.applied.p99)} ms; durable p50 ${f(l.series.durable.p50)} · p99 ${f(l.series.durable.p99)} ms; read-your-writes ${num(100 * l.readYourWrites.fraction, 1)} %`,
      `applied p50 ${f(l.ratios.appliedP50, x)} · p99 ${f(l.ratios.appliedP99, x)} the Update floor (p50 ${f(l.series.floorUpdate.p50)} ms); durable p50 ${f(l.ratios.durableP50, x)} the Signal floor; events/turn ${num(h.appliedSequential.eventsPerTurn, 2)} · ${num(h.durableSequential.eventsPerTurn, 2)}; history bytes/turn ${num(h.appliedSequential.bytesPerTurn)} · ${num(h.durableSequential.bytesPerTurn)}`, 'as the product', '');
    add(`persist config: ${v.label}, sustained`, `applied ${f(t.opsPerSec.applied, num)} · durable ${f(t.opsPerSec.durable, num)} turns/s; writes/turn ${f(t.snapshotWritesPerTurn.applied, (n) => num(n, 3))} · ${f(t.snapshotWritesPerTurn.durable, (n) => num(n, 3))}; lag p99 ${f(t.snapshotLag.applied.p99)} · ${f(t.snapshotLag.durable.p99)} ms`,
      `${f(t.ratios.applied, x)} · ${f(t.ratios.durable, x)} the floors (${f(t.opsPerSec.floorUpdate, num)} updates/s · ${f(t.opsPerSec.floorSignal, num)} signals/s); events/turn ${num(h.appliedSaturated.eventsPerTurn, 2)} · ${num(h.durableSaturated.eventsPerTurn, 2)}`, '', '');
  }
  for (const [name, message] of Object.entries(r.failures)) add(`${name}`, `failed: ${message.split('\n')[0].slice(0, 120)}`, '', '', '❌');
  const header = ['workload', 'figures (median of rounds, min–max)', 'against its floor / baseline', 'goal', ''];
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The event types that stand for most actions per turn, e.g. `UPDATE_ACCEPTED 1.00, TIMER_STARTED 0.42`. */
function topActions(byType: Record<string, number>): string {
  return Object.entries(byType)
    .slice(0, 4)
    .map(([k, v]) => `${k.replace(/^WORKFLOW_EXECUTION_/, '')} ${num(v, 2)}`)
    .join(', ');
}
