// The load of every reliability test and its ledger: one writer per session (so each session's order is
// defined), sessions in the applied mode, the durable mode, or alternating between them, each retried with the same
// turn id until acknowledged; only acknowledged turns enter the ledger. verify() checks Temporal and Postgres against it.
import fs from 'node:fs';
import path from 'node:path';
import { SessionNotFoundError, ValidationError } from '../../src/errors';
import { loadSnapshot } from '../../src/postgres/snapshots';
import { sleep } from '../../src/runtime/process';
import type { TemporalSessionService } from '../../src/temporal/service';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type pg from 'pg';
import { sessionWorkflowId, statusQuery } from '../../workflows/messages';
import { SCALE } from './scale';

export type AckMode = 'applied' | 'durable';

export interface LedgerTurn {
  seq: number;
  turnId: string;
  user: string;
  assistant: string;
  mode: AckMode;
}

export interface AckEvent {
  session: string;
  mode: AckMode;
  /** When the successful call was sent. */
  callStart: number;
  ackAt: number;
}

/** What the client knows for certain: the turns acknowledged to it, per session, in order. */
export class Ledger {
  readonly turns = new Map<string, LedgerTurn[]>();
  readonly acks: AckEvent[] = [];
  attempts = 0;
  failedAttempts = 0;
  /** Turns still unacknowledged at the hard deadline (they might or might not be applied). */
  unresolved = 0;
  readonly errorKinds = new Map<string, number>();
  /** Answers that must never happen: typed caller errors on valid turns, applied versions out of sequence. */
  readonly unexpected: string[] = [];

  get acknowledged(): number {
    let n = 0;
    for (const t of this.turns.values()) n += t.length;
    return n;
  }

  countError(err: unknown): void {
    const name = err instanceof Error ? err.name : typeof err;
    const msg = err instanceof Error ? err.message : String(err);
    const kind = `${name}: ${msg.replace(/session [^\s:]+/g, 'session <id>').slice(0, 80)}`;
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }

  topErrors(n = 5): Record<string, number> {
    return Object.fromEntries([...this.errorKinds.entries()].sort((a, b) => b[1] - a[1]).slice(0, n));
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => undefined);
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timeout: ${what} took over ${ms} ms`)), ms);
    }),
  ]);
}

export interface LoadOptions {
  service: TemporalSessionService;
  sessions: string[];
  userId: number;
  /** Per-session cap; unlimited by default (the test stops the load). */
  maxTurnsPerSession?: number;
  /** 'split' (default): a third of the sessions per mode and a third alternating; 'alternate': every session alternates. */
  modes?: 'split' | 'alternate';
  /** Think time between a session's turns (an agent's turn is not instant); 0 = as fast as acknowledged. */
  thinkMs?: number;
  /** How long a turn in flight at stop() may still be retried. Default 180 s. */
  drainMs?: number;
}

const running = new Set<Load>();

/** Aborts every load still running (a test failed before stopping its own); Rig.close() calls it. */
export function abortAllLoads(): void {
  for (const load of running) load.abort();
  running.clear();
}

export class Load {
  readonly ledger = new Ledger();
  private stopping = false;
  private stopAt = Infinity;
  private writers: Promise<void>[] = [];
  readonly startedAt = Date.now();

  constructor(private readonly o: LoadOptions) {}

  start(): this {
    running.add(this);
    this.writers = this.o.sessions.map((sid, i) => this.writer(sid, i));
    return this;
  }

  /** Resolves once `n` turns are acknowledged (or the deadline passes). */
  async waitForAcks(n: number, deadlineMs: number): Promise<void> {
    const end = Date.now() + deadlineMs;
    while (this.ledger.acknowledged < n && Date.now() < end) await sleep(200);
  }

  /** Stops issuing new turns; each writer's turn in flight is retried until acknowledged (or the drain deadline). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopAt = Date.now() + (this.o.drainMs ?? 180_000);
    await Promise.all(this.writers);
    running.delete(this);
  }

  /** Ends the load at once (a failed test): writers give up their turn in flight at its next failure. */
  abort(): void {
    this.stopping = true;
    this.stopAt = Math.min(this.stopAt, Date.now());
  }

  private async untilAcked<T>(
    call: () => Promise<T>,
    what: string,
  ): Promise<{ value: T; callStart: number } | undefined> {
    for (let attempt = 0; ; attempt++) {
      const callStart = Date.now();
      this.ledger.attempts++;
      try {
        return { value: await withTimeout(call(), 60_000, what), callStart };
      } catch (err) {
        this.ledger.failedAttempts++;
        this.ledger.countError(err);
        if (err instanceof ValidationError || err instanceof SessionNotFoundError)
          this.ledger.unexpected.push(`${what}: ${err.name}: ${err.message}`);
        if (Date.now() > this.stopAt) {
          this.ledger.unresolved++;
          return undefined;
        }
        await sleep(Math.min(1_000, 50 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
      }
    }
  }

  private async writer(sid: string, index: number): Promise<void> {
    const { service, userId } = this.o;
    const created = await this.untilAcked(
      () => service.execute(sid, { type: 'recover', userId }, { turnId: `${sid}.create` }),
      `create ${sid}`,
    );
    if (!created) return;
    const turns: LedgerTurn[] = [];
    this.ledger.turns.set(sid, turns);
    const max = this.o.maxTurnsPerSession ?? Infinity;
    for (let seq = 1; !this.stopping && seq <= max; seq++) {
      // A third of the sessions per mode, a third alternating: recovery is measured per mode without one
      // mode's stall hiding the other's.
      const group = this.o.modes === 'alternate' ? 2 : index % 3;
      const mode: AckMode =
        group === 0 ? 'applied' : group === 1 ? 'durable' : seq % 2 === 0 ? 'applied' : 'durable';
      const turn: LedgerTurn = {
        seq,
        mode,
        turnId: `${sid}.t${seq}`,
        user: `u ${sid} #${seq}`,
        assistant: `a ${sid} #${seq}`,
      };
      const acked =
        mode === 'applied'
          ? await this.untilAcked(
              () =>
                service.execute(
                  sid,
                  { type: 'appendTurn', user: turn.user, assistant: turn.assistant },
                  { turnId: turn.turnId },
                ),
              `applied ${turn.turnId}`,
            )
          : await this.untilAcked(
              () => service.submitTurn(sid, turn.user, turn.assistant, { turnId: turn.turnId }),
              `durable ${turn.turnId}`,
            );
      if (!acked) return;
      // One writer per session: the applied answer's version must be exactly 1 (create) + this turn's position.
      if (mode === 'applied') {
        const version = (acked.value as { version: number }).version;
        if (version !== seq + 1)
          this.ledger.unexpected.push(`${turn.turnId}: applied at version ${version}, expected ${seq + 1}`);
      }
      turns.push(turn);
      this.ledger.acks.push({ session: sid, mode, callStart: acked.callStart, ackAt: Date.now() });
      if (this.o.thinkMs) await sleep(this.o.thinkMs * (0.5 + Math.random()));
    }
  }
}

/** The last 20 message contents the ledger implies for a session. */
export function ledgerWindow(turns: LedgerTurn[]): string[] {
  return turns.flatMap((t) => [t.user, t.assistant]).slice(-20);
}

export interface Verdict {
  sessions: number;
  acknowledged: number;
  lost: number;
  duplicated: number;
  windowMismatches: number;
  /** Sessions whose Postgres version differs from the actor's once the actor has persisted. */
  versionMismatches: number;
  /** Sessions whose actor had not persisted within the wait. */
  unpersisted: number;
  /** How long the actors took to persist everything after the load stopped. */
  persistWaitMs: number;
  /**
   * Workflow tasks of the sessions' runs that failed with a nondeterminism error or the deadlock detector: a run
   * in that state answers no query and applies no command until the code changes (bug 3 in RELIABILITY.md).
   */
  wedgedTasks: number;
  examples: string[];
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** Checks every session of the ledger in the actor (queries) and in Postgres. */
export async function verify(
  deps: { client: Client; pool: pg.Pool; service: TemporalSessionService },
  ledger: Ledger,
  waitMs = 120_000,
): Promise<Verdict> {
  const started = Date.now();
  const v: Verdict = {
    sessions: ledger.turns.size,
    acknowledged: ledger.acknowledged,
    lost: 0,
    duplicated: 0,
    windowMismatches: 0,
    versionMismatches: 0,
    unpersisted: 0,
    persistWaitMs: 0,
    wedgedTasks: 0,
    examples: [],
  };
  const note = (s: string): void => {
    if (v.examples.length < 10) v.examples.push(s);
  };
  await mapLimit([...ledger.turns.entries()], 8, async ([sid, turns]) => {
    const handle = deps.client.workflow.getHandle(sessionWorkflowId(sid));
    const expectedVersion = 1 + turns.length;
    let actorVersion = -1;
    let rowVersion = -1;
    const end = started + waitMs;
    for (;;) {
      try {
        const status = await handle.query(statusQuery);
        const row = await loadSnapshot(deps.pool, sid);
        actorVersion = status.version;
        rowVersion = row?.version ?? 0;
        if (status.persisted_version === status.version && rowVersion === status.version) break;
      } catch {
        // the actor or Postgres is still coming back
      }
      if (Date.now() > end) break;
      await sleep(200);
    }
    if (rowVersion !== actorVersion) {
      v.unpersisted++;
      v.versionMismatches++;
      note(`${sid}: Postgres v${rowVersion}, actor v${actorVersion}`);
    }
    const expected = ledgerWindow(turns);
    const actor = ((await deps.service.loadContext(sid))?.messages ?? []).map((m) => m.content);
    const stored = ((await loadSnapshot(deps.pool, sid))?.context.messages ?? []).map((m) => m.content);
    const missing = expected.filter((c) => !actor.includes(c)).length;
    const repeated = actor.length - new Set(actor).size;
    v.lost += Math.max(0, expectedVersion - actorVersion) + missing;
    v.duplicated += Math.max(0, actorVersion - expectedVersion) + repeated;
    if (actorVersion !== expectedVersion)
      note(`${sid}: actor v${actorVersion}, ledger implies v${expectedVersion}`);
    if (
      JSON.stringify(actor) !== JSON.stringify(expected) ||
      JSON.stringify(stored) !== JSON.stringify(expected)
    ) {
      v.windowMismatches++;
      note(
        `${sid}: window differs (actor ${actor.length}, Postgres ${stored.length}, ledger ${expected.length} messages)`,
      );
    }
  });
  v.persistWaitMs = Date.now() - started;
  await mapLimit([...ledger.turns.keys()], 8, async (sid) => {
    for (const failure of await wedgingFailures(deps.client, sid)) {
      v.wedgedTasks++;
      note(`${sid}: workflow task failed: ${failure}`);
    }
  });
  return v;
}

const { EventType, WorkflowTaskFailedCause } = temporal.api.enums.v1;
const GRPC_NOT_FOUND = 5;

/** Every run of a session's workflow id (listed by visibility) with its handle and history. */
export async function* sessionRuns(
  client: Client,
  sessionId: string,
): AsyncGenerator<{
  runId: string;
  handle: WorkflowHandle;
  events: temporal.api.history.v1.IHistoryEvent[];
}> {
  const workflowId = sessionWorkflowId(sessionId);
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const handle = client.workflow.getHandle(workflowId, run.runId);
    let events: temporal.api.history.v1.IHistoryEvent[];
    try {
      events = (await handle.fetchHistory()).events ?? [];
    } catch (err) {
      // Visibility still lists a run whose history an erasure has just deleted.
      if ((err as { code?: number }).code === GRPC_NOT_FOUND) continue;
      throw err;
    }
    yield { runId: run.runId, handle, events };
  }
}

/** Nondeterminism and deadlock failures of workflow tasks in every run of a session (other failures heal). */
export async function wedgingFailures(client: Client, sessionId: string): Promise<string[]> {
  const found: string[] = [];
  for await (const { events } of sessionRuns(client, sessionId)) {
    for (const e of events) {
      if (e.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) continue;
      const a = e.workflowTaskFailedEventAttributes;
      const message = a?.failure?.message ?? '';
      if (
        a?.cause === WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR ||
        /TMPRL110[01]/.test(message)
      )
        found.push(`event ${String(e.eventId)}: ${message.slice(0, 160)}`);
    }
  }
  return found;
}

/**
 * Every workflow task of the session's runs that failed or timed out, counted by cause (failures: the cause and the
 * first words of the message): what held a session back, when one is behind.
 */
export async function taskTrouble(client: Client, sessionId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const add = (key: string): void => void (counts[key] = (counts[key] ?? 0) + 1);
  for await (const { events } of sessionRuns(client, sessionId)) {
    for (const e of events) {
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)
        add(`timed out (${String(e.workflowTaskTimedOutEventAttributes?.timeoutType)})`);
      if (e.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) continue;
      const a = e.workflowTaskFailedEventAttributes;
      add(`failed (${String(a?.cause)}): ${(a?.failure?.message ?? '').slice(0, 120)}`);
    }
  }
  return counts;
}

/** Time from `from` to the first acknowledgement of a call sent at or after it (per mode); undefined if none. */
export function recoveryMs(ledger: Ledger, from: number, mode?: AckMode): number | undefined {
  let best: number | undefined;
  for (const a of ledger.acks) {
    if (a.callStart < from || (mode && a.mode !== mode)) continue;
    if (best === undefined || a.ackAt < best) best = a.ackAt;
  }
  return best === undefined ? undefined : best - from;
}

export function acksBetween(ledger: Ledger, from: number, to: number, mode?: AckMode): number {
  return ledger.acks.filter((a) => a.ackAt >= from && a.ackAt < to && (!mode || a.mode === mode)).length;
}

export function summary(values: (number | undefined)[]): { max?: number; mean?: number } {
  const xs = values.filter((x): x is number => x !== undefined);
  if (xs.length === 0) return {};
  return { max: Math.max(...xs), mean: Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) };
}

/** Prints one line of figures and keeps them under test-reliability/.results/<scale>/ for RELIABILITY.md. */
export function report(test: string, figures: Record<string, unknown>): void {
  const line = `[reliability ${SCALE}] ${test}: ${JSON.stringify(figures)}\n`;
  process.stdout.write(line);
  const dir = path.join(__dirname, '..', '.results', SCALE);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, `${test}.json`),
    JSON.stringify({ test, scale: SCALE, at: new Date().toISOString(), ...figures }, null, 2),
  );
}

export function sessionIds(prefix: string, n: number): string[] {
  const run = Date.now().toString(36);
  return Array.from({ length: n }, (_, i) => `${prefix}-${run}-${i}`);
}

/** Asserts shared by every load test. */
export function expectClean(v: Verdict, ledger: Ledger, minTurns: number): void {
  expect({ lost: v.lost, duplicated: v.duplicated, examples: v.examples }).toEqual({
    lost: 0,
    duplicated: 0,
    examples: [],
  });
  expect(v.windowMismatches).toBe(0);
  expect(v.versionMismatches).toBe(0);
  expect(v.wedgedTasks).toBe(0);
  expect(ledger.unexpected).toEqual([]);
  expect(ledger.unresolved).toBe(0);
  expect(v.acknowledged).toBeGreaterThanOrEqual(minTurns);
  // Both acknowledgement modes carried load.
  expect(ledger.acks.some((a) => a.mode === 'applied')).toBe(true);
  expect(ledger.acks.some((a) => a.mode === 'durable')).toBe(true);
}
