// BUG (found by the bad-input test at full size): the rules accept a lone UTF-16 surrogate (e.g. "\ud800") in
// message content and metadata, but Postgres jsonb rejects it ("invalid input syntax for type json: Unicode low
// surrogate must follow a high surrogate"). The write is acknowledged, then the actor's persistSnapshot local
// activity fails forever: the session never reaches Postgres again, its idle completion and continue-as-new wait
// on a flush that cannot happen, and each later applied write waits for the open workflow task's heartbeat.
import { sessionWorkflowId, statusQuery } from '../workflows/messages';
import { loadSnapshot } from '../src/postgres/snapshots';
import { sleep } from '../src/runtime/process';
import { Rig } from './support/rig';
import { sessionIds } from './support/load';

describe('BUG: lone surrogate', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('lone-surrogate');
  });
  afterAll(async () => {
    await rig?.close();
  });

  test('BUG: a write with a lone surrogate is acknowledged but its snapshot can never be persisted', async () => {
    const [sid] = sessionIds('ls-bug', 1);
    await rig.service.execute(sid, { type: 'recover', userId: 7009 });
    // Acknowledged: the rules (and the HTTP schema) accept it.
    const acked = await rig.service.execute(sid, {
      type: 'appendMessage',
      message: { role: 'user', content: 'half an emoji: \ud83d' },
    });
    const handle = rig.client.workflow.getHandle(sessionWorkflowId(sid));
    // A healthy actor persists within a second; give it 20 s. (A query waits for the workflow task the failing
    // flush holds open, so each one may take seconds here.)
    const deadline = Date.now() + 20_000;
    let status = await handle.query(statusQuery);
    while (status.persisted_version < acked.version && Date.now() < deadline) {
      await sleep(500);
      status = await handle.query(statusQuery);
    }
    const row = await loadSnapshot(rig.pool, sid);
    // Expected once fixed: either the write is refused (ValidationError) or it is persisted like any other.
    expect({ persisted: status.persisted_version, postgres: row?.version }).toEqual({
      persisted: acked.version,
      postgres: acked.version,
    });
  });
});
