// Erasure: after deleting sessions (several continue-as-new runs each), no Postgres row and no execution of their
// workflow ids remains in visibility; the sessions left alone are intact.
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

describe('erasure', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('erasure', { continueAsNewAfter: 4 });
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
    report('erasure', {
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
    expect({ rowsLeft, executionsLeft }).toEqual({ rowsLeft: 0, executionsLeft: 0 });
    expectClean(verdict, keptLedger, kept.length * size.turnsPerSession);
  });
});
