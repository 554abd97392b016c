// Runs examples/python/agent.py (the `temporalio` package from PyPI) against the test stack's Temporal and a real
// session worker: a turn signalled from Python lands in the session, once, and reads back through the TS service.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { uniqueIds } from './support/contract';
import { testStack } from './support/stack';
import { startTemporalHarness, TemporalHarness } from './support/temporal-harness';

const exec = promisify(execFile);
const AGENT = path.join(__dirname, '..', 'examples', 'python', 'agent.py');
const PYTHON = process.env.PYTHON ?? 'python3';

interface AgentOutput {
  session_id: string;
  turn_id: string;
  turn_status: { status: string; version?: number };
  messages: { role: string; content: string }[];
}

describe('examples/python/agent.py', () => {
  let h: TemporalHarness;

  beforeAll(async () => {
    // Fail loudly: CI installs the requirements, so a missing package is a broken setup, not a reason to skip.
    try {
      await exec(PYTHON, ['-c', 'import temporalio']);
    } catch (err) {
      throw new Error(
        `${PYTHON} cannot import temporalio: run \`python3 -m pip install -r examples/python/requirements.txt\`\n${String(err)}`,
      );
    }
    h = await startTemporalHarness('pyexample');
  });
  afterAll(async () => {
    await h?.close();
  });

  const agent = async (args: string[]): Promise<AgentOutput> => {
    const { stdout } = await exec(PYTHON, [AGENT, ...args], {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: testStack().temporalAddress,
        TEMPORAL_NAMESPACE: testStack().namespace,
        TEMPORAL_TASK_QUEUE: h.taskQueue,
      },
      timeout: 60_000,
    });
    return JSON.parse(stdout) as AgentOutput;
  };

  test('signals a turn with signal-with-start, reads the window with a query, and a retried turn id applies once', async () => {
    const ids = uniqueIds();
    const sessionId = ids.sessionId();
    const userId = ids.userId();
    const first = await agent([
      sessionId,
      'What is on my calendar?',
      'Two meetings.',
      '--user-id',
      String(userId),
      '--agent-type',
      'schedule',
    ]);
    expect(first.turn_status.status).toBe('applied');
    expect(first.messages).toEqual([
      { role: 'user', content: 'What is on my calendar?' },
      { role: 'assistant', content: 'Two meetings.' },
    ]);

    // The same turn id again (a client retry) is deduplicated by the actor.
    const retry = await agent([
      sessionId,
      'What is on my calendar?',
      'Two meetings.',
      '--user-id',
      String(userId),
      '--turn-id',
      first.turn_id,
    ]);
    expect(retry.turn_status).toEqual(first.turn_status);
    expect(retry.messages).toHaveLength(2);

    const ctx = await h.service.loadContext(sessionId);
    expect(ctx).toMatchObject({ sessionId, userId, agentType: 'schedule' });
    expect(ctx?.messages.map((m) => m.content)).toEqual(['What is on my calendar?', 'Two meetings.']);
  });
});
