// Server crash: the Temporal dev server is SIGKILLed mid-run 3 times and restarted on the same SQLite file (WAL);
// clients and the worker reconnect by themselves. Every acknowledged turn must survive, exactly once.
import { sleep } from '../src/runtime/process';
import { recordFixture } from './support/fixtures';
import { Load, expectClean, recoveryMs, report, sessionIds, summary, verify } from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';

const size = sizes.serverCrash;

describe('server crash', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('server-crash');
  });
  afterAll(async () => {
    await rig?.close();
  });

  test(`dev server SIGKILLed ${size.kills} times and restarted on the same database file`, async () => {
    const sessions = sessionIds('sc', size.sessions);
    const load = new Load({ service: rig.service, sessions, userId: 7002, thinkMs: size.thinkMs }).start();
    const kills: number[] = [];
    const readies: number[] = [];
    for (let i = 0; i < size.kills; i++) {
      await sleep(size.runBeforeKillMs);
      kills.push(Date.now());
      await rig.killServer();
      await sleep(size.downMs);
      await rig.startServer();
      readies.push(Date.now());
    }
    await load.waitForAcks(size.minTurns, 300_000);
    await sleep(2_000);
    await load.stop();
    const verdict = await verify(rig, load.ledger);
    report('server-crash', {
      ...verdict,
      kills: kills.length,
      serverDownMs: summary(kills.map((k, i) => readies[i] - k)),
      recoveryAppliedFromKillMs: summary(kills.map((k) => recoveryMs(load.ledger, k, 'applied'))),
      recoveryDurableFromKillMs: summary(kills.map((k) => recoveryMs(load.ledger, k, 'durable'))),
      recoveryAppliedFromRestartMs: summary(readies.map((k) => recoveryMs(load.ledger, k, 'applied'))),
      recoveryDurableFromRestartMs: summary(readies.map((k) => recoveryMs(load.ledger, k, 'durable'))),
      workerUnexpectedExits: rig.workerUnexpectedExits,
      attempts: load.ledger.attempts,
      failedAttempts: load.ledger.failedAttempts,
      errors: load.ledger.topErrors(),
      seconds: Math.round((Date.now() - load.startedAt) / 1000),
    });
    await recordFixture(rig.client, sessions[2], 'server-crash');
    expectClean(verdict, load.ledger, size.minTurns);
  });
});
