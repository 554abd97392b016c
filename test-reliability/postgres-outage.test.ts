// Postgres outage: Postgres is stopped immediately (SIGQUIT, as `pg_ctl stop -m immediate`) for a while and
// started on the same data directory; in a second test it hangs (SIGSTOP) and resumes (SIGCONT). Writes keep being
// acknowledged by Temporal meanwhile; afterwards Postgres must catch up with every actor, losing nothing.
import { sessionWorkflowId, statusQuery } from '../workflows/messages';
import { loadSnapshot } from '../src/postgres/snapshots';
import { sleep } from '../src/runtime/process';
import {
  Load,
  Ledger,
  acksBetween,
  expectClean,
  recoveryMs,
  report,
  sessionIds,
  taskTrouble,
  verify,
} from './support/load';
import { Rig } from './support/rig';
import { sizes } from './support/scale';

const size = sizes.postgresOutage;

/** A session Postgres had not caught up with by the deadline: its row's version, the actor's, and its task trouble. */
interface Behind {
  sessionId: string;
  row: number;
  target: number;
  trouble: Record<string, number>;
}

/**
 * From `from`, how long until Postgres holds at least the version every actor had when it came back; or, past the
 * deadline, the sessions it had not caught up with, each with what its workflow tasks went through.
 */
async function catchUp(rig: Rig, ledger: Ledger, from: number): Promise<{ ms?: number; behind: Behind[] }> {
  const targets = new Map<string, number>();
  const deadline = Date.now() + 180_000;
  for (const sid of ledger.turns.keys()) {
    // A query needs a workflow task: while the worker works off the backlog it may time out; ask again.
    for (;;) {
      try {
        targets.set(
          sid,
          (await rig.client.workflow.getHandle(sessionWorkflowId(sid)).query(statusQuery)).version,
        );
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  }
  const behind: Behind[] = [];
  for (const [sid, target] of targets) {
    for (;;) {
      const row = (await loadSnapshot(rig.pool, sid).catch(() => null))?.version ?? 0;
      if (row >= target) break;
      if (Date.now() > deadline) {
        behind.push({ sessionId: sid, row, target, trouble: await taskTrouble(rig.client, sid) });
        break;
      }
      await sleep(100);
    }
  }
  return behind.length > 0 ? { behind } : { ms: Date.now() - from, behind };
}

describe('Postgres outage', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('pg-outage');
  });
  afterAll(async () => {
    await rig?.close();
  });

  for (const variant of ['stopped', 'hung'] as const) {
    test(`Postgres ${variant === 'stopped' ? 'stopped (immediate)' : 'hung (SIGSTOP)'} for ${size.outageMs / 1000} s mid-run`, async () => {
      const sessions = sessionIds(`pg${variant[0]}`, size.sessions);
      const load = new Load({ service: rig.service, sessions, userId: 7003, thinkMs: size.thinkMs }).start();
      await sleep(size.runBeforeMs);
      const down = Date.now();
      if (variant === 'stopped') await rig.crashPostgres();
      else rig.freezePostgres();
      await sleep(size.outageMs);
      const back = Date.now();
      if (variant === 'stopped') await rig.startPostgres();
      else rig.thawPostgres();
      const ready = Date.now();
      const caught = await catchUp(rig, load.ledger, ready);
      await load.waitForAcks(size.minTurns, 300_000);
      await load.stop();
      const verdict = await verify(rig, load.ledger);
      report(`postgres-${variant}`, {
        ...verdict,
        outageMs: back - down,
        restartMs: ready - back,
        acksDuringOutage: acksBetween(load.ledger, down, back),
        appliedAcksDuringOutage: acksBetween(load.ledger, down, back, 'applied'),
        durableAcksDuringOutage: acksBetween(load.ledger, down, back, 'durable'),
        postgresCatchUpMs: caught.ms,
        behind: caught.behind.slice(0, 5),
        firstAppliedAckAfterFaultMs: recoveryMs(load.ledger, down, 'applied'),
        firstDurableAckAfterFaultMs: recoveryMs(load.ledger, down, 'durable'),
        attempts: load.ledger.attempts,
        failedAttempts: load.ledger.failedAttempts,
        errors: load.ledger.topErrors(),
        seconds: Math.round((Date.now() - load.startedAt) / 1000),
      });
      expectClean(verdict, load.ledger, size.minTurns);
      expect(caught.behind).toEqual([]);
    });
  }
});
