// Regression (found by the bad-input test at full size): a lone UTF-16 surrogate (e.g. "\ud800") used to be
// acknowledged, then Postgres jsonb refused the snapshot for ever ("Unicode low surrogate must follow a high
// surrogate"). The rules now refuse it on every path — applied, durable, metadata — and the session stays
// writable and persisted.
import { ValidationError } from '../src/errors';
import { loadSnapshot } from '../src/postgres/snapshots';
import { sleep } from '../src/runtime/process';
import { sessionWorkflowId, statusQuery, turnSignal } from '../workflows/messages';
import { sessionIds } from './support/load';
import { Rig } from './support/rig';

describe('lone surrogates', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start('lone-surrogate');
  });
  afterAll(async () => {
    await rig?.close();
  });

  test('are refused on every path and the session keeps persisting', async () => {
    const [sid] = sessionIds('ls', 1);
    await rig.service.execute(sid, { type: 'recover', userId: 7009 });
    const bad = 'half an emoji: \ud83d';
    await expect(
      rig.service.execute(sid, { type: 'appendMessage', message: { role: 'user', content: bad } }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      rig.service.execute(sid, { type: 'updateMetadata', patch: { k: bad } }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(rig.service.submitTurn(sid, bad, 'a')).rejects.toBeInstanceOf(ValidationError);
    // A raw signal that skips the client's validation is recorded as rejected, never applied.
    const handle = rig.client.workflow.getHandle(sessionWorkflowId(sid));
    await handle.signal(turnSignal, { turn_id: 'raw-bad', user: bad, assistant: 'a' });
    expect(await rig.service.turnStatus(sid, 'raw-bad')).toMatchObject({
      status: 'rejected',
      code: 'invalid_argument',
    });

    const ok = await rig.service.execute(sid, {
      type: 'appendMessage',
      message: { role: 'user', content: 'fine 😀' },
    });
    const deadline = Date.now() + 20_000;
    let status = await handle.query(statusQuery);
    while (status.persisted_version < ok.version && Date.now() < deadline) {
      await sleep(200);
      status = await handle.query(statusQuery);
    }
    const row = await loadSnapshot(rig.pool, sid);
    expect({ persisted: status.persisted_version, postgres: row?.version }).toEqual({
      persisted: ok.version,
      postgres: ok.version,
    });
    expect(row?.context.messages.map((m) => m.content)).toEqual(['fine 😀']);
  });
});
