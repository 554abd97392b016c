// The SessionRecovery contract suite: conversation helpers over any SessionService behave the same.
// Used by test/contract-*.test.ts next to the SessionService suite; ids are unique per test.
import { SessionConflictError, SessionNotFoundError, ValidationError } from '../../src/errors';
import { SessionRecovery } from '../../src/recovery';
import { isCommandCapable } from '../../src/service';
import {
  ConversationContext,
  LIMITS,
  MAX_MESSAGES_PER_SESSION,
  Message,
  toWireContext,
} from '../../src/types';
import { type ContractHarness, makeContext, nowSec, numbered, uniqueIds } from './contract';

export function describeRecoveryContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`SessionRecovery contract: ${name}`, () => {
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

    /** A back-dated session, so "unchanged" also means "updatedAt did not move". */
    async function seeded(fields: Partial<ConversationContext> = {}): Promise<ConversationContext> {
      const old = nowSec() - 3600;
      const ctx = makeContext(ids.sessionId(), ids.userId(), {
        agentType: 'memo',
        messages: [
          { role: 'user', content: '帮我查找上周的笔记' },
          { role: 'assistant', content: '我找到了5条上周的笔记。' },
        ],
        metadata: { topic: '笔记搜索', count: 5 },
        createdAt: old - 60,
        updatedAt: old,
        ...fields,
      });
      await harness.seed(ctx);
      return ctx;
    }

    describe('recoverSession', () => {
      it('creates and saves a new empty session', async () => {
        const id = ids.sessionId();
        const userId = ids.userId();
        const before = nowSec();
        const ctx = await recovery.recoverSession(id, userId);
        expect(ctx).toMatchObject({ sessionId: id, userId, agentType: '', messages: [], metadata: {} });
        expect(ctx.createdAt).toBeGreaterThanOrEqual(before - 1);
        expect(ctx.updatedAt).toBeLessThanOrEqual(nowSec() + 1);
        const stored = await load(id);
        expect(stored).toMatchObject({ sessionId: id, userId, messages: [], metadata: {} });
        // Saved, so the next change works (the reference's recover did not save).
        await recovery.appendMessage(id, { role: 'user', content: 'first' });
        expect((await load(id))!.messages).toEqual([{ role: 'user', content: 'first' }]);
      });

      it('sets the agent type of a new session when given', async () => {
        const id = ids.sessionId();
        const ctx = await recovery.recoverSession(id, ids.userId(), 'schedule');
        expect(ctx.agentType).toBe('schedule');
        expect((await load(id))!.agentType).toBe('schedule');
      });

      it('returns an existing session as it is, without changing it', async () => {
        const existing = await seeded();
        const ctx = await recovery.recoverSession(existing.sessionId, existing.userId, 'amazing');
        expect(toWireContext(ctx)).toEqual(toWireContext(existing));
        expect(toWireContext((await load(existing.sessionId))!)).toEqual(toWireContext(existing));
      });

      it("refuses another user's session", async () => {
        const existing = await seeded();
        await expect(recovery.recoverSession(existing.sessionId, existing.userId + 1)).rejects.toBeInstanceOf(
          SessionConflictError,
        );
        expect(toWireContext((await load(existing.sessionId))!)).toEqual(toWireContext(existing));
      });
    });

    describe('appendMessage / appendTurn', () => {
      it('keeps the last 20 messages in order', async () => {
        const id = ids.sessionId();
        await recovery.recoverSession(id, ids.userId());
        const all = numbered(25);
        for (const message of all) await recovery.appendMessage(id, message);
        const stored = await load(id);
        expect(stored!.messages).toEqual(all.slice(-MAX_MESSAGES_PER_SESSION));
        expect(stored!.messages[0].content).toBe('m6');
      });

      it('returns the context after the change', async () => {
        const existing = await seeded({ messages: [] });
        const before = nowSec();
        const result = await recovery.appendMessage(existing.sessionId, {
          role: 'system',
          content: 'be brief',
        });
        expect(result.context.messages).toEqual([{ role: 'system', content: 'be brief' }]);
        expect(result.context.updatedAt).toBeGreaterThanOrEqual(before - 1);
        expect(result.context.agentType).toBe('memo');
        expect(toWireContext((await load(existing.sessionId))!)).toEqual(toWireContext(result.context));
      });

      it('appends a turn and sets the agent type only when non-empty', async () => {
        const existing = await seeded({ messages: [], agentType: 'memo' });
        const id = existing.sessionId;
        await recovery.appendTurn(id, '明天下午3点提醒我开会', '好的，已设置提醒。', 'schedule');
        expect((await load(id))!.agentType).toBe('schedule');
        await recovery.appendTurn(id, 'and?', 'done');
        await recovery.appendTurn(id, 'again?', 'yes', '');
        const stored = await load(id);
        expect(stored!.agentType).toBe('schedule');
        expect(stored!.messages).toEqual<Message[]>([
          { role: 'user', content: '明天下午3点提醒我开会' },
          { role: 'assistant', content: '好的，已设置提醒。' },
          { role: 'user', content: 'and?' },
          { role: 'assistant', content: 'done' },
          { role: 'user', content: 'again?' },
          { role: 'assistant', content: 'yes' },
        ]);
      });

      it('lets the window start with an assistant message after an odd number of appends', async () => {
        const existing = await seeded({ messages: numbered(20, 't') });
        const id = existing.sessionId;
        await recovery.appendMessage(id, { role: 'user', content: 'odd' });
        let stored = await load(id);
        expect(stored!.messages[0]).toEqual({ role: 'assistant', content: 't2' });
        await recovery.appendTurn(id, 'u', 'a');
        stored = await load(id);
        expect(stored!.messages).toHaveLength(MAX_MESSAGES_PER_SESSION);
        expect(stored!.messages[0]).toEqual({ role: 'assistant', content: 't4' });
        expect(stored!.messages.slice(-3).map((m) => m.content)).toEqual(['odd', 'u', 'a']);
      });
    });

    describe('clearMessages', () => {
      it('empties the messages and keeps metadata and agent type', async () => {
        const existing = await seeded({ agentType: 'amazing' });
        const result = await recovery.clearMessages(existing.sessionId);
        const stored = await load(existing.sessionId);
        expect(stored!.messages).toEqual([]);
        expect(stored!.metadata).toEqual({ topic: '笔记搜索', count: 5 });
        expect(stored!.agentType).toBe('amazing');
        expect(stored!.createdAt).toBe(existing.createdAt);
        expect(stored!.updatedAt).toBeGreaterThan(existing.updatedAt);
        expect(result.context.messages).toEqual([]);
      });
    });

    describe('getRecentMessages', () => {
      it('gives all for n <= 0 or n >= length, the last n otherwise', async () => {
        const messages = numbered(5);
        const existing = await seeded({ messages });
        const id = existing.sessionId;
        expect(await recovery.getRecentMessages(id, 0)).toEqual(messages);
        expect(await recovery.getRecentMessages(id, -3)).toEqual(messages);
        expect(await recovery.getRecentMessages(id, 5)).toEqual(messages);
        expect(await recovery.getRecentMessages(id, 50)).toEqual(messages);
        expect(await recovery.getRecentMessages(id, 2)).toEqual(messages.slice(-2));
        expect(await recovery.getRecentMessages(id, 1)).toEqual([messages[4]]);
      });

      it('returns a fresh array the caller may change', async () => {
        const existing = await seeded({ messages: numbered(3) });
        const recent = await recovery.getRecentMessages(existing.sessionId, 0);
        recent!.push({ role: 'user', content: 'mine' });
        recent![0].content = 'changed';
        expect((await load(existing.sessionId))!.messages).toEqual(numbered(3));
      });

      it('returns null for a missing session and [] for an empty one', async () => {
        expect(await recovery.getRecentMessages(ids.sessionId('missing'), 5)).toBeNull();
        const existing = await seeded({ messages: [] });
        expect(await recovery.getRecentMessages(existing.sessionId, 5)).toEqual([]);
      });
    });

    describe('updateMetadata', () => {
      it('sets one key, keeps the others, numbers stay numbers', async () => {
        const existing = await seeded();
        await recovery.updateMetadata(existing.sessionId, 'count', 6);
        await recovery.updateMetadata(existing.sessionId, 'tags', ['a', 'b']);
        const stored = await load(existing.sessionId);
        expect(stored!.metadata).toEqual({ topic: '笔记搜索', count: 6, tags: ['a', 'b'] });
        expect(typeof stored!.metadata.count).toBe('number');
      });
    });

    describe('changes to a missing session', () => {
      it('are SessionNotFoundError and create nothing', async () => {
        const id = ids.sessionId('missing');
        const writes: Array<() => Promise<unknown>> = [
          () => recovery.appendMessage(id, { role: 'user', content: 'hi' }),
          () => recovery.appendTurn(id, 'hi', 'hello', 'memo'),
          () => recovery.clearMessages(id),
          () => recovery.updateMetadata(id, 'topic', 'x'),
        ];
        for (const write of writes) await expect(write()).rejects.toBeInstanceOf(SessionNotFoundError);
        expect(await load(id)).toBeNull();
      });
    });

    describe('bad input', () => {
      it('is a ValidationError and changes nothing', async () => {
        const existing = await seeded();
        const id = existing.sessionId;
        const writes: Array<() => Promise<unknown>> = [
          () => recovery.appendMessage(id, { role: 'robot' as Message['role'], content: 'hi' }),
          () => recovery.appendMessage(id, { role: 'user', content: '' }),
          () =>
            recovery.appendMessage(id, {
              role: 'user',
              content: 'x'.repeat(LIMITS.messageContentMaxBytes + 1),
            }),
          () => recovery.appendTurn(id, '', 'reply'),
          () => recovery.appendTurn(id, 'question', ''),
          () => recovery.appendTurn(id, 'question', 'reply', 'bad agent type!'),
          () => recovery.updateMetadata(id, '', 1),
          () => recovery.updateMetadata(id, 'undefined', undefined),
          () => recovery.appendMessage(id, { role: 'user', content: 'hi' }, { turnId: '' }),
          () => recovery.appendMessage('bad id!', { role: 'user', content: 'hi' }),
          () => recovery.clearMessages('bad id!'),
          () => recovery.recoverSession(ids.sessionId('new'), 2 ** 31),
          () => recovery.recoverSession(ids.sessionId('new'), 1.5),
          () => recovery.getRecentMessages('bad id!', 1),
        ];
        for (const write of writes) await expect(write()).rejects.toBeInstanceOf(ValidationError);
        expect(toWireContext((await load(id))!)).toEqual(toWireContext(existing));
      });
    });

    describe('turn ids', () => {
      it('apply a command given twice with the same turn id once (command-capable services)', async () => {
        if (!isCommandCapable(harness.service)) return;
        const existing = await seeded({ messages: [] });
        const id = existing.sessionId;
        const turnId = `turn-${ids.sessionId()}`;
        const first = await recovery.appendTurn(id, 'q', 'a', 'schedule', { turnId });
        const second = await recovery.appendTurn(id, 'q', 'a', 'schedule', { turnId });
        expect(second.version).toBe(first.version);
        expect(second.context.messages).toEqual(first.context.messages);
        const other = await recovery.appendMessage(
          id,
          { role: 'user', content: 'next' },
          { turnId: `${turnId}-2` },
        );
        expect(other.version).toBeGreaterThan(first.version);
        expect((await load(id))!.messages).toEqual<Message[]>([
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'a' },
          { role: 'user', content: 'next' },
        ]);
      });
    });
  });
}
