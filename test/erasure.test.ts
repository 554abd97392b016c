// Erasure on a real dev server and Postgres: after deleteSession and after expiry, no row and no execution of the
// session's workflow id is left, across continue-as-new runs; deleting an unknown session is not an error.
import { loadSnapshot } from '../src/postgres/snapshots';
import { SessionRecovery } from '../src/recovery';
import { eraseWorkflowHistories } from '../src/retention/erasure';
import { sessionWorkflowId } from '../workflows/messages';
import { eventually, uniqueIds } from './support/contract';
import { temporalCli } from './support/stack';
import { startTemporalHarness, TemporalHarness } from './support/temporal-harness';

async function runIds(h: TemporalHarness, sessionId: string): Promise<string[]> {
  const runs: string[] = [];
  for await (const e of h.client.workflow.list({ query: `WorkflowId = '${sessionWorkflowId(sessionId)}'` })) {
    runs.push(e.runId);
  }
  return runs;
}

/** What an operator would check: the CLI lists no execution, and describe fails. */
async function expectNoTrace(sessionId: string): Promise<void> {
  const workflowId = sessionWorkflowId(sessionId);
  const { stdout } = await temporalCli([
    'workflow',
    'list',
    '--query',
    `WorkflowId = '${workflowId}'`,
    '-o',
    'json',
  ]);
  expect(JSON.parse(stdout.trim() || '[]')).toEqual([]);
  await expect(temporalCli(['workflow', 'describe', '--workflow-id', workflowId])).rejects.toThrow();
}

describe('erasure', () => {
  let h: TemporalHarness;
  let recovery: SessionRecovery;

  beforeAll(async () => {
    h = await startTemporalHarness('erasure', { continueAsNewAfter: 5, idleTimeoutMs: 1_500 });
    recovery = new SessionRecovery(h.service);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A session written 20 times: four runs or more (continue-as-new every 5 commands). */
  async function sessionWithRuns(): Promise<string> {
    const ids = uniqueIds();
    const id = ids.sessionId();
    await recovery.recoverSession(id, ids.userId());
    for (let i = 0; i < 20; i++) await recovery.appendMessage(id, { role: 'user', content: `secret ${i}` });
    await eventually(async () => expect((await runIds(h, id)).length).toBeGreaterThanOrEqual(4));
    return id;
  }

  test('deleteSession removes the row and every run of the actor', async () => {
    const id = await sessionWithRuns();
    await h.service.deleteSession(id);
    expect(await loadSnapshot(h.pool, id)).toBeNull();
    expect(await h.service.loadContext(id)).toBeNull();
    expect(await runIds(h, id)).toEqual([]);
    await expectNoTrace(id);
  });

  test('deleteSession of a session whose actor has completed erases its closed runs', async () => {
    const id = await sessionWithRuns();
    const handle = h.client.workflow.getHandle(sessionWorkflowId(id));
    await eventually(async () => expect((await handle.describe()).status.name).toBe('COMPLETED'), 15_000);
    await h.service.deleteSession(id);
    expect(await loadSnapshot(h.pool, id)).toBeNull();
    await expectNoTrace(id);
  });

  test('expiry erases the same way: an idle-completed session, back-dated, leaves nothing behind', async () => {
    const id = await sessionWithRuns();
    const handle = h.client.workflow.getHandle(sessionWorkflowId(id));
    await eventually(async () => expect((await handle.describe()).status.name).toBe('COMPLETED'), 15_000);
    await h.pool.query(
      'UPDATE conversation_context SET updated_at = updated_at - 31 * 86400 WHERE session_id = $1',
      [id],
    );
    // This harness owns its database, so the count is exactly this session.
    expect(await h.service.cleanupExpired(30)).toBe(1);
    expect(await loadSnapshot(h.pool, id)).toBeNull();
    await expectNoTrace(id);
  });

  test('deleting an unknown session is not an error, and erasing nothing returns at once', async () => {
    const id = uniqueIds().sessionId('never');
    await expect(h.service.deleteSession(id)).resolves.toBeUndefined();
    await expect(h.service.deleteSession(id)).resolves.toBeUndefined();
    const t0 = Date.now();
    expect(await eraseWorkflowHistories(h.client, sessionWorkflowId(id))).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
