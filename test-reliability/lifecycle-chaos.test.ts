// Lifecycle chaos (issue 12): under load in both acknowledgement modes, with Postgres slowed (every write delayed by
// a trigger, and hung for a while), deletes, forced expiries, idle completions and continue-as-new race the turns.
// Ledger check: every acknowledged turn is present unless its session was removed after the acknowledgement; no
// removed turn's text is left in Postgres or in any Temporal history; no session wedged; no 5xx answer.
import fs from 'node:fs';
import { loadSnapshot } from '../src/postgres/snapshots';
import { expireSessions } from '../src/retention/expire';
import { sleep } from '../src/runtime/process';
import type { ExpiryCandidate } from '../src/retention/sql';
import type { Api } from '../src/http/app';
import { sessionWorkflowId, statusQuery } from '../workflows/messages';
import { ALICE, LoggedFailures, bearer, startApi } from './support/api';
import { recordFixture } from './support/fixtures';
import { report, sessionIds, sessionRuns, wedgingFailures, withTimeout } from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';

const size = sizes.lifecycleChaos;
const IDLE_MS = 1_500;

interface Turn {
  seq: number;
  mode: 'applied' | 'durable';
  user: string;
  assistant: string;
  callStart: number;
  ackAt: number;
}
interface Removal {
  kind: 'delete' | 'expire';
  start: number;
  end: number;
}
interface SessionLedger {
  turns: Turn[];
  removals: Removal[];
}

type Fate = 'present' | 'ambiguous' | 'gone';

/** What the ledger says of a turn: removed after it was acknowledged, certainly after every removal, or either. */
function fateOf(turn: Turn, removals: Removal[]): Fate {
  if (removals.some((r) => r.start > turn.ackAt)) return 'gone';
  if (removals.every((r) => r.end < turn.callStart)) return 'present';
  return 'ambiguous';
}

/** Every payload's bytes in a run's history as text, so a turn's words can be searched for. */
function historyText(events: unknown): string {
  return JSON.stringify(events, (_k, v: unknown) =>
    v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v,
  );
}

describe('lifecycle chaos', () => {
  let rig: Rig;
  let app: Api;
  const failures = new LoggedFailures();

  beforeAll(async () => {
    rig = await Rig.start('lifecycle-chaos', {
      idleTimeoutMs: IDLE_MS,
      continueAsNewAfter: 8,
      persistDelayMs: 200,
    });
    app = await startApi(rig, {}, failures);
    // Slow Postgres: a share of the snapshot writes and deletes wait up to 300 ms inside their statement.
    await rig.pool.query(`
      CREATE FUNCTION chaos_slow() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF random() < 0.3 THEN PERFORM pg_sleep(random() * 0.3); END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
      END $$;
      CREATE TRIGGER chaos_slow BEFORE INSERT OR UPDATE OR DELETE ON conversation_context
        FOR EACH ROW EXECUTE FUNCTION chaos_slow();`);
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
  });

  test(`${size.sessions} sessions for ${size.seconds} s: deletes, expiries, idling and continue-as-new race turns`, async () => {
    const sessions = sessionIds('chaos', size.sessions);
    const ledgers = new Map<string, SessionLedger>(sessions.map((s) => [s, { turns: [], removals: [] }]));
    const statuses = new Map<string, number>();
    const unexpected: string[] = [];
    const count = (key: string): void => void statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const deadline = Date.now() + size.seconds * 1000;
    const headers = { ...bearer('alice'), 'content-type': 'application/json' };
    let idleCompletions = 0;
    let checkpointTurns = 0;
    /** Sessions an expiry round is working on, since when (its removals enter the ledger when it returns). */
    const expiring = new Map<string, number>();

    /** One HTTP call, retried on 429/503 (never expected to be 5xx, counted if it is). */
    const http = async (method: 'POST' | 'DELETE', url: string, payload?: object, key?: string) => {
      for (let attempt = 0; ; attempt++) {
        const res = await app.inject({
          method,
          url,
          headers: key ? { ...headers, 'idempotency-key': key } : headers,
          ...(payload ? { payload } : {}),
        });
        count(`${res.statusCode}${res.statusCode >= 400 ? ` ${res.json<{ code: string }>().code}` : ''}`);
        if (res.statusCode !== 429 && res.statusCode < 500) return res;
        if (attempt > 200) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
        await sleep(50 + Math.random() * 200);
      }
    };

    const writer = async (sid: string): Promise<void> => {
      const ledger = ledgers.get(sid) as SessionLedger;
      await http('POST', `/v1/sessions/${sid}/recover`, {});
      let sinceDelete = 0;
      let deleteAfter = 3 + Math.floor(Math.random() * 5);
      for (let seq = 1; Date.now() < deadline; seq++) {
        const r = Math.random();
        if (r < 0.06) {
          idleCompletions++;
          await sleep(IDLE_MS + 500); // the actor idles out; the next command rehydrates it
        }
        if (sinceDelete >= deleteAfter) {
          // Before deleting: every turn acknowledged since the last removal is there (a checkpoint of the ledger).
          const read = await app.inject({ method: 'GET', url: `/v1/sessions/${sid}`, headers });
          const window =
            read.statusCode === 200 ? read.json<{ messages: { content: string }[] }>().messages : [];
          const contents = new Set(window.map((m) => m.content));
          // An expiry still running counts as a removal that may have happened at any moment since it started.
          const since = expiring.get(sid);
          const known =
            since === undefined
              ? ledger.removals
              : [...ledger.removals, { kind: 'expire' as const, start: since, end: Infinity }];
          for (const t of ledger.turns.slice(-10)) {
            if (fateOf(t, known) !== 'present' || expiring.has(sid)) continue;
            checkpointTurns++;
            if ((!contents.has(t.user) || !contents.has(t.assistant)) && process.env.CHAOS_DUMP) {
              const dump: unknown[] = [
                { at: Date.now(), get: read.body, turns: ledger.turns, removals: ledger.removals },
              ];
              for await (const { runId, events } of sessionRuns(rig.client, sid))
                dump.push({ runId, events: historyText(events) });
              fs.writeFileSync(
                `${process.env.CHAOS_DUMP}/${sid}-checkpoint-${t.seq}.json`,
                JSON.stringify(dump, null, 1),
              );
            }
            if (!contents.has(t.user) || !contents.has(t.assistant))
              unexpected.push(
                `${sid}: acknowledged turn ${t.seq} missing before delete (GET ${read.statusCode})`,
              );
          }
          const start = Date.now();
          const res = await http('DELETE', `/v1/sessions/${sid}`);
          if (res.statusCode !== 204) unexpected.push(`DELETE ${sid}: ${res.statusCode}`);
          ledger.removals.push({ kind: 'delete', start, end: Date.now() });
          sinceDelete = 0;
          deleteAfter = 3 + Math.floor(Math.random() * 5);
          continue;
        }
        // The ';' ends a turn's words, so none is a prefix of another's (#4 of #48).
        const turn = {
          seq,
          user: `u ${sid} #${seq};`,
          assistant: `a ${sid} #${seq};`,
          turnId: `${sid}.t${seq}`,
        };
        const mode = seq % 2 === 0 ? 'applied' : 'durable';
        const callStart = Date.now();
        if (mode === 'applied') {
          for (;;) {
            const res = await http(
              'POST',
              `/v1/sessions/${sid}/turns`,
              { user: turn.user, assistant: turn.assistant },
              turn.turnId,
            );
            if (res.statusCode === 200) break;
            if (res.statusCode !== 404) {
              unexpected.push(`turn ${turn.turnId}: ${res.statusCode} ${res.body.slice(0, 160)}`);
              break;
            }
            // Removed meanwhile (a delete or an expiry): create it again and send the same turn.
            await http('POST', `/v1/sessions/${sid}/recover`, {});
          }
        } else {
          // Durable, with the owner: creates the session again if it was removed meanwhile.
          for (let attempt = 0; ; attempt++) {
            try {
              await withTimeout(
                rig.service.submitTurn(sid, turn.user, turn.assistant, {
                  turnId: turn.turnId,
                  userId: ALICE,
                }),
                60_000,
                turn.turnId,
              );
              break;
            } catch (err) {
              count(`durable ${(err as Error).name}`);
              if (attempt > 100) throw err;
              await sleep(100 + Math.random() * 200);
            }
          }
        }
        ledger.turns.push({
          seq,
          mode,
          user: turn.user,
          assistant: turn.assistant,
          callStart,
          ackAt: Date.now(),
        });
        sinceDelete++;
      }
    };

    /** Forced expiries (a cutoff an hour ahead: everything is "expired") of a few random sessions at a time. */
    let expiryRounds = 0;
    const expirer = async (): Promise<void> => {
      while (Date.now() < deadline) {
        await sleep(size.expireEveryMs * (0.5 + Math.random()));
        const picked = sessions.filter(() => Math.random() < 0.25);
        const { rows } = await rig.pool.query<{
          session_id: string;
          holder: string | null;
          ago: string | null;
        }>(
          `SELECT session_id, holder, ds_epoch() - claimed_at AS ago FROM conversation_context
           WHERE session_id = ANY($1::text[])`,
          [picked],
        );
        const candidates: ExpiryCandidate[] = rows.map((r) => ({
          sessionId: r.session_id,
          holder: r.holder,
          claimedSecondsAgo: r.ago === null ? null : Number(r.ago),
        }));
        const start = Date.now();
        for (const c of candidates) expiring.set(c.sessionId, start);
        const cutoff = Math.floor(start / 1000) + 3600;
        const { expired } = await expireSessions(rig.client, rig.pool, candidates, cutoff);
        const end = Date.now();
        for (const sid of expired) ledgers.get(sid)?.removals.push({ kind: 'expire', start, end });
        for (const c of candidates) expiring.delete(c.sessionId);
        expiryRounds++;
      }
    };

    /** Postgres hangs (SIGSTOP) once in the middle of the run. */
    const hang = async (): Promise<number> => {
      await sleep((size.seconds * 1000) / 2);
      const t = Date.now();
      rig.freezePostgres();
      await sleep(size.hangMs);
      rig.thawPostgres();
      return Date.now() - t;
    };

    const t0 = Date.now();
    const [, , hungMs] = await Promise.all([Promise.all(sessions.map(writer)), expirer(), hang()]);
    const seconds = Math.round((Date.now() - t0) / 1000);

    // ---- verify ------------------------------------------------------------------------------------------
    const problems: string[] = [];
    let acknowledged = 0;
    let gone = 0;
    let checkedPresent = 0;
    let leakedTexts = 0;
    let wedged = 0;
    let unpersisted = 0;
    for (const sid of sessions) {
      const { turns, removals } = ledgers.get(sid) as SessionLedger;
      acknowledged += turns.length;
      // The actor (if one runs) writes its state to Postgres: the two converge. Asked until they agree, not until a
      // status says so. The status loop this replaces stopped at any state but 'active' and at any failed query (CI,
      // stop 24, "2 vs 0 messages"): a new run of a deleted session, started by a durable turn, is 'loading' while
      // its claim waits on the slowed Postgres, so the check read the turn from the actor before its first write.
      const handle = rig.client.workflow.getHandle(sessionWorkflowId(sid));
      let live: string[] = [];
      let row: Awaited<ReturnType<typeof loadSnapshot>> = null;
      let stored: string[] = [];
      let last = 'not asked';
      for (let i = 0; i < 150; i++) {
        live = ((await rig.service.loadContext(sid))?.messages ?? []).map((m) => m.content);
        row = await loadSnapshot(rig.pool, sid);
        stored = (row?.context.messages ?? []).map((m) => m.content);
        if (JSON.stringify(live) === JSON.stringify(stored)) break;
        const status = await handle.query(statusQuery).catch((err: Error) => err);
        last = status instanceof Error ? `query failed: ${status.message}` : JSON.stringify(status);
        if (i === 149) unpersisted++;
        await sleep(100);
      }
      if (JSON.stringify(live) !== JSON.stringify(stored))
        problems.push(
          `${sid}: actor and Postgres differ after 15 s (${live.length} vs ${stored.length} messages; ` +
            `Postgres v${row?.version ?? 'none'}; actor ${last})`,
        );

      const fates = turns.map((t) => ({ t, fate: fateOf(t, removals) }));
      const present = fates.filter((f) => f.fate === 'present').flatMap((f) => [f.t.user, f.t.assistant]);
      const allowedBefore = new Set(
        fates.filter((f) => f.fate === 'ambiguous').flatMap((f) => [f.t.user, f.t.assistant]),
      );
      checkedPresent += Math.min(present.length, 20) / 2;
      // The window ends with every certainly-present turn (as many as fit), after at most some ambiguous ones.
      const tail = present.slice(-20);
      const window = live.slice(-20);
      if (JSON.stringify(window.slice(window.length - tail.length)) !== JSON.stringify(tail))
        problems.push(
          `${sid}: window ${JSON.stringify(window.slice(-4))} lacks present turns ${JSON.stringify(tail.slice(-4))}`,
        );
      const before = window.slice(0, window.length - tail.length);
      if (process.env.CHAOS_DUMP && problems.some((p) => p.startsWith(`${sid}:`))) {
        const dump: unknown[] = [{ turns, removals }];
        for await (const { runId, events } of sessionRuns(rig.client, sid))
          dump.push({ runId, events: historyText(events) });
        fs.writeFileSync(`${process.env.CHAOS_DUMP}/${sid}.json`, JSON.stringify(dump, null, 1));
      }
      if (before.some((c) => !allowedBefore.has(c)))
        problems.push(
          `${sid}: window holds ${before.filter((c) => !allowedBefore.has(c)).length} unexpected messages`,
        );

      // Nothing of a removed turn anywhere: not in the actor, not in Postgres, not in any run's history.
      const goneTexts = fates.filter((f) => f.fate === 'gone').flatMap((f) => [f.t.user, f.t.assistant]);
      gone += goneTexts.length / 2;
      const places: [string, string][] = [
        ['actor', JSON.stringify(live)],
        ['postgres', JSON.stringify(stored)],
      ];
      for await (const { runId, handle: run, events } of sessionRuns(rig.client, sid)) {
        const d = await run.describe().catch(() => null);
        places.push([
          `run ${runId} (${d?.status.name ?? 'deleted'}, started ${d?.startTime.toISOString() ?? '?'})`,
          historyText(events),
        ]);
      }
      const leaked = goneTexts.filter((text) => places.some(([, where]) => where.includes(text)));
      leakedTexts += leaked.length;
      if (leaked.length > 0) {
        const turn = turns.find((t) => t.user === leaked[0] || t.assistant === leaked[0]);
        problems.push(
          `${sid}: removed text "${leaked[0]}" (${turn?.mode}, ${turn?.callStart}..${turn?.ackAt}) still in ` +
            `${places
              .filter(([, w]) => w.includes(leaked[0]))
              .map(([p]) => p)
              .join('; ')}; removals ` +
            JSON.stringify(removals.map((r) => [r.kind, r.start, r.end])),
        );
      }
      const failures = await wedgingFailures(rig.client, sid);
      wedged += failures.length;
      if (failures.length > 0) problems.push(`${sid}: wedged: ${failures[0]}`);
    }
    const fiveHundreds = [...statuses.entries()]
      .filter(([k]) => k.startsWith('5'))
      .reduce((n, [, c]) => n + c, 0);
    const removalsCount = (kind: Removal['kind']) =>
      [...ledgers.values()].reduce((n, l) => n + l.removals.filter((r) => r.kind === kind).length, 0);
    report('lifecycle-chaos', {
      sessions: sessions.length,
      seconds,
      acknowledged,
      appliedAcks: [...ledgers.values()].reduce(
        (n, l) => n + l.turns.filter((t) => t.mode === 'applied').length,
        0,
      ),
      durableAcks: [...ledgers.values()].reduce(
        (n, l) => n + l.turns.filter((t) => t.mode === 'durable').length,
        0,
      ),
      deletes: removalsCount('delete'),
      expiries: removalsCount('expire'),
      expiryRounds,
      idlePauses: idleCompletions,
      postgresHungMs: hungMs,
      removedTurnsChecked: gone,
      presentTurnsChecked: checkedPresent + checkpointTurns,
      leakedTexts,
      wedged,
      unpersisted,
      fiveHundreds,
      statuses: Object.fromEntries(statuses),
      causesOf5xx: failures.causes.slice(0, 5),
      problems: problems.slice(0, 10),
      unexpected: unexpected.slice(0, 10),
    });
    await recordFixture(rig.client, sessions[0], 'lifecycle-chaos');
    expect(problems).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(fiveHundreds).toBe(0);
    expect(unpersisted).toBe(0);
    // The race was real: removals of both kinds happened, and turns of both modes were acknowledged.
    expect(removalsCount('delete')).toBeGreaterThan(0);
    expect(removalsCount('expire')).toBeGreaterThan(0);
    expect(gone).toBeGreaterThan(0);
    expect(acknowledged).toBeGreaterThanOrEqual(size.minTurns);
  });
});
