// The contract of sessions shaped like today's agents (issue 16), run against every implementation where it applies:
// tool-calling steps, windows that keep a call with its results, per-session budgets, transcripts, forks, watching.
// Used by test/contract-*.test.ts beside the SessionService and SessionRecovery suites.
import {
  SessionConflictError,
  SessionExistsError,
  SessionNotFoundError,
  ValidationError,
} from '../../src/errors';
import { SessionRecovery } from '../../src/recovery';
import {
  type ForkCapable,
  type TranscriptCapable,
  type Watchable,
  isCommandCapable,
} from '../../src/service';
import type { SessionChange } from '../../src/session-changes';
import type { Message, ToolCall, TranscriptEntry } from '../../src/types';
import { type ContractHarness, eventually, uniqueIds } from './contract';

export interface AgentFeatures {
  /** The service keeps transcripts (getTranscript). */
  transcript: boolean;
  /** The service watches sessions (changes, watch). */
  watch: boolean;
}

const call = (id: string, args = '{"city":"Paris"}'): ToolCall => ({
  id,
  type: 'function',
  function: { name: 'get_weather', arguments: args },
});

/** One agent step with a tool call: user, assistant calling, the tool's result, the answer. */
export function toolStep(tag: string): Message[] {
  return [
    { role: 'user', content: `weather ${tag}?` },
    { role: 'assistant', content: '', toolCalls: [call(`call_${tag}`)] },
    { role: 'tool', content: `{"temp_c":${tag.length}}`, toolCallId: `call_${tag}` },
    { role: 'assistant', content: `It is ${tag.length} °C.` },
  ];
}

/** Every tool message of the window answers a call in the window, and the window does not start with one. */
function expectPaired(messages: Message[]): void {
  expect(messages[0]?.role).not.toBe('tool');
  const calls = new Set(messages.flatMap((m) => (m.toolCalls ?? []).map((c) => c.id)));
  for (const m of messages) if (m.role === 'tool') expect(calls.has(m.toolCallId as string)).toBe(true);
}

export function describeAgentSessionContract(
  name: string,
  makeHarness: () => Promise<ContractHarness>,
  features: AgentFeatures,
): void {
  describe(`agent sessions contract: ${name}`, () => {
    let harness: ContractHarness;
    let recovery: SessionRecovery;
    let ids: ReturnType<typeof uniqueIds>;

    beforeAll(async () => {
      harness = await makeHarness();
      recovery = new SessionRecovery(harness.service);
    });
    afterAll(async () => {
      await harness?.close();
    });
    beforeEach(() => {
      ids = uniqueIds();
    });

    const load = (id: string) => harness.service.loadContext(id);
    const forks = () => harness.service as unknown as ForkCapable;
    const transcripts = () => harness.service as unknown as TranscriptCapable;
    const watchable = () => harness.service as unknown as Watchable;

    async function created(settings?: Parameters<SessionRecovery['recoverSession']>[3]) {
      const id = ids.sessionId();
      const userId = ids.userId();
      await recovery.recoverSession(id, userId, 'assistant', settings);
      return { id, userId };
    }

    describe('tool-calling steps', () => {
      it('appendMessages stores a whole step in one write, in the OpenAI chat shape', async () => {
        const { id } = await created();
        const before = await recovery.appendTurn(id, 'hi', 'hello');
        const step = toolStep('paris');
        const after = await recovery.appendMessages(id, step, { agentType: 'weather' });
        if (isCommandCapable(harness.service)) expect(after.version).toBe(before.version + 1);
        const stored = await load(id);
        expect(stored!.messages).toEqual([
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'hello' },
          ...step,
        ]);
        expect(stored!.agentType).toBe('weather');
      });

      it('a tool result answers a call made in an earlier write', async () => {
        const { id } = await created();
        const [ask, calling, result] = toolStep('rome');
        await recovery.appendMessages(id, [ask, calling]);
        await recovery.appendMessage(id, result);
        expect((await load(id))!.messages).toEqual([ask, calling, result]);
      });

      it('refuses orphan results, unknown tool_call_ids and oversize arguments, changing nothing', async () => {
        const { id } = await created();
        await recovery.appendMessages(id, toolStep('oslo'));
        const before = await load(id);
        const bad: [string, Message[]][] = [
          ['messages[0].tool_call_id', [{ role: 'tool', content: 'x', toolCallId: 'call_unknown' }]],
          ['messages[0].tool_call_id', [{ role: 'tool', content: 'again', toolCallId: 'call_oslo' }]],
          [
            'messages[0].tool_calls[0].function.arguments',
            [{ role: 'assistant', content: '', toolCalls: [call('c2', 'x'.repeat(32 * 1024 + 1))] }],
          ],
          [
            'messages[1].tool_call_id',
            [
              { role: 'user', content: 'q' },
              { role: 'tool', content: 'r', toolCallId: 'nope' },
            ],
          ],
        ];
        for (const [field, messages] of bad) {
          const error = await recovery.appendMessages(id, messages).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).field).toBe(field);
        }
        expect(await load(id)).toEqual(before);
      });

      it('the window keeps a call with its results: they leave together, and it never starts with a result', async () => {
        const { id } = await created({ windowMessages: 6 });
        for (const tag of ['a', 'bb', 'ccc', 'dddd']) {
          await recovery.appendMessages(id, toolStep(tag));
          const messages = (await load(id))!.messages;
          expect(messages.length).toBeLessThanOrEqual(6);
          expectPaired(messages);
        }
        // Six slots, steps of four: the newest step whole, and from the one before only what holds no call.
        expect((await load(id))!.messages).toEqual([toolStep('ccc')[3], ...toolStep('dddd')]);
      });
    });

    describe('budget windows', () => {
      it('are set at creation and changed later; the 20-message window stays the default', async () => {
        const { id } = await created({ windowMessages: 4 });
        for (let i = 0; i < 6; i++) await recovery.appendMessage(id, { role: 'user', content: `m${i}` });
        let stored = await load(id);
        expect(stored!.settings).toEqual({ windowMessages: 4 });
        expect(stored!.messages.map((m) => m.content)).toEqual(['m2', 'm3', 'm4', 'm5']);

        await recovery.configureSession(id, { windowMessages: 2 });
        stored = await load(id);
        expect(stored!.messages.map((m) => m.content)).toEqual(['m4', 'm5']);

        await recovery.configureSession(id, {});
        for (let i = 6; i < 30; i++) await recovery.appendMessage(id, { role: 'user', content: `m${i}` });
        stored = await load(id);
        expect(stored!.settings).toBeUndefined();
        expect(stored!.messages).toHaveLength(20);
      });

      it('a byte budget keeps the newest messages that fit; getRecentMessages takes one too', async () => {
        const { id } = await created({ windowBytes: 250 });
        for (let i = 0; i < 5; i++)
          await recovery.appendMessage(id, { role: 'user', content: `${i}`.repeat(100) });
        expect((await load(id))!.messages.map((m) => m.content[0])).toEqual(['3', '4']);
        await recovery.configureSession(id, {});
        await recovery.appendMessages(id, toolStep('x'));
        const args = call('x').function.arguments.length;
        const recent = await recovery.getRecentMessages(id, 0, { maxBytes: 10 + args + 9 });
        // The answer (12 bytes) does not fit with the call and its result: only the answer comes.
        expect(recent).toEqual([toolStep('x')[3]]);
        expect(await recovery.getRecentMessages(id, 0, { maxBytes: 10_000 })).toHaveLength(6);
        expectPaired((await recovery.getRecentMessages(id, 3))!);
        await expect(recovery.configureSession(id, { windowBytes: 0 })).rejects.toBeInstanceOf(
          ValidationError,
        );
      });
    });

    describe('fork', () => {
      it('creates a new session of the same owner with the source state; the source is unchanged', async () => {
        const { id, userId } = await created({ windowMessages: 10 });
        await recovery.appendMessages(id, toolStep('fork'));
        await recovery.updateMetadata(id, 'topic', 'weather');
        const source = await load(id);
        const target = ids.sessionId('fork');
        const forked = await forks().forkSession(id, target, { expectedUserId: userId });
        expect(forked.context).toMatchObject({
          sessionId: target,
          userId,
          agentType: 'assistant',
          messages: source!.messages,
          metadata: { topic: 'weather' },
          settings: { windowMessages: 10 },
        });
        expect(await load(id)).toEqual(source);
        await recovery.appendTurn(target, 'another answer?', 'yes');
        expect((await load(id))!.messages).toEqual(source!.messages);
        expect((await load(target))!.messages).toHaveLength(6);
      });

      it("fails cleanly when the new id exists, the source is missing, or the source is not the user's", async () => {
        const { id, userId } = await created();
        const other = await created();
        // Another user's id: refused like any change to another user's session, and left as it was.
        await expect(forks().forkSession(id, other.id, { expectedUserId: userId })).rejects.toBeInstanceOf(
          SessionConflictError,
        );
        const own = ids.sessionId('own');
        await recovery.recoverSession(own, userId);
        await expect(forks().forkSession(id, own, { expectedUserId: userId })).rejects.toBeInstanceOf(
          SessionExistsError,
        );
        await expect(forks().forkSession(ids.sessionId('none'), ids.sessionId())).rejects.toBeInstanceOf(
          SessionNotFoundError,
        );
        await expect(
          forks().forkSession(other.id, ids.sessionId(), { expectedUserId: userId }),
        ).rejects.toBeInstanceOf(SessionNotFoundError);
        expect((await load(own))!.messages).toEqual([]);
      });
    });

    if (features.transcript)
      describe('transcript', () => {
        const all = async (id: string, limit: number): Promise<TranscriptEntry[]> => {
          const entries: TranscriptEntry[] = [];
          let cursor: string | undefined;
          do {
            const page = await transcripts().getTranscript(id, { cursor, limit });
            entries.push(...page.entries);
            cursor = page.nextCursor;
          } while (cursor);
          return entries;
        };

        it('keeps every message that entered the window, in order, in pages; off by default', async () => {
          const { id } = await created({ windowMessages: 4, transcript: true });
          const steps = ['a', 'b', 'c', 'd', 'e'].map(toolStep);
          for (const step of steps) await recovery.appendMessages(id, step);
          expect((await load(id))!.messages).toHaveLength(4);
          await eventually(async () =>
            expect((await all(id, 3)).map((e) => e.message)).toEqual(steps.flat()),
          );
          const entries = await all(id, 7);
          // Each step's messages came with one version, in order.
          expect(new Set(entries.slice(0, 4).map((e) => e.version)).size).toBe(1);
          expect(entries[4].version).toBeGreaterThan(entries[0].version);

          const plain = await created();
          await recovery.appendMessages(plain.id, toolStep('z'));
          expect((await transcripts().getTranscript(plain.id)).entries).toEqual([]);
          await expect(transcripts().getTranscript(id, { cursor: 'bogus' })).rejects.toBeInstanceOf(
            ValidationError,
          );
        });

        it('turned on later, starts with the window; goes with the session', async () => {
          const { id } = await created();
          await recovery.appendTurn(id, 'q1', 'a1');
          await recovery.configureSession(id, { transcript: true });
          await recovery.appendTurn(id, 'q2', 'a2');
          await eventually(async () =>
            expect((await all(id, 10)).map((e) => e.message.content)).toEqual(['q1', 'a1', 'q2', 'a2']),
          );
          await harness.service.deleteSession(id);
          expect((await transcripts().getTranscript(id)).entries).toEqual([]);
        });
      });

    if (features.watch)
      describe('watch', () => {
        /** Collects changes until `stop` says so (or the watch ends). */
        async function collect(
          changes: AsyncIterator<SessionChange>,
          stop: (changes: SessionChange[]) => boolean,
        ): Promise<SessionChange[]> {
          const seen: SessionChange[] = [];
          for (;;) {
            const next = await changes.next();
            if (next.done) return seen;
            seen.push(next.value);
            if (stop(seen)) return seen;
          }
        }

        it('gives the session, then one change per version in order, ending with deleted', async () => {
          const { id, userId } = await created();
          const controller = new AbortController();
          const watch = watchable().watch(id, {
            expectedUserId: userId,
            signal: controller.signal,
            waitMs: 10_000,
          });
          const changes = watch[Symbol.asyncIterator]();
          // The first change is the session as it is; everything written after it follows, change by change.
          const first = await changes.next();
          const watching = collect(changes, (seen) => seen.some((c) => c.type === 'deleted'));
          await recovery.appendTurn(id, 'q', 'a');
          await recovery.appendMessages(id, toolStep('w'));
          await recovery.updateMetadata(id, 'k', 1);
          await recovery.clearMessages(id);
          await harness.service.deleteSession(id);
          const seen = [first.value as SessionChange, ...(await watching)];
          controller.abort();
          expect(seen[0].type).toBe('session');
          const versions = seen.filter((c) => c.type !== 'deleted').map((c) => c.version);
          expect(versions).toEqual(versions.map((_, i) => versions[0] + i));
          expect(seen.map((c) => c.type).slice(-5)).toEqual([
            'appended',
            'appended',
            'metadata',
            'cleared',
            'deleted',
          ]);
          const step = seen.find((c) => c.type === 'appended' && c.messages.length === 4);
          expect(step).toMatchObject({ messages: toolStep('w') });
        });

        it('resumes after a version it was given, without repeating one', async () => {
          const { id } = await created();
          const first = await recovery.appendTurn(id, 'q1', 'a1');
          await recovery.appendTurn(id, 'q2', 'a2');
          await recovery.appendTurn(id, 'q3', 'a3');
          const version = first.version;
          const watch = watchable().watch(id, { fromVersion: version })[Symbol.asyncIterator]();
          const seen = await collect(watch, (s) => s.length === 2);
          expect(seen.map((c) => c.version)).toEqual([version + 1, version + 2]);
          expect(seen.map((c) => c.type)).toEqual(['appended', 'appended']);
        });

        it('ends at once when stopped, even while a poll waits', async () => {
          const { id } = await created();
          const controller = new AbortController();
          const watch = watchable().watch(id, { signal: controller.signal, waitMs: 2_000 });
          const changes = watch[Symbol.asyncIterator]();
          expect((await changes.next()).value).toMatchObject({ type: 'session' });
          const waiting = changes.next(); // nothing changes: the poll waits
          await new Promise((resolve) => setTimeout(resolve, 200));
          const started = Date.now();
          controller.abort();
          expect(await waiting).toEqual({ done: true, value: undefined });
          expect(Date.now() - started).toBeLessThan(500);
        });

        it('a missing session is not found', async () => {
          await expect(watchable().changes(ids.sessionId('none'), { waitMs: 0 })).rejects.toBeInstanceOf(
            SessionNotFoundError,
          );
        });
      });
  });
}
