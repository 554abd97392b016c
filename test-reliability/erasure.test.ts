// Erasure: after deleting sessions (several continue-as-new runs each), no Postgres row and no execution of their
// workflow ids remains in visibility; the sessions left alone are intact. With keys per session (issue 17), copies of
// every run's history taken before the deletion (as a backup or an export would keep them) no longer decode, while
// the kept sessions' copies do.
import type { Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { PayloadErasedError, SessionKeyCodec, SessionKeyStore, parseKeyRing } from '../src/codec';
import { sessionWorkflowId } from '../workflows/messages';
import { loadSnapshot } from '../src/postgres/snapshots';
import { sleep } from '../src/runtime/process';
import { Ledger, Load, expectClean, report, sessionIds, summary, verify } from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';

const size = sizes.erasure;

/** Executions (runs) of a session's workflow id that visibility still lists. */
async function executionsOf(rig: Rig, sessionId: string): Promise<number> {
  let n = 0;
  for await (const e of rig.client.workflow.list({ query: `WorkflowId = '${sessionWorkflowId(sessionId)}'` }))
    if (e.runId) n++;
  return n;
}

/** Every run's history of a session, as a copy taken now; its encrypted payloads. */
async function retainedCopy(rig: Rig, sessionId: string): Promise<Payload[]> {
  const found: Payload[] = [];
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return;
    const o = v as Record<string, unknown>;
    const encoding = (o.metadata as Record<string, Uint8Array> | undefined)?.encoding;
    if (encoding && Buffer.from(encoding).toString() === 'binary/encrypted') found.push(o as Payload);
    else for (const x of Object.values(o)) walk(x);
  };
  for await (const e of rig.client.workflow.list({
    query: `WorkflowId = '${sessionWorkflowId(sessionId)}'`,
  })) {
    const history: temporal.api.history.v1.IHistory = await rig.client.workflow
      .getHandle(e.workflowId, e.runId)
      .fetchHistory();
    walk(history);
  }
  return found;
}

describe('erasure', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('erasure', { continueAsNewAfter: 4 }, { sessionKeys: true });
  });
  afterAll(async () => {
    await rig?.close();
  });

  test(`deleting ${size.sessions / 2} of ${size.sessions} sessions leaves nothing of them behind`, async () => {
    const sessions = sessionIds('er', size.sessions);
    const load = new Load({
      service: rig.service,
      sessions,
      userId: 7006,
      maxTurnsPerSession: size.turnsPerSession,
    }).start();
    await load.waitForAcks(size.sessions * size.turnsPerSession, 300_000);
    await load.stop();
    const doomed = sessions.filter((_, i) => i % 2 === 0);
    const kept = sessions.filter((_, i) => i % 2 === 1);
    const runsBefore: number[] = [];
    for (const sid of doomed) runsBefore.push(await executionsOf(rig, sid));
    const copies = new Map<string, Payload[]>();
    for (const sid of sessions) copies.set(sid, await retainedCopy(rig, sid));
    const deleteMs: number[] = [];
    for (const sid of doomed) {
      const t = Date.now();
      await rig.service.deleteSession(sid);
      deleteMs.push(Date.now() - t);
    }
    const t0 = Date.now();
    let rowsLeft = 0;
    let executionsLeft = 0;
    for (;;) {
      rowsLeft = 0;
      executionsLeft = 0;
      for (const sid of doomed) {
        if (await loadSnapshot(rig.pool, sid)) rowsLeft++;
        executionsLeft += await executionsOf(rig, sid);
      }
      if ((rowsLeft === 0 && executionsLeft === 0) || Date.now() - t0 > 60_000) break;
      await sleep(500);
    }
    const keptLedger = new Ledger();
    for (const sid of kept) keptLedger.turns.set(sid, load.ledger.turns.get(sid) ?? []);
    keptLedger.acks.push(...load.ledger.acks.filter((a) => kept.includes(a.session)));
    const verdict = await verify(rig, keptLedger);
    // The retained copies, read by a process that has the master key and Postgres and caches nothing.
    const ring = parseKeyRing(rig.codecKeys ?? '');
    if (!ring) throw new Error('the rig runs without keys');
    const reader = new SessionKeyCodec(ring, new SessionKeyStore(ring, { db: rig.pool }));
    let doomedReadable = 0;
    let doomedErased = 0;
    let keptReadable = 0;
    let keptWithText = 0;
    for (const [sid, payloads] of copies) {
      for (const p of payloads) {
        try {
          const [clear] = await reader.decode([p]);
          if (doomed.includes(sid)) doomedReadable++;
          else {
            keptReadable++;
            if (
              Buffer.from(clear.data ?? [])
                .toString()
                .includes(`u ${sid} #`)
            )
              keptWithText++;
          }
        } catch (err) {
          if (!(err instanceof PayloadErasedError) || !doomed.includes(sid)) throw err;
          doomedErased++;
        }
      }
    }
    report('erasure', {
      retainedCopies: { doomedErased, doomedReadable, keptReadable, keptWithText },
      deleted: doomed.length,
      runsPerDeletedSession: summary(runsBefore),
      deleteMs: summary(deleteMs),
      goneAfterDeleteMs: Date.now() - t0,
      rowsLeft,
      executionsLeft,
      kept: {
        sessions: kept.length,
        acknowledged: verdict.acknowledged,
        lost: verdict.lost,
        duplicated: verdict.duplicated,
      },
    });
    expect(Math.min(...runsBefore)).toBeGreaterThan(1);
    expect(doomedErased).toBeGreaterThan(doomed.length);
    expect(doomedReadable).toBe(0);
    expect(keptReadable).toBeGreaterThan(kept.length);
    expect(keptWithText).toBeGreaterThanOrEqual(kept.length);
    expect({ rowsLeft, executionsLeft }).toEqual({ rowsLeft: 0, executionsLeft: 0 });
    expectClean(verdict, keptLedger, kept.length * size.turnsPerSession);
  });
});
