// Worker crash: the worker process is SIGKILLed periodically and restarted while sessions take turns in both
// acknowledgement modes; no acknowledged turn may be lost or applied twice.
import { Load, expectClean, recoveryMs, report, sessionIds, summary, verify } from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';
import { recordFixture } from './support/fixtures';
import { sleep } from '../src/runtime/process';

const size = sizes.workerCrash;

describe('worker crash', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('worker-crash');
  });
  afterAll(async () => {
    await rig?.close();
  });

  test(`${size.minTurns}+ turns over ${size.sessions} sessions, worker SIGKILLed every ${size.killEveryMs / 1000} s`, async () => {
    const sessions = sessionIds('wc', size.sessions);
    const load = new Load({ service: rig.service, sessions, userId: 7001, thinkMs: size.thinkMs }).start();
    const kills: number[] = [];
    const restartMs: number[] = [];
    while (kills.length < size.minKills || load.ledger.acknowledged < size.minTurns) {
      await sleep(size.killEveryMs);
      kills.push(Date.now());
      await rig.killWorker();
      const t = Date.now();
      await rig.startWorker();
      restartMs.push(Date.now() - t);
      if (kills.length > size.minKills * 6) break; // the load is not progressing: fail below on the minimum
    }
    // Let both modes recover from the last kill, so every kill has a recovery time.
    const last = kills[kills.length - 1];
    const until = Date.now() + 120_000;
    while (
      Date.now() < until &&
      (recoveryMs(load.ledger, last, 'applied') === undefined ||
        recoveryMs(load.ledger, last, 'durable') === undefined)
    )
      await sleep(250);
    await load.stop();
    const verdict = await verify(rig, load.ledger);
    const figures = {
      ...verdict,
      kills: kills.length,
      workerStarts: rig.workerStarts,
      workerUnexpectedExits: rig.workerUnexpectedExits,
      workerRestartMs: summary(restartMs),
      recoveryAppliedMs: summary(kills.map((k) => recoveryMs(load.ledger, k, 'applied'))),
      recoveryDurableMs: summary(kills.map((k) => recoveryMs(load.ledger, k, 'durable'))),
      attempts: load.ledger.attempts,
      failedAttempts: load.ledger.failedAttempts,
      errors: load.ledger.topErrors(),
      seconds: Math.round((Date.now() - load.startedAt) / 1000),
    };
    report('worker-crash', figures);
    await recordFixture(rig.client, sessions[0], 'worker-crash');
    expectClean(verdict, load.ledger, size.minTurns);
    expect(kills.length).toBeGreaterThanOrEqual(size.minKills);
    expect(kills.every((k) => recoveryMs(load.ledger, k, 'applied') !== undefined)).toBe(true);
  });
});
