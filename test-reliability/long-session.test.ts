// Long session: thousands of turns on ONE session; continue-as-new must keep every run's history well under
// Temporal's 10,240-event warning, and nothing acknowledged may be lost across the runs.
import { Load, expectClean, report, sessionIds, sessionRuns, verify } from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';

const size = sizes.longSession;

describe('long session', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('long-session');
  });
  afterAll(async () => {
    await rig?.close();
  });

  test(`${size.turns} turns on one session stay within bounded histories`, async () => {
    const [sid] = sessionIds('ls', 1);
    const load = new Load({
      service: rig.service,
      sessions: [sid],
      userId: 7005,
      maxTurnsPerSession: size.turns,
      modes: 'alternate',
    }).start();
    await load.waitForAcks(size.turns, 60 * 60_000);
    await load.stop();
    const verdict = await verify(rig, load.ledger);
    const runs: string[] = [];
    const events: number[] = [];
    let taskFailures = 0;
    for await (const run of sessionRuns(rig.client, sid)) {
      runs.push(run.runId);
      events.push(run.events.length);
      taskFailures += run.events.filter((e) => e.workflowTaskFailedEventAttributes).length;
    }
    report('long-session', {
      ...verdict,
      runs: runs.length,
      maxEventsPerRun: Math.max(...events),
      meanEventsPerRun: Math.round(events.reduce((a, b) => a + b, 0) / events.length),
      workflowTaskFailures: taskFailures,
      turnsPerSecond: Math.round(load.ledger.acknowledged / ((Date.now() - load.startedAt) / 1000)),
      seconds: Math.round((Date.now() - load.startedAt) / 1000),
    });
    expectClean(verdict, load.ledger, size.turns);
    expect(runs.length).toBeGreaterThanOrEqual(Math.floor(size.turns / 500));
    expect(Math.max(...events)).toBeLessThan(10_240 / 2);
    expect(taskFailures).toBe(0);
  });
});
