// The ops CLI in-process (buildProgram().parseAsync) against the test stack: sessions list/show/delete and
// cleanup, each as text for people and as --json, configured the way operators do it (environment variables).
import { buildProgram } from '../src/cli/main';
import { SessionRecovery } from '../src/recovery';
import { eventually, makeContext, uniqueIds } from './support/contract';
import { startTemporalHarness, TemporalHarness } from './support/temporal-harness';
import { testStack } from './support/stack';

const ENV_KEYS = ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'TEMPORAL_TASK_QUEUE', 'TEMPORAL_NAMESPACE'] as const;

describe('durable-sessions CLI', () => {
  let h: TemporalHarness;
  let saved: Partial<Record<(typeof ENV_KEYS)[number], string>>;
  const ids = uniqueIds();
  const user = ids.userId();
  const oldUser = ids.userId();
  const live = [ids.sessionId('a'), ids.sessionId('b'), ids.sessionId('c')];
  const old = [ids.sessionId('old1'), ids.sessionId('old2')];

  /** Runs one command line and returns what it printed on stdout. */
  const cli = async (...args: string[]): Promise<string> => {
    const printed: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
      printed.push(parts.map(String).join(' '));
    });
    try {
      await buildProgram().parseAsync(args, { from: 'user' });
    } finally {
      log.mockRestore();
    }
    return printed.join('\n');
  };
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await cli(...args, '--json')) as T;
  /** Runs one command line and returns what it printed on stdout and on stderr. */
  const cliOut = async (...args: string[]): Promise<{ out: string; err: string }> => {
    const err: string[] = [];
    const error = jest.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
      err.push(parts.map(String).join(' '));
    });
    try {
      return { out: await cli(...args), err: err.join('\n') };
    } finally {
      error.mockRestore();
    }
  };

  beforeAll(async () => {
    h = await startTemporalHarness('cli');
    saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    process.env.TEMPORAL_ADDRESS = testStack().temporalAddress;
    process.env.TEMPORAL_NAMESPACE = testStack().namespace;
    process.env.TEMPORAL_TASK_QUEUE = h.taskQueue;
    process.env.DATABASE_URL = (h.pool.options as { connectionString: string }).connectionString;

    const recovery = new SessionRecovery(h.service);
    for (const [i, id] of live.entries()) {
      await recovery.recoverSession(id, user);
      await recovery.appendTurn(id, `question ${i}`, `answer ${i}`, i === 0 ? 'memo' : 'schedule');
    }
    // Lists read Postgres, which follows the actors within the persist delay: wait for each session's turn (its
    // creation may be written first, at once, and the turn up to a window later).
    await eventually(async () => {
      const listed = await h.service.listSessions(user, 10);
      expect(listed).toHaveLength(live.length);
      for (const s of listed) expect(s.lastMessage).toMatch(/^answer \d$/);
    });
    const longAgo = Math.floor(Date.now() / 1000) - 90 * 86400;
    for (const id of old) await h.seed(makeContext(id, oldUser, { createdAt: longAgo, updatedAt: longAgo }));
  });
  afterAll(async () => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await h?.close();
  });

  test('sessions list: a table for people, pages and a filter in JSON', async () => {
    const text = await cli('sessions', 'list', '--user', String(user));
    expect(text.split('\n')[0]).toMatch(/^SESSION\s+AGENT\s+UPDATED\s+LAST MESSAGE$/);
    for (const id of live) expect(text).toContain(id);
    expect(text).toContain('answer 0');
    expect(text).toContain(`3 sessions of user ${user}`);

    type Page = {
      user_id: number;
      sessions: { session_id: string; agent_type: string; last_message: string; updated_at: number }[];
      next_cursor?: string;
    };
    const all = await json<Page>('sessions', 'list', '--user', String(user));
    expect(all.sessions.map((s) => s.session_id).sort()).toEqual([...live].sort());
    expect(all.next_cursor).toBeUndefined();
    const first = await json<Page>('sessions', 'list', '--user', String(user), '--limit', '2');
    expect(first.sessions).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const rest = await json<Page>(
      'sessions',
      'list',
      '--user',
      String(user),
      '--limit',
      '2',
      '--cursor',
      first.next_cursor as string,
    );
    expect([...first.sessions, ...rest.sessions].map((s) => s.session_id).sort()).toEqual([...live].sort());
    const memo = await json<Page>('sessions', 'list', '--user', String(user), '--agent-type', 'memo');
    expect(memo.sessions.map((s) => s.session_id)).toEqual([live[0]]);
    expect(await cli('sessions', 'list', '--user', '7')).toBe('no sessions for user 7');
  });

  test('sessions show: the window for people, the wire context in JSON; a missing session fails', async () => {
    const text = await cli('sessions', 'show', live[1]);
    expect(text).toContain(`session     ${live[1]}`);
    expect(text).toContain(`user        ${user}`);
    expect(text).toMatch(/1\. user\s+question 1/);
    expect(text).toMatch(/2\. assistant\s+answer 1/);
    const ctx = await json<Record<string, unknown>>('sessions', 'show', live[1]);
    expect(ctx).toMatchObject({ session_id: live[1], user_id: user, agent_type: 'schedule' });
    expect(ctx.messages).toHaveLength(2);
    await expect(cli('sessions', 'show', ids.sessionId('missing'))).rejects.toThrow(/session not found/);
  });

  test('sessions delete: removes the session, and says so when there was nothing to delete', async () => {
    expect(await cli('sessions', 'delete', live[2])).toBe(`deleted session ${live[2]}`);
    expect(await h.service.loadContext(live[2])).toBeNull();
    expect(await json('sessions', 'delete', live[2])).toEqual({
      session_id: live[2],
      deleted: true,
      existed: false,
    });
    expect(await cli('sessions', 'delete', live[2])).toContain('did not exist');
  });

  test('turn --turn-id: a turn sent again with its id is applied once, applied or durable', async () => {
    const id = ids.sessionId('retry');
    const first = JSON.parse(
      await cli('turn', id, 'q1', 'a1', '--user-id', String(user), '--turn-id', 'cli-turn-1'),
    ) as { turn_id: string; version: number };
    expect(first.turn_id).toBe('cli-turn-1');
    const again = JSON.parse(
      await cli('turn', id, 'q1', 'a1', '--user-id', String(user), '--turn-id', 'cli-turn-1'),
    ) as { turn_id: string; version: number };
    expect(again.version).toBe(first.version);

    // A durable turn retried after a timeout: the same id, applied once.
    const line = (out: string): { turn_id: string; status: { status: string } } =>
      JSON.parse(out.split('\n')[0]);
    expect(line(await cli('turn', id, 'q2', 'a2', '--durable', '--turn-id', 'cli-turn-2'))).toMatchObject({
      turn_id: 'cli-turn-2',
      status: { status: 'applied' },
    });
    expect(line(await cli('turn', id, 'q2', 'a2', '--durable', '--turn-id', 'cli-turn-2'))).toMatchObject({
      status: { status: 'applied' },
    });
    const ctx = await h.service.loadContext(id);
    expect(ctx?.messages.map((m) => m.content)).toEqual(['q1', 'a1', 'q2', 'a2']);

    // Without an id the CLI makes one and prints it, so a failed call can be retried with it.
    const made = JSON.parse(await cli('turn', id, 'q3', 'a3')) as { turn_id: string };
    expect(made.turn_id).toMatch(/^[0-9a-f-]{36}$/);
    // Another user's session is refused, and says why.
    await expect(cli('turn', id, 'q4', 'a4', '--user-id', String(oldUser))).rejects.toThrow(/another user/);
  });

  test('turn with no worker on the task queue: a durable turn is accepted and waits, an applied one says so at once', async () => {
    const saved = process.env.TEMPORAL_TASK_QUEUE;
    const idle = `${h.taskQueue}-no-worker`;
    process.env.TEMPORAL_TASK_QUEUE = idle;
    const id = ids.sessionId('waiting');
    try {
      const { out, err } = await cliOut('turn', id, 'q', 'a', '--durable', '--user-id', String(user));
      expect(JSON.parse(out)).toMatchObject({ status: { status: 'accepted' }, waiting_for_worker: true });
      expect(err).toMatch(/^accepted, waiting for a worker: Temporal keeps turn /);
      expect(err).toContain(idle);

      await expect(cli('turn', id, 'q', 'a', '--user-id', String(user))).rejects.toThrow(
        new RegExp(`no worker polls task queue ${idle}`),
      );
    } finally {
      process.env.TEMPORAL_TASK_QUEUE = saved;
      await h.client.workflow
        .getHandle(`session/${id}`)
        .terminate('test: no worker will ever run it')
        .catch(() => undefined);
    }
  });

  test('cleanup: --dry-run counts, the real run deletes only expired sessions', async () => {
    expect(await cli('cleanup', '--retention-days', '30', '--dry-run')).toMatch(
      /^2 sessions would be deleted \(not updated since .*\); nothing was deleted$/,
    );
    const dry = await json<{ expired: number; dry_run: boolean; retention_days: number }>(
      'cleanup',
      '--retention-days',
      '30',
      '--dry-run',
    );
    expect(dry).toMatchObject({ expired: 2, dry_run: true, retention_days: 30 });
    for (const id of old) expect(await h.service.loadContext(id)).not.toBeNull();

    const done = await json<{ deleted: number; dry_run: boolean }>('cleanup', '--retention-days', '30');
    expect(done).toMatchObject({ deleted: 2, dry_run: false });
    for (const id of old) expect(await h.service.loadContext(id)).toBeNull();
    expect(await h.service.loadContext(live[0])).not.toBeNull();
    expect(await cli('cleanup', '--retention-days', '30')).toMatch(/^deleted 0 sessions not updated since /);
    await expect(cli('cleanup', '--retention-days', '-1')).rejects.toThrow(/retention/);
  });
});
