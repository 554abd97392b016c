// Runs the SessionService and SessionRecovery contract suites against InMemorySessionService,
// plus what only the in-memory service has: sample data, clear(), setSessionDirectly, a fixed clock.
import { SessionConflictError, ValidationError } from '../src/errors';
import { InMemorySessionService, decodeListCursor, encodeListCursor } from '../src/memory/in-memory-service';
import { SessionRecovery } from '../src/recovery';
import { type SessionService, isCommandCapable } from '../src/service';
import { LIMITS } from '../src/types';
import { describeAgentSessionContract } from './support/agent-contract';
import { type ContractHarness, describeSessionServiceContract, makeContext } from './support/contract';
import { describeRecoveryContract } from './support/recovery-contract';

function memoryHarness(): Promise<ContractHarness> {
  const service = new InMemorySessionService({ sampleData: false });
  return Promise.resolve({
    service,
    seed: async (ctx) => service.setSessionDirectly(ctx.sessionId, ctx),
    close: async () => undefined,
  });
}

/** The same store without `execute`, so SessionRecovery takes the reference's load → change → save path. */
async function plainHarness(): Promise<ContractHarness> {
  const inner = await memoryHarness();
  const s = inner.service;
  const service: SessionService = {
    saveContext: (id, ctx) => s.saveContext(id, ctx),
    loadContext: (id) => s.loadContext(id),
    listSessions: (userId, limit, options) => s.listSessions(userId, limit, options),
    listSessionsPage: (userId, limit, options) => s.listSessionsPage(userId, limit, options),
    deleteSession: (id) => s.deleteSession(id),
    cleanupExpired: (days) => s.cleanupExpired(days),
  };
  return { ...inner, service };
}

describeSessionServiceContract('InMemorySessionService', memoryHarness);
describeRecoveryContract('InMemorySessionService (commands)', memoryHarness);
describeRecoveryContract('InMemorySessionService (read-modify-write)', plainHarness);
describeAgentSessionContract('InMemorySessionService', memoryHarness, { transcript: true, watch: true });

describe('InMemorySessionService', () => {
  const T = 1_700_000_000;
  let nowMs = T * 1000;
  const clock = () => nowMs;
  beforeEach(() => {
    nowMs = T * 1000;
  });

  describe('sample data', () => {
    it("seeds the reference's four sessions by default, relative to now", async () => {
      const service = new InMemorySessionService({ now: clock });
      const s1 = await service.loadContext('session-001');
      expect(s1).toEqual({
        sessionId: 'session-001',
        userId: 1,
        agentType: 'memo',
        messages: [
          { role: 'user', content: '帮我查找上周的笔记' },
          { role: 'assistant', content: '我找到了5条上周的笔记。' },
        ],
        metadata: { topic: '笔记搜索' },
        createdAt: T - 3600,
        updatedAt: T - 1800,
      });
      expect(await service.listSessions(1, 10)).toEqual([
        {
          sessionId: 'session-001',
          agentType: 'memo',
          lastMessage: '我找到了5条上周的笔记。',
          updatedAt: T - 1800,
        },
        {
          sessionId: 'session-002',
          agentType: 'schedule',
          lastMessage: '好的，已设置提醒。',
          updatedAt: T - 3600,
        },
        {
          sessionId: 'session-003',
          agentType: 'amazing',
          lastMessage: '今天天气晴朗，气温25度。',
          updatedAt: T - 7200,
        },
      ]);
      expect(await service.listSessions(2, 10)).toEqual([
        { sessionId: 'session-004', agentType: 'memo', lastMessage: '记录一下项目进度', updatedAt: T - 900 },
      ]);
      const s4 = await service.loadContext('session-004');
      expect(s4).toMatchObject({ metadata: {}, createdAt: T - 1800, messages: [{ role: 'user' }] });
      const s2 = await service.loadContext('session-002');
      expect(s2).toMatchObject({ metadata: { topic: '日程创建' }, createdAt: T - 7200 });
      const s3 = await service.loadContext('session-003');
      expect(s3).toMatchObject({ metadata: { topic: '天气查询' }, createdAt: T - 10800 });
      expect(s3!.messages[0].content).toBe('今天天气怎么样？');
    });

    it('has no data with sampleData: false', async () => {
      const service = new InMemorySessionService({ sampleData: false });
      expect(await service.loadContext('session-001')).toBeNull();
      expect(await service.listSessions(1, 10)).toEqual([]);
    });
  });

  it('clear() removes everything', async () => {
    const service = new InMemorySessionService();
    service.clear();
    expect(await service.listSessions(1, 10)).toEqual([]);
    expect(await service.loadContext('session-004')).toBeNull();
  });

  describe('setSessionDirectly', () => {
    it('stores as given, forcing only the session id, and keeps a copy', async () => {
      const service = new InMemorySessionService({ sampleData: false, now: clock });
      const ctx = makeContext('whatever', 7, {
        messages: [{ role: 'user', content: 'x' }],
        metadata: { n: 1 },
        createdAt: 5,
        updatedAt: 10,
      });
      service.setSessionDirectly('direct', ctx);
      expect(ctx.sessionId).toBe('direct');
      ctx.messages.push({ role: 'user', content: 'later' });
      ctx.metadata.n = 2;
      expect(await service.loadContext('direct')).toEqual({
        sessionId: 'direct',
        userId: 7,
        agentType: 'memo',
        messages: [{ role: 'user', content: 'x' }],
        metadata: { n: 1 },
        createdAt: 5,
        updatedAt: 10,
      });
    });
  });

  describe('with a fixed clock', () => {
    it('cleanupExpired keeps updatedAt == cutoff and deletes cutoff - 1; 0 days deletes everything older than now', async () => {
      const service = new InMemorySessionService({ sampleData: false, now: clock });
      const cutoff = T - 30 * 86400;
      service.setSessionDirectly('at', makeContext('at', 1, { updatedAt: cutoff }));
      service.setSessionDirectly('before', makeContext('before', 1, { updatedAt: cutoff - 1 }));
      service.setSessionDirectly('now', makeContext('now', 1, { updatedAt: T }));
      expect(await service.cleanupExpired(30)).toBe(1);
      expect(await service.loadContext('before')).toBeNull();
      expect(await service.loadContext('at')).not.toBeNull();
      expect(await service.cleanupExpired(0)).toBe(1);
      expect(await service.loadContext('now')).not.toBeNull();
      nowMs += 1000;
      expect(await service.cleanupExpired(0)).toBe(1);
      expect(await service.cleanupExpired(0)).toBe(0);
    });

    it('the sample data expires with the clock', async () => {
      const service = new InMemorySessionService({ now: clock });
      nowMs += 30 * 86400 * 1000;
      // Updated 1800, 3600, 7200 and 900 seconds before T: all strictly before the cutoff T now.
      expect(await service.cleanupExpired(30)).toBe(4);
    });

    it('stamps saves with the clock', async () => {
      const service = new InMemorySessionService({ sampleData: false, now: clock });
      const ctx = makeContext('s', 1);
      await service.saveContext('s', ctx);
      expect(ctx).toMatchObject({ createdAt: T, updatedAt: T });
      nowMs += 5000;
      const again = makeContext('s', 1, { createdAt: 0 });
      await service.saveContext('s', again);
      expect(again).toMatchObject({ createdAt: T, updatedAt: T + 5 });
    });
  });

  describe('listSessions limits', () => {
    it('caps the limit at 200 and rejects a non-integer limit', async () => {
      const service = new InMemorySessionService({ sampleData: false });
      for (let i = 0; i < 205; i++)
        service.setSessionDirectly(`s${i}`, makeContext(`s${i}`, 9, { updatedAt: 1000 + i }));
      expect(await service.listSessions(9, 1000)).toHaveLength(LIMITS.listMaxLimit);
      await expect(service.listSessions(9, 1.5)).rejects.toBeInstanceOf(ValidationError);
      await expect(service.listSessions(2 ** 31, 10)).rejects.toBeInstanceOf(ValidationError);
    });

    it('encodes the cursor as base64url JSON [updatedAt, sessionId]', () => {
      const cursor = encodeListCursor({ updatedAt: 12, sessionId: 'a:b' });
      expect(JSON.parse(Buffer.from(cursor, 'base64url').toString())).toEqual([12, 'a:b']);
      expect(decodeListCursor(cursor)).toEqual({ updatedAt: 12, sessionId: 'a:b' });
      expect(() => decodeListCursor(Buffer.from('[1.5,"x"]').toString('base64url'))).toThrow(ValidationError);
      expect(() => decodeListCursor('')).toThrow(ValidationError);
    });
  });

  describe('execute', () => {
    it('bumps the version per applied command and not for a recover of an existing session', async () => {
      const service = new InMemorySessionService({ sampleData: false });
      const a = await service.execute('v', { type: 'recover', userId: 3 });
      const b = await service.execute('v', {
        type: 'appendMessage',
        message: { role: 'user', content: 'hi' },
      });
      const c = await service.execute('v', { type: 'recover', userId: 3 });
      expect([a.version, b.version, c.version]).toEqual([1, 2, 2]);
      await expect(service.execute('v', { type: 'recover', userId: 4 })).rejects.toBeInstanceOf(
        SessionConflictError,
      );
    });

    it('remembers a bounded number of turn ids per session', async () => {
      const service = new InMemorySessionService({ sampleData: false, rememberTurnIds: 2 });
      await service.execute('t', { type: 'recover', userId: 3 });
      const msg = { type: 'appendMessage', message: { role: 'user', content: 'hi' } } as const;
      await service.execute('t', msg, { turnId: 'a' });
      await service.execute('t', msg, { turnId: 'b' });
      await service.execute('t', msg, { turnId: 'a' });
      expect((await service.loadContext('t'))!.messages).toHaveLength(2);
      await service.execute('t', msg, { turnId: 'c' }); // forgets 'a'
      await service.execute('t', msg, { turnId: 'a' });
      expect((await service.loadContext('t'))!.messages).toHaveLength(4);
    });

    it('commit answers with the version only, and applies a turn id once', async () => {
      const service = new InMemorySessionService({ sampleData: false });
      await service.execute('k', { type: 'recover', userId: 3 });
      const msg = { type: 'appendMessage', message: { role: 'user', content: 'hi' } } as const;
      expect(await service.commit('k', msg, { turnId: 'a' })).toEqual({ version: 2 });
      expect(await service.commit('k', msg, { turnId: 'a' })).toEqual({ version: 2 });
      expect((await service.loadContext('k'))!.messages).toHaveLength(1);
      await expect(service.commit('k', msg, { expectedUserId: 4 })).rejects.toBeInstanceOf(
        SessionConflictError,
      );
    });

    it('returns copies', async () => {
      const service = new InMemorySessionService({ sampleData: false });
      const result = await service.execute('c', { type: 'recover', userId: 3 });
      result.context.messages.push({ role: 'user', content: 'sneaky' });
      expect((await service.loadContext('c'))!.messages).toEqual([]);
    });
  });

  it('is command-capable and SessionRecovery uses execute', async () => {
    const service = new InMemorySessionService({ sampleData: false });
    expect(isCommandCapable(service)).toBe(true);
    const spy = jest.spyOn(service, 'execute');
    const load = jest.spyOn(service, 'loadContext');
    const recovery = new SessionRecovery(service);
    await recovery.recoverSession('r', 1);
    await recovery.appendTurn('r', 'q', 'a');
    expect(spy).toHaveBeenCalledTimes(2);
    expect(load).not.toHaveBeenCalled();
  });
});
