// The session actor's side of issue 16, where it meets its lifecycle: transcripts fenced by a deletion and bounded
// while Postgres is behind (nothing acknowledged lost), watchers carried across continue-as-new and idle completion,
// and no actor started for watching a session that does not exist.
import { SessionNotFoundError, StorageError } from '../src/errors';
import { loadSnapshot } from '../src/postgres/snapshots';
import { SessionRecovery } from '../src/recovery';
import type { SessionChange } from '../src/session-changes';
import type { Message } from '../src/types';
import { sessionWorkflowId } from '../workflows/messages';
import { recordFixture } from '../test-reliability/support/fixtures';
import { toolStep } from './support/agent-contract';
import { eventually, uniqueIds } from './support/contract';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Test-only faults on snapshot writes of listed sessions: 'slow' sleeps 3 s, 'busy' fails as retryable (40001). */
async function installFaults(h: TemporalHarness): Promise<void> {
  await h.pool.query(`
    CREATE TABLE IF NOT EXISTS test_fault (session_id text PRIMARY KEY, kind text NOT NULL);
    CREATE OR REPLACE FUNCTION test_fault_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE k text;
    BEGIN
      SELECT kind INTO k FROM test_fault WHERE session_id = NEW.session_id;
      IF k = 'slow' THEN PERFORM pg_sleep(3); END IF;
      IF k = 'busy' THEN RAISE EXCEPTION 'injected: serialization failure' USING ERRCODE = '40001'; END IF;
      RETURN NEW;
    END $$;
    DROP TRIGGER IF EXISTS test_fault ON conversation_context;
    CREATE TRIGGER test_fault BEFORE INSERT OR UPDATE ON conversation_context
      FOR EACH ROW EXECUTE FUNCTION test_fault_trigger();`);
}

async function setFault(h: TemporalHarness, sessionId: string, kind: string | null): Promise<void> {
  if (kind === null) await h.pool.query('DELETE FROM test_fault WHERE session_id = $1', [sessionId]);
  else
    await h.pool.query(
      'INSERT INTO test_fault (session_id, kind) VALUES ($1, $2) ON CONFLICT (session_id) DO UPDATE SET kind = $2',
      [sessionId, kind],
    );
}

async function transcriptRows(h: TemporalHarness, sessionId: string): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM session_transcript WHERE session_id = $1',
    [sessionId],
  );
  return Number(rows[0].n);
}

describe('transcripts on the actor', () => {
  let h: TemporalHarness;
  let recovery: SessionRecovery;

  beforeAll(async () => {
    h = await startTemporalHarness('agent_transcript', { persistDelayMs: 0, idleTimeoutMs: 60_000 });
    recovery = new SessionRecovery(h.service);
    await installFaults(h);
  });
  afterAll(async () => {
    await h?.close();
  });

  test('a transcript write in flight during deleteSession never brings the transcript back', async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    await recovery.recoverSession(id, ids.userId(), 'assistant', { transcript: true });
    await recovery.appendMessages(id, toolStep('one'));
    await eventually(async () => expect(await transcriptRows(h, id)).toBe(4));
    await setFault(h, id, 'slow');
    await recovery.appendMessages(id, toolStep('two')); // its write (snapshot and transcript) now sleeps 3 s
    await sleep(300);
    await h.service.deleteSession(id);
    await sleep(4_500); // the write in flight has long finished
    expect(await transcriptRows(h, id)).toBe(0);
    expect(await loadSnapshot(h.pool, id)).toBeNull();
    expect((await h.service.getTranscript(id)).entries).toEqual([]);
    await setFault(h, id, null);
  });

  test('while Postgres is behind the transcript backlog is bounded: the write is refused as retryable, and every acknowledged message is kept once', async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    await recovery.recoverSession(id, ids.userId(), 'assistant', { transcript: true });
    await eventually(async () => expect(await loadSnapshot(h.pool, id)).not.toBeNull());
    await setFault(h, id, 'busy');
    const big = (tag: string, i: number): Message => ({
      role: 'user',
      content: `${tag}${i}`.padEnd(32 * 1024, '.'),
    });
    const step = (tag: string) => [0, 1, 2, 3].map((i) => big(tag, i));
    // 4 steps of 128 KiB fill the 512 KiB backlog; the fifth waits for Postgres.
    for (const tag of ['a', 'b', 'c', 'd']) await recovery.appendMessages(id, step(tag));
    const refused = await recovery.appendMessages(id, step('e')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageError);
    // What adds nothing to the transcript goes through meanwhile.
    await recovery.updateMetadata(id, 'while', 'behind');
    expect((await h.service.loadContext(id))!.messages.map((m) => m.content[0])).not.toContain('e');
    await setFault(h, id, null);
    await eventually(async () => expect(await transcriptRows(h, id)).toBe(16), 30_000);
    await recovery.appendMessages(id, step('e'));
    await eventually(async () => {
      const page = await h.service.getTranscript(id, { limit: 100 });
      expect(page.entries.map((e) => e.message.content.slice(0, 2))).toEqual(
        ['a', 'b', 'c', 'd', 'e'].flatMap((t) => [0, 1, 2, 3].map((i) => `${t}${i}`)),
      );
    }, 30_000);
  }, 90_000);
});

describe('every issue 16 command in one history', () => {
  let h: TemporalHarness;
  let recovery: SessionRecovery;

  beforeAll(async () => {
    h = await startTemporalHarness('agent_history', { persistDelayMs: 0, idleTimeoutMs: 60_000 });
    recovery = new SessionRecovery(h.service);
  });
  afterAll(async () => {
    await h?.close();
  });

  // RELIABILITY_RECORD_FIXTURES=1 records this history for test-reliability/replay.test.ts (fixtures/agent-session.1.json):
  // the new updates, the long-poll, the persist activity with a transcript argument all replay from then on.
  test('a tool-calling session with a transcript, its settings changed, watched and forked', async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    const userId = ids.userId();
    await recovery.recoverSession(id, userId, 'weather', { transcript: true });
    const first = await h.service.changes(id);
    await recovery.appendMessages(id, toolStep('paris'), { agentType: 'weather' });
    const changes = await h.service.changes(id, { afterVersion: first.version, waitMs: 0 });
    expect(changes.changes.map((c) => c.type)).toEqual(['appended']);
    await recovery.configureSession(id, { windowMessages: 6, transcript: true });
    await recovery.appendMessages(id, toolStep('rome'));
    await recovery.updateMetadata(id, 'topic', 'weather');
    const fork = ids.sessionId('fork');
    await h.service.forkSession(id, fork, { expectedUserId: userId });
    // Six slots: the second step whole, and of the first only its answer (its call cannot stay without its result).
    expect((await h.service.loadContext(id))!.messages).toEqual([toolStep('paris')[3], ...toolStep('rome')]);
    await eventually(async () => expect(await transcriptRows(h, id)).toBe(8));
    await recordFixture(h.client, id, 'agent-session', 1);
  });
});

describe('watching the actor across its runs', () => {
  let h: TemporalHarness;
  let recovery: SessionRecovery;

  beforeAll(async () => {
    h = await startTemporalHarness('agent_watch', { continueAsNewAfter: 5, idleTimeoutMs: 2_500 });
    recovery = new SessionRecovery(h.service);
  });
  afterAll(async () => {
    await h?.close();
  });

  async function runsOf(sessionId: string): Promise<{ runId: string; status: string }[]> {
    const runs: { runId: string; status: string }[] = [];
    for await (const e of h.client.workflow.list({ query: `WorkflowId = '${sessionWorkflowId(sessionId)}'` }))
      runs.push({ runId: e.runId, status: e.status.name });
    return runs;
  }

  test('a watcher waiting when the run continues as new follows into the next run: every version once, in order', async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    await recovery.recoverSession(id, ids.userId());
    const controller = new AbortController();
    const seen: SessionChange[] = [];
    const watching = (async () => {
      for await (const change of h.service.watch(id, { signal: controller.signal, waitMs: 20_000 }))
        seen.push(change);
    })();
    await eventually(async () => expect(seen.length).toBeGreaterThan(0));
    for (let i = 0; i < 12; i++) await recovery.appendTurn(id, `q${i}`, `a${i}`);
    const { version } = await recovery.updateMetadata(id, 'done', true);
    await eventually(async () => expect(seen[seen.length - 1].version).toBe(version), 30_000);
    controller.abort();
    await watching;
    expect((await runsOf(id)).length).toBeGreaterThanOrEqual(3);
    const versions = seen.map((c) => c.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    // A change the watcher could not get from the run's log comes as the whole session, never as a gap.
    for (let i = 1; i < seen.length; i++)
      if (seen[i].type !== 'session') expect(seen[i].version).toBe(seen[i - 1].version + 1);
    // What the watcher holds at the end is the session: a last `session` change is its state at that version.
    const last = seen.filter((c) => c.type === 'session').pop();
    if (last?.type === 'session' && last.version === version)
      expect(last.session.messages).toEqual((await h.service.loadContext(id))!.messages);
  }, 60_000);

  test("retention takes an expired session's transcript with it (the SQL path, no actor running)", async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    await recovery.recoverSession(id, ids.userId(), 'assistant', { transcript: true });
    await recovery.appendMessages(id, toolStep('old'));
    await eventually(async () => expect(await transcriptRows(h, id)).toBe(4));
    await eventually(
      async () => expect((await runsOf(id)).every((r) => r.status === 'COMPLETED')).toBe(true),
      30_000,
    );
    // Ten thousand days old: only this test's session is that old in this database.
    await h.pool.query(
      'UPDATE conversation_context SET updated_at = updated_at - 864000000 WHERE session_id = $1',
      [id],
    );
    expect(await h.service.cleanupExpired(9_000)).toBe(1);
    expect(await loadSnapshot(h.pool, id)).toBeNull();
    expect(await transcriptRows(h, id)).toBe(0);
  }, 60_000);

  test('watching a session whose actor idled out starts one; watching a missing session starts none', async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    const { version } = await recovery.appendTurn(
      (await recovery.recoverSession(id, ids.userId())).sessionId,
      'q',
      'a',
    );
    await eventually(
      async () => expect((await runsOf(id)).every((r) => r.status === 'COMPLETED')).toBe(true),
      30_000,
    );
    const answer = await h.service.changes(id, { afterVersion: version - 1, waitMs: 0 });
    // The new run has no log yet: the change it cannot give comes as the whole session, at its version.
    expect(answer.changes).toHaveLength(1);
    expect(answer.changes[0]).toMatchObject({ type: 'session', version });
    expect((await runsOf(id)).some((r) => r.status === 'RUNNING')).toBe(true);

    const missing = ids.sessionId('missing');
    await expect(h.service.changes(missing, { waitMs: 0 })).rejects.toBeInstanceOf(SessionNotFoundError);
    expect(await runsOf(missing)).toEqual([]);
  }, 60_000);
});

describe('watching a session Postgres does not have yet', () => {
  let h: TemporalHarness;
  let recovery: SessionRecovery;

  beforeAll(async () => {
    // Snapshots wait a minute, also the first: the session lives only in its actor's runs, across continue-as-new.
    h = await startTemporalHarness('agent_watch_unsaved', {
      continueAsNewAfter: 3,
      persistDelayMs: 60_000,
      persistLeadingEdge: false,
    });
    recovery = new SessionRecovery(h.service);
  });
  afterAll(async () => {
    await h?.close();
  });

  test('a poll that meets a run continuing as new asks its successor: the watcher never sees the session deleted', async () => {
    const ids = uniqueIds();
    const id = ids.sessionId();
    await recovery.recoverSession(id, ids.userId());
    const controller = new AbortController();
    const seen: SessionChange[] = [];
    const watching = (async () => {
      for await (const change of h.service.watch(id, { signal: controller.signal, waitMs: 20_000 }))
        seen.push(change);
    })();
    await eventually(async () => expect(seen.length).toBeGreaterThan(0));
    let version = 0;
    for (let i = 0; i < 10; i++) version = (await recovery.appendTurn(id, `q${i}`, `a${i}`)).version;
    await eventually(async () => expect(seen[seen.length - 1]?.version).toBe(version), 30_000);
    controller.abort();
    await watching;
    expect(await loadSnapshot(h.pool, id)).toBeNull();
    expect(seen.map((c) => c.type)).not.toContain('deleted');
  }, 60_000);
});
