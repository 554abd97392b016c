// The reference's defect, measured: 50 concurrent writers on one session through PostgresSessionStore's
// load-modify-save path, against the same load through the actor. Reports what each keeps (no assertion
// that the store loses: that is the measurement), and asserts the actor keeps everything.
import fs from 'node:fs';
import path from 'node:path';
import { PostgresSessionStore } from '../src/postgres/store';
import { SessionRecovery } from '../src/recovery';
import { makeContext, uniqueIds } from './support/contract';
import { createTestDatabase, TestDatabase } from './support/stack';
import { startTemporalHarness, TemporalHarness } from './support/temporal-harness';

const WRITERS = 50;

async function race(recovery: SessionRecovery, sessionId: string) {
  const outcomes = await Promise.allSettled(
    Array.from({ length: WRITERS }, (_, i) => recovery.updateMetadata(sessionId, `writer${i}`, i)),
  );
  const acknowledged = outcomes
    .map((o, i) => (o.status === 'fulfilled' ? `writer${i}` : null))
    .filter((k): k is string => k !== null);
  return { acknowledged, errors: outcomes.length - acknowledged.length };
}

function report(name: string, figures: Record<string, unknown>): void {
  const dir = path.join(__dirname, '..', 'test-artifacts');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `concurrency-${name}.json`), JSON.stringify(figures, null, 2));
  console.log(`concurrency ${name}: ${JSON.stringify(figures)}`);
}

describe('50 concurrent writers on one session', () => {
  let db: TestDatabase;
  let h: TemporalHarness;
  beforeAll(async () => {
    db = await createTestDatabase('concurrency');
    h = await startTemporalHarness('concurrency_actor');
  });
  afterAll(async () => {
    await h?.close();
    await db?.drop();
  });

  test('PostgresSessionStore (the reference design): report how many acknowledged writes survive', async () => {
    const store = new PostgresSessionStore(db.pool);
    const ids = uniqueIds();
    const id = ids.sessionId();
    await store.saveContext(id, makeContext(id, ids.userId()));
    const { acknowledged, errors } = await race(new SessionRecovery(store), id);
    const kept = Object.keys((await store.loadContext(id))?.metadata ?? {}).filter((k) =>
      acknowledged.includes(k),
    );
    report('postgres-store', {
      writers: WRITERS,
      acknowledged: acknowledged.length,
      errors,
      kept: kept.length,
      lost: acknowledged.length - kept.length,
    });
    expect(acknowledged.length + errors).toBe(WRITERS);
    expect(kept.length).toBeLessThanOrEqual(acknowledged.length);
  });

  test('TemporalSessionService (the actor): every acknowledged write survives', async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    await h.service.saveContext(id, makeContext(id, ids.userId()));
    const { acknowledged, errors } = await race(new SessionRecovery(h.service), id);
    const kept = Object.keys((await h.service.loadContext(id))?.metadata ?? {}).filter((k) =>
      acknowledged.includes(k),
    );
    report('actor', {
      writers: WRITERS,
      acknowledged: acknowledged.length,
      errors,
      kept: kept.length,
      lost: acknowledged.length - kept.length,
    });
    expect(errors).toBe(0);
    expect(kept.length).toBe(WRITERS);
  });
});
