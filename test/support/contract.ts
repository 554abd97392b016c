// The SessionService contract suite: one set of tests every implementation must pass.
// Used by test/contract-*.test.ts (in-memory, Postgres, Temporal); ids are unique per test, the store may be shared.
import { SessionConflictError, ValidationError } from '../../src/errors';
import type { SessionService } from '../../src/service';
import { nowSeconds } from '../../src/session-rules';
import {
  ConversationContext,
  LIMITS,
  MAX_MESSAGES_PER_SESSION,
  Message,
  SessionSummary,
  toWireContext,
} from '../../src/types';

export interface ContractHarness {
  service: SessionService;
  /** Stores `ctx` exactly as given, timestamps untouched (for back-dating). */
  seed(ctx: ConversationContext): Promise<void>;
  close(): Promise<void>;
}

/** Unique names per test, so suites can share one store with other tests and earlier runs. */
export function uniqueIds(): { sessionId(suffix?: string): string; userId(): number } {
  const run = Math.random().toString(36).slice(2, 10);
  let n = 0;
  return {
    sessionId: (suffix = '') => `ct-${run}-${++n}${suffix ? `-${suffix}` : ''}`,
    // Far from the sample data's users 1 and 2 and below 2^31.
    userId: () => 1_000_000 + Math.floor(Math.random() * 2_000_000_000),
  };
}

export function makeContext(sessionId: string, userId: number, fields: Partial<ConversationContext> = {}) {
  const ctx: ConversationContext = {
    sessionId,
    userId,
    agentType: 'memo',
    messages: [],
    metadata: {},
    createdAt: 0,
    updatedAt: 0,
    ...fields,
  };
  return ctx;
}

export function numbered(count: number, prefix = 'm'): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `${prefix}${i + 1}`,
  }));
}

export function nowSec(): number {
  return nowSeconds(Date.now());
}

/** Polls until `check` passes: reads from a snapshot store may lag an acknowledged write (bounded). */
export async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Timestamps a service sets are "now" within a second either side (Postgres may round, clocks tick). */
function expectNow(actual: number, before: number, after: number): void {
  expect(Number.isInteger(actual)).toBe(true);
  expect(actual).toBeGreaterThanOrEqual(before - 1);
  expect(actual).toBeLessThanOrEqual(after + 1);
}

export function describeSessionServiceContract(
  name: string,
  makeHarness: () => Promise<ContractHarness>,
): void {
  describe(`SessionService contract: ${name}`, () => {
    let harness: ContractHarness;
    let service: SessionService;
    let ids: ReturnType<typeof uniqueIds>;

    beforeAll(async () => {
      harness = await makeHarness();
      service = harness.service;
    });
    afterAll(async () => {
      await harness?.close();
    });
    beforeEach(() => {
      ids = uniqueIds();
    });

    /** Seeds `count` sessions of one user with distinct, increasing updatedAt (oldest first). */
    async function seedMany(
      userId: number,
      count: number,
      base: number,
      agentTypeOf = (_i: number) => 'memo',
    ) {
      const seeded: ConversationContext[] = [];
      for (let i = 0; i < count; i++) {
        const ctx = makeContext(ids.sessionId(String(i)), userId, {
          agentType: agentTypeOf(i),
          messages: [{ role: 'user', content: `last ${i}` }],
          createdAt: base - 1000,
          // Pairs share an updatedAt so the tie-break by session id is exercised too.
          updatedAt: base + Math.floor(i / 2),
        });
        await harness.seed(ctx);
        seeded.push(ctx);
      }
      return seeded;
    }

    function expectedOrder(seeded: ConversationContext[]): string[] {
      return [...seeded]
        .sort((a, b) =>
          a.updatedAt !== b.updatedAt ? b.updatedAt - a.updatedAt : a.sessionId < b.sessionId ? 1 : -1,
        )
        .map((c) => c.sessionId);
    }

    describe('saveContext / loadContext', () => {
      it('round-trips every wire field, numbers and unicode intact', async () => {
        const id = ids.sessionId();
        const ctx = makeContext(id, ids.userId(), {
          agentType: 'schedule',
          messages: [
            { role: 'system', content: 'You are helpful.' },
            { role: 'user', content: '明天下午3点提醒我开会 🙂' },
            { role: 'assistant', content: 'Ça marche — "quoted" \\ back\nslash' },
          ],
          metadata: {
            count: 42,
            ratio: 0.5,
            negative: -7,
            topic: '日程创建',
            flag: true,
            none: null,
            nested: { list: [1, 'two', false] },
          },
        });
        await service.saveContext(id, ctx);
        const loaded = await service.loadContext(id);
        expect(loaded).not.toBeNull();
        expect(toWireContext(loaded!)).toEqual(toWireContext(ctx));
        expect(typeof loaded!.metadata.count).toBe('number');
        expect(loaded!.metadata.count).toBe(42);
      });

      it('returns null for a missing session', async () => {
        expect(await service.loadContext(ids.sessionId('missing'))).toBeNull();
      });

      it('returns copies: changing a loaded context or the saved object does not change the store', async () => {
        const id = ids.sessionId();
        const ctx = makeContext(id, ids.userId(), {
          messages: [{ role: 'user', content: 'hello' }],
          metadata: { topic: 'a', nested: { n: 1 } },
        });
        await service.saveContext(id, ctx);
        ctx.messages.push({ role: 'assistant', content: 'changed after save' });
        ctx.metadata.topic = 'changed after save';

        const first = await service.loadContext(id);
        first!.messages.push({ role: 'assistant', content: 'changed after load' });
        first!.messages[0].content = 'changed after load';
        first!.metadata.topic = 'changed after load';
        (first!.metadata.nested as { n: number }).n = 2;

        const second = await service.loadContext(id);
        expect(second!.messages).toEqual([{ role: 'user', content: 'hello' }]);
        expect(second!.metadata).toEqual({ topic: 'a', nested: { n: 1 } });
      });

      it('sets createdAt when 0 and updatedAt always, and forces ctx.sessionId on the caller', async () => {
        const id = ids.sessionId();
        const ctx = makeContext('some-other-id', ids.userId(), { createdAt: 0, updatedAt: 5 });
        const before = nowSec();
        await service.saveContext(id, ctx);
        const after = nowSec();
        expect(ctx.sessionId).toBe(id);
        expectNow(ctx.createdAt, before, after);
        expectNow(ctx.updatedAt, before, after);
        const loaded = await service.loadContext(id);
        expect(loaded!.sessionId).toBe(id);
        expect(loaded!.createdAt).toBe(ctx.createdAt);
        expect(loaded!.updatedAt).toBe(ctx.updatedAt);
        expect(await service.loadContext('some-other-id')).toBeNull();
      });

      it('keeps a non-zero createdAt given on the first save', async () => {
        const id = ids.sessionId();
        const ctx = makeContext(id, ids.userId(), { createdAt: 1_600_000_000 });
        const before = nowSec();
        await service.saveContext(id, ctx);
        const loaded = await service.loadContext(id);
        expect(loaded!.createdAt).toBe(1_600_000_000);
        expect(ctx.createdAt).toBe(1_600_000_000);
        expectNow(loaded!.updatedAt, before, nowSec());
      });

      it('keeps createdAt and the owner on a re-save, replaces the rest and refreshes updatedAt', async () => {
        const id = ids.sessionId();
        const userId = ids.userId();
        const old = nowSec() - 5000;
        await harness.seed(
          makeContext(id, userId, {
            messages: [{ role: 'user', content: 'old' }],
            metadata: { v: 1 },
            createdAt: old - 100,
            updatedAt: old,
          }),
        );
        const before = nowSec();
        await service.saveContext(
          id,
          makeContext(id, userId, {
            agentType: 'amazing',
            messages: [{ role: 'user', content: 'new' }],
            metadata: { v: 2 },
            createdAt: 0,
          }),
        );
        const loaded = await service.loadContext(id);
        expect(loaded!.createdAt).toBe(old - 100);
        expectNow(loaded!.updatedAt, before, nowSec());
        expect(loaded!.userId).toBe(userId);
        expect(loaded!.agentType).toBe('amazing');
        expect(loaded!.messages).toEqual([{ role: 'user', content: 'new' }]);
        expect(loaded!.metadata).toEqual({ v: 2 });

        // A different non-zero createdAt does not move the creation time either (the upsert keeps it).
        await service.saveContext(id, makeContext(id, userId, { createdAt: 1_500_000_000 }));
        expect((await service.loadContext(id))!.createdAt).toBe(old - 100);
      });

      it('keeps only the last window of messages', async () => {
        const id = ids.sessionId();
        await service.saveContext(id, makeContext(id, ids.userId(), { messages: numbered(25) }));
        const loaded = await service.loadContext(id);
        expect(loaded!.messages).toEqual(numbered(25).slice(-MAX_MESSAGES_PER_SESSION));
      });

      it("refuses to save over another user's session", async () => {
        const id = ids.sessionId();
        const owner = ids.userId();
        await service.saveContext(
          id,
          makeContext(id, owner, { messages: [{ role: 'user', content: 'mine' }] }),
        );
        await expect(
          service.saveContext(
            id,
            makeContext(id, owner + 1, { messages: [{ role: 'user', content: 'theirs' }] }),
          ),
        ).rejects.toBeInstanceOf(SessionConflictError);
        const loaded = await service.loadContext(id);
        expect(loaded!.userId).toBe(owner);
        expect(loaded!.messages).toEqual([{ role: 'user', content: 'mine' }]);
      });

      describe('rejects bad input with a ValidationError and stores nothing', () => {
        const bad: Array<[string, (ctx: ConversationContext) => void]> = [
          ['user id 2^31', (c) => (c.userId = 2 ** 31)],
          ['non-integer user id', (c) => (c.userId = 1.5)],
          ['unknown role', (c) => (c.messages = [{ role: 'robot' as Message['role'], content: 'hi' }])],
          ['empty content', (c) => (c.messages = [{ role: 'user', content: '' }])],
          [
            'content over 32 KiB',
            (c) => (c.messages = [{ role: 'user', content: 'a'.repeat(LIMITS.messageContentMaxBytes + 1) }]),
          ],
          [
            'content over 32 KiB in UTF-8 but not in characters',
            (c) =>
              (c.messages = [
                { role: 'user', content: '中'.repeat(Math.ceil((LIMITS.messageContentMaxBytes + 1) / 3)) },
              ]),
          ],
          ['array metadata', (c) => (c.metadata = [1, 2] as unknown as ConversationContext['metadata'])],
          ['string metadata', (c) => (c.metadata = 'topic' as unknown as ConversationContext['metadata'])],
        ];
        it.each(bad)('%s', async (_label, spoil) => {
          const id = ids.sessionId();
          const ctx = makeContext(id, ids.userId(), { messages: [{ role: 'user', content: 'ok' }] });
          spoil(ctx);
          await expect(service.saveContext(id, ctx)).rejects.toBeInstanceOf(ValidationError);
          expect(await service.loadContext(id)).toBeNull();
        });

        it('bad session id', async () => {
          const ctx = makeContext('x', ids.userId());
          for (const id of ['', 'has space', 'slash/id', 'star*', 'x'.repeat(LIMITS.sessionIdMaxLength + 1)])
            await expect(service.saveContext(id, ctx)).rejects.toBeInstanceOf(ValidationError);
        });

        it('accepts content of exactly 32 KiB', async () => {
          const id = ids.sessionId();
          const content = 'a'.repeat(LIMITS.messageContentMaxBytes);
          await service.saveContext(
            id,
            makeContext(id, ids.userId(), { messages: [{ role: 'user', content }] }),
          );
          expect((await service.loadContext(id))!.messages[0].content).toBe(content);
        });
      });
    });

    describe('listSessions', () => {
      it("lists only that user's sessions, newest first, ties by session id descending", async () => {
        const userId = ids.userId();
        const seeded = await seedMany(userId, 5, nowSec() - 3000);
        await harness.seed(makeContext(ids.sessionId('other-user'), userId + 1, { updatedAt: nowSec() }));
        const listed = await service.listSessions(userId, 10);
        expect(listed.map((s) => s.sessionId)).toEqual(expectedOrder(seeded));
      });

      it('returns summaries: agent type, updatedAt and the last message whatever its role', async () => {
        const userId = ids.userId();
        const base = nowSec() - 2000;
        const a = makeContext(ids.sessionId('a'), userId, {
          agentType: 'schedule',
          messages: [
            { role: 'user', content: 'q' },
            { role: 'assistant', content: '好的，已设置提醒。' },
          ],
          updatedAt: base + 3,
        });
        const b = makeContext(ids.sessionId('b'), userId, {
          messages: [{ role: 'system', content: 'system last' }],
          updatedAt: base + 2,
        });
        const c = makeContext(ids.sessionId('c'), userId, {
          agentType: 'amazing',
          messages: [],
          updatedAt: base + 1,
        });
        for (const ctx of [a, b, c]) await harness.seed(ctx);
        const listed = await service.listSessions(userId, 10);
        expect(listed).toEqual<SessionSummary[]>([
          {
            sessionId: a.sessionId,
            agentType: 'schedule',
            lastMessage: '好的，已设置提醒。',
            updatedAt: base + 3,
          },
          { sessionId: b.sessionId, agentType: 'memo', lastMessage: 'system last', updatedAt: base + 2 },
          { sessionId: c.sessionId, agentType: 'amazing', lastMessage: '', updatedAt: base + 1 },
        ]);
      });

      it('returns an empty list for a user with no sessions', async () => {
        expect(await service.listSessions(ids.userId(), 10)).toEqual([]);
      });

      it('applies the limit; limit <= 0 means the default of 20', async () => {
        const userId = ids.userId();
        const seeded = await seedMany(userId, 23, nowSec() - 4000);
        const order = expectedOrder(seeded);
        expect((await service.listSessions(userId, 3)).map((s) => s.sessionId)).toEqual(order.slice(0, 3));
        expect((await service.listSessions(userId, 0)).map((s) => s.sessionId)).toEqual(
          order.slice(0, LIMITS.listDefaultLimit),
        );
        expect(await service.listSessions(userId, -5)).toHaveLength(LIMITS.listDefaultLimit);
        expect(await service.listSessions(userId, 100)).toHaveLength(23);
      });

      it('filters by agent type', async () => {
        const userId = ids.userId();
        const seeded = await seedMany(userId, 6, nowSec() - 5000, (i) => (i % 3 === 0 ? 'schedule' : 'memo'));
        const listed = await service.listSessions(userId, 10, { agentType: 'schedule' });
        expect(listed.map((s) => s.sessionId)).toEqual(
          expectedOrder(seeded.filter((c) => c.agentType === 'schedule')),
        );
        expect(listed.every((s) => s.agentType === 'schedule')).toBe(true);
      });

      it('pages with the cursor: every row exactly once, in order, no cursor on the last page', async () => {
        const userId = ids.userId();
        const seeded = await seedMany(userId, 17, nowSec() - 6000, (i) =>
          i % 2 === 0 ? 'memo' : 'schedule',
        );
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await service.listSessionsPage(userId, 5, cursor ? { cursor } : {});
          pages.push(page.sessions.map((s) => s.sessionId));
          cursor = page.nextCursor;
        } while (cursor && pages.length < 10);
        expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 2]);
        expect(pages.flat()).toEqual(expectedOrder(seeded));

        // The cursor composes with the agent type filter.
        const memo: string[] = [];
        cursor = undefined;
        do {
          const page = await service.listSessionsPage(userId, 4, {
            agentType: 'memo',
            ...(cursor ? { cursor } : {}),
          });
          memo.push(...page.sessions.map((s) => s.sessionId));
          cursor = page.nextCursor;
        } while (cursor && memo.length < 100);
        expect(memo).toEqual(expectedOrder(seeded.filter((c) => c.agentType === 'memo')));
      });

      it('gives no cursor when everything fits, and listSessions accepts a cursor too', async () => {
        const userId = ids.userId();
        const seeded = await seedMany(userId, 4, nowSec() - 7000);
        const all = await service.listSessionsPage(userId, 4);
        expect(all.nextCursor).toBeUndefined();
        const first = await service.listSessionsPage(userId, 1);
        expect(first.nextCursor).toEqual(expect.any(String));
        const rest = await service.listSessions(userId, 10, { cursor: first.nextCursor });
        expect(rest.map((s) => s.sessionId)).toEqual(expectedOrder(seeded).slice(1));
      });

      it('rejects a cursor it did not make', async () => {
        const userId = ids.userId();
        for (const cursor of ['not a cursor', 'bm90LWpzb24', Buffer.from('{"a":1}').toString('base64url')]) {
          const error = await service.listSessionsPage(userId, 5, { cursor }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).field).toBe('cursor');
        }
      });

      it('shows a saved session (within the snapshot lag)', async () => {
        const userId = ids.userId();
        const id = ids.sessionId();
        const ctx = makeContext(id, userId, { messages: [{ role: 'user', content: 'listed' }] });
        await service.saveContext(id, ctx);
        await eventually(async () => {
          expect(await service.listSessions(userId, 10)).toEqual([
            { sessionId: id, agentType: 'memo', lastMessage: 'listed', updatedAt: ctx.updatedAt },
          ]);
        });
      });
    });

    describe('deleteSession', () => {
      it('removes the session and is idempotent', async () => {
        const userId = ids.userId();
        const id = ids.sessionId();
        await service.saveContext(
          id,
          makeContext(id, userId, { messages: [{ role: 'user', content: 'bye' }] }),
        );
        await service.deleteSession(id);
        expect(await service.loadContext(id)).toBeNull();
        await service.deleteSession(id);
        expect(await service.loadContext(id)).toBeNull();
        await eventually(async () => expect(await service.listSessions(userId, 10)).toEqual([]));
      });

      it('accepts an unknown id', async () => {
        await expect(service.deleteSession(ids.sessionId('never'))).resolves.toBeUndefined();
      });

      it('lets the id be used again, by anyone', async () => {
        const id = ids.sessionId();
        const first = ids.userId();
        await service.saveContext(
          id,
          makeContext(id, first, { messages: [{ role: 'user', content: 'one' }] }),
        );
        await service.deleteSession(id);
        await service.saveContext(
          id,
          makeContext(id, first + 1, { messages: [{ role: 'user', content: 'two' }] }),
        );
        const loaded = await service.loadContext(id);
        expect(loaded!.userId).toBe(first + 1);
        expect(loaded!.messages).toEqual([{ role: 'user', content: 'two' }]);
      });
    });

    describe('cleanupExpired', () => {
      it('deletes sessions with updatedAt strictly before now - days, keeps the rest', async () => {
        // A retention far beyond other tests' data, so a shared store loses nothing else; random so
        // concurrent runs of this suite do not meet at the same cutoff.
        const days = 20_000 + Math.floor(Math.random() * 5_000);
        const userId = ids.userId();
        const cutoff = nowSec() - days * 86400;
        const expired = makeContext(ids.sessionId('expired'), userId, {
          createdAt: cutoff - 10,
          updatedAt: cutoff - 1,
        });
        // The cutoff only moves forward while the test runs; a minute of margin keeps this one safe.
        const kept = makeContext(ids.sessionId('kept'), userId, {
          createdAt: cutoff - 10,
          updatedAt: cutoff + 60,
        });
        const fresh = ids.sessionId('fresh');
        await harness.seed(expired);
        await harness.seed(kept);
        await service.saveContext(fresh, makeContext(fresh, userId));

        const deleted = await service.cleanupExpired(days);
        expect(deleted).toBeGreaterThanOrEqual(1);
        expect(await service.loadContext(expired.sessionId)).toBeNull();
        expect(await service.loadContext(kept.sessionId)).not.toBeNull();
        expect(await service.loadContext(fresh)).not.toBeNull();
        await eventually(async () =>
          expect((await service.listSessions(userId, 10)).map((s) => s.sessionId).sort()).toEqual(
            [kept.sessionId, fresh].sort(),
          ),
        );
      });

      it('rejects a negative or fractional retention', async () => {
        await expect(service.cleanupExpired(-1)).rejects.toBeInstanceOf(ValidationError);
        await expect(service.cleanupExpired(1.5)).rejects.toBeInstanceOf(ValidationError);
      });
    });
  });
}
