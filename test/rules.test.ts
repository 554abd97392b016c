// Unit tests of the pure session rules (src/session-rules.ts): commands, window, validation, helpers.
// No server: the actor, the in-memory service and client-side validation all rely on these rules.
import { SessionConflictError, SessionNotFoundError, ValidationError } from '../src/errors';
import {
  SessionCommand,
  SessionSnapshot,
  applyCommand,
  applyWindow,
  expiryCutoff,
  lastMessage,
  normaliseLimit,
  nowSeconds,
  recentMessages,
  utf8Length,
  validateCommand,
  validateContent,
  validateMetadata,
  validateRetentionDays,
  validateSessionId,
  validateTurnId,
} from '../src/session-rules';
import { ConversationContext, LIMITS, MAX_MESSAGES_PER_SESSION, Message } from '../src/types';

const NOW = 1_700_000_000;

function numbered(count: number): Message[] {
  return Array.from({ length: count }, (_, i) => ({
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `m${i + 1}`,
  }));
}

function snapshot(fields: Partial<ConversationContext> = {}, version = 3): SessionSnapshot {
  return {
    version,
    context: {
      sessionId: 's',
      userId: 1,
      agentType: 'memo',
      messages: numbered(2),
      metadata: { topic: 't', n: 1 },
      createdAt: NOW - 100,
      updatedAt: NOW - 50,
      ...fields,
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

function expectValidation(fn: () => unknown, field?: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ValidationError);
  if (field !== undefined) expect((error as ValidationError).field).toBe(field);
}

describe('applyCommand', () => {
  describe('save', () => {
    const ctx = (fields: Partial<ConversationContext> = {}): ConversationContext => ({
      sessionId: 'ignored',
      userId: 1,
      agentType: 'schedule',
      messages: numbered(3),
      metadata: { a: 1 },
      createdAt: 0,
      updatedAt: 12,
      ...fields,
    });

    it('creates a session: createdAt now when 0, updatedAt now, session id forced, version 1', () => {
      const { snapshot: s, changed } = applyCommand('s', null, { type: 'save', context: ctx() }, NOW);
      expect(changed).toBe(true);
      expect(s.version).toBe(1);
      expect(s.context).toEqual({ ...ctx(), sessionId: 's', createdAt: NOW, updatedAt: NOW });
    });

    it('keeps a given createdAt on create, and the stored one on update', () => {
      expect(
        applyCommand('s', null, { type: 'save', context: ctx({ createdAt: 5 }) }, NOW).snapshot.context
          .createdAt,
      ).toBe(5);
      const prev = snapshot();
      const { snapshot: s } = applyCommand('s', prev, { type: 'save', context: ctx({ createdAt: 5 }) }, NOW);
      expect(s.context.createdAt).toBe(NOW - 100);
      expect(s.version).toBe(4);
      expect(s.context.agentType).toBe('schedule');
    });

    it("is a conflict on another user's session", () => {
      expect(() => applyCommand('s', snapshot(), { type: 'save', context: ctx({ userId: 2 }) }, NOW)).toThrow(
        SessionConflictError,
      );
    });

    it('applies the window and copies its input', () => {
      const input = ctx({ messages: numbered(25), metadata: { nested: { x: 1 } } });
      const { snapshot: s } = applyCommand('s', null, { type: 'save', context: input }, NOW);
      expect(s.context.messages).toEqual(numbered(25).slice(-20));
      input.messages[24].content = 'changed';
      (input.metadata.nested as { x: number }).x = 2;
      expect(s.context.messages[19].content).toBe('m25');
      expect(s.context.metadata).toEqual({ nested: { x: 1 } });
    });

    it('defaults missing agent type, messages and metadata', () => {
      const partial = { userId: 1 } as unknown as ConversationContext;
      validateCommand({ type: 'save', context: partial });
      const { snapshot: s } = applyCommand('s', null, { type: 'save', context: partial }, NOW);
      expect(s.context).toMatchObject({ agentType: '', messages: [], metadata: {} });
    });
  });

  describe('recover', () => {
    it('creates an empty session for a new id', () => {
      const { snapshot: s, changed } = applyCommand(
        's',
        null,
        { type: 'recover', userId: 7, agentType: 'memo' },
        NOW,
      );
      expect(changed).toBe(true);
      expect(s).toEqual({
        version: 1,
        context: {
          sessionId: 's',
          userId: 7,
          agentType: 'memo',
          messages: [],
          metadata: {},
          createdAt: NOW,
          updatedAt: NOW,
        },
      });
    });

    it('returns an existing session unchanged (same version), and refuses another user', () => {
      const prev = snapshot();
      const result = applyCommand('s', prev, { type: 'recover', userId: 1, agentType: 'amazing' }, NOW);
      expect(result.changed).toBe(false);
      expect(result.snapshot).toBe(prev);
      expect(() => applyCommand('s', prev, { type: 'recover', userId: 2 }, NOW)).toThrow(
        SessionConflictError,
      );
    });
  });

  describe('changes to an existing session', () => {
    const cases: Array<[string, SessionCommand]> = [
      ['appendMessage', { type: 'appendMessage', message: { role: 'user', content: 'x' } }],
      ['appendTurn', { type: 'appendTurn', user: 'q', assistant: 'a' }],
      ['clearMessages', { type: 'clearMessages' }],
      ['updateMetadata', { type: 'updateMetadata', patch: { k: 1 } }],
    ];

    it.each(cases)('%s on a missing session is SessionNotFoundError', (_name, command) => {
      expect(() => applyCommand('s', null, command, NOW)).toThrow(SessionNotFoundError);
    });

    it.each(cases)(
      '%s bumps version and updatedAt, keeps owner and createdAt, never mutates prev',
      (_n, command) => {
        const prev = deepFreeze(snapshot());
        const { snapshot: s, changed } = applyCommand('s', prev, command, NOW);
        expect(changed).toBe(true);
        expect(s.version).toBe(4);
        expect(s.context).toMatchObject({ userId: 1, createdAt: NOW - 100, updatedAt: NOW });
      },
    );

    it('appendMessage appends and windows', () => {
      const prev = snapshot({ messages: numbered(20) });
      const { snapshot: s } = applyCommand(
        's',
        prev,
        { type: 'appendMessage', message: { role: 'system', content: 'x' } },
        NOW,
      );
      expect(s.context.messages).toHaveLength(MAX_MESSAGES_PER_SESSION);
      expect(s.context.messages[0].content).toBe('m2');
      expect(s.context.messages[19]).toEqual({ role: 'system', content: 'x' });
      expect(s.context.agentType).toBe('memo');
    });

    it('appendTurn appends user then assistant; agent type only when non-empty', () => {
      const prev = snapshot({ messages: numbered(19) });
      const turn = applyCommand(
        's',
        prev,
        { type: 'appendTurn', user: 'q', assistant: 'a', agentType: 'schedule' },
        NOW,
      );
      expect(turn.snapshot.context.messages.slice(-2)).toEqual([
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a' },
      ]);
      expect(turn.snapshot.context.messages[0]).toEqual({ role: 'assistant', content: 'm2' });
      expect(turn.snapshot.context.agentType).toBe('schedule');
      const again = applyCommand(
        's',
        turn.snapshot,
        { type: 'appendTurn', user: 'q', assistant: 'a', agentType: '' },
        NOW,
      );
      expect(again.snapshot.context.agentType).toBe('schedule');
      const noType = applyCommand('s', turn.snapshot, { type: 'appendTurn', user: 'q', assistant: 'a' }, NOW);
      expect(noType.snapshot.context.agentType).toBe('schedule');
    });

    it('clearMessages empties messages and keeps metadata and agent type', () => {
      const { snapshot: s } = applyCommand('s', snapshot(), { type: 'clearMessages' }, NOW);
      expect(s.context).toMatchObject({ messages: [], metadata: { topic: 't', n: 1 }, agentType: 'memo' });
    });

    it('updateMetadata merges a copy of the patch', () => {
      const patch = { n: 2, obj: { deep: true } };
      const { snapshot: s } = applyCommand('s', snapshot(), { type: 'updateMetadata', patch }, NOW);
      expect(s.context.metadata).toEqual({ topic: 't', n: 2, obj: { deep: true } });
      patch.obj.deep = false;
      expect(s.context.metadata.obj).toEqual({ deep: true });
    });

    it('updateMetadata refuses to grow metadata past the limit', () => {
      const big = 'x'.repeat(40 * 1024);
      const prev = snapshot({ metadata: { a: big } });
      expect(() => applyCommand('s', prev, { type: 'updateMetadata', patch: { b: big } }, NOW)).toThrow(
        ValidationError,
      );
    });
  });
});

describe('validateCommand', () => {
  const ok: SessionCommand[] = [
    { type: 'recover', userId: 1 },
    { type: 'recover', userId: -2147483648, agentType: '' },
    { type: 'appendMessage', message: { role: 'assistant', content: 'x' } },
    { type: 'appendTurn', user: 'q', assistant: 'a', agentType: 'memo' },
    { type: 'clearMessages' },
    { type: 'updateMetadata', patch: { k: null } },
    {
      type: 'save',
      context: {
        sessionId: '',
        userId: 2147483647,
        agentType: 'a.b_c-1',
        messages: [],
        metadata: {},
        createdAt: 0,
        updatedAt: 0,
      },
    },
  ];
  it.each(ok.map((c) => [c.type, c] as const))('accepts a valid %s', (_t, command) => {
    expect(() => validateCommand(command)).not.toThrow();
  });

  const bad: Array<[string, unknown, string]> = [
    ['not an object', null, 'command'],
    ['unknown type', { type: 'explode' }, 'command'],
    ['user id 2^31', { type: 'recover', userId: 2 ** 31 }, 'user_id'],
    ['user id below int32', { type: 'recover', userId: -(2 ** 31) - 1 }, 'user_id'],
    ['fractional user id', { type: 'recover', userId: 1.5 }, 'user_id'],
    ['string user id', { type: 'recover', userId: '1' }, 'user_id'],
    ['agent type with a space', { type: 'recover', userId: 1, agentType: 'a b' }, 'agent_type'],
    [
      'agent type too long',
      { type: 'recover', userId: 1, agentType: 'a'.repeat(LIMITS.agentTypeMaxLength + 1) },
      'agent_type',
    ],
    ['unknown role', { type: 'appendMessage', message: { role: 'robot', content: 'x' } }, 'message.role'],
    ['empty content', { type: 'appendMessage', message: { role: 'user', content: '' } }, 'message.content'],
    [
      'non-string content',
      { type: 'appendMessage', message: { role: 'user', content: 5 } },
      'message.content',
    ],
    ['message not an object', { type: 'appendMessage', message: 'hi' }, 'message'],
    ['empty turn user', { type: 'appendTurn', user: '', assistant: 'a' }, 'user'],
    ['empty turn assistant', { type: 'appendTurn', user: 'q', assistant: '' }, 'assistant'],
    ['empty metadata patch', { type: 'updateMetadata', patch: {} }, 'metadata'],
    ['array metadata patch', { type: 'updateMetadata', patch: [1] }, 'metadata'],
    ['empty metadata key', { type: 'updateMetadata', patch: { '': 1 } }, 'metadata'],
    [
      'long metadata key',
      { type: 'updateMetadata', patch: { ['k'.repeat(LIMITS.metadataKeyMaxLength + 1)]: 1 } },
      'metadata',
    ],
    ['undefined metadata value', { type: 'updateMetadata', patch: { k: undefined } }, 'metadata.k'],
    ['unserialisable metadata', { type: 'updateMetadata', patch: { k: BigInt(1) } }, 'metadata'],
    [
      'oversized metadata',
      { type: 'updateMetadata', patch: { k: 'x'.repeat(LIMITS.metadataMaxBytes) } },
      'metadata',
    ],
    ['save without context', { type: 'save' }, 'context'],
    ['save with messages not an array', { type: 'save', context: { userId: 1, messages: 'x' } }, 'messages'],
    [
      'save with a bad message',
      { type: 'save', context: { userId: 1, messages: [{ role: 'user', content: '' }] } },
      'messages[0].content',
    ],
    ['save with string metadata', { type: 'save', context: { userId: 1, metadata: 'x' } }, 'metadata'],
    ['save with negative createdAt', { type: 'save', context: { userId: 1, createdAt: -1 } }, 'created_at'],
    [
      'save with fractional createdAt',
      { type: 'save', context: { userId: 1, createdAt: 1.5 } },
      'created_at',
    ],
  ];
  it.each(bad)('rejects %s', (_label, command, field) => {
    expectValidation(() => validateCommand(command as SessionCommand), field);
  });

  it('measures content in UTF-8 bytes: 32 KiB is the limit', () => {
    const at = (content: string) => () =>
      validateCommand({ type: 'appendMessage', message: { role: 'user', content } });
    expect(at('a'.repeat(LIMITS.messageContentMaxBytes))).not.toThrow();
    expectValidation(at('a'.repeat(LIMITS.messageContentMaxBytes + 1)), 'message.content');
    // 10,923 characters, 32,769 bytes.
    expectValidation(at('中'.repeat(10_923)), 'message.content');
    expect(at('中'.repeat(10_922))).not.toThrow();
  });
});

describe('validateSessionId and validateTurnId', () => {
  it.each(['a', 'session-001', 'A.b_c:d-9', 'x'.repeat(LIMITS.sessionIdMaxLength)])('accepts %s', (id) => {
    expect(() => validateSessionId(id)).not.toThrow();
  });
  it.each(['', ' ', 'a b', 'a/b', 'a*', 'é', 'x'.repeat(LIMITS.sessionIdMaxLength + 1), 5, null])(
    'rejects %p',
    (id) => {
      expectValidation(() => validateSessionId(id), 'session_id');
    },
  );
  it('bounds turn ids', () => {
    expect(() => validateTurnId('t'.repeat(LIMITS.turnIdMaxLength))).not.toThrow();
    expectValidation(() => validateTurnId(''), 'turn_id');
    expectValidation(() => validateTurnId('t'.repeat(LIMITS.turnIdMaxLength + 1)), 'turn_id');
  });
});

describe('window and read helpers', () => {
  it('applyWindow keeps the last 20 in order and leaves shorter lists alone', () => {
    expect(applyWindow(numbered(25))).toEqual(numbered(25).slice(5));
    const short = numbered(20);
    expect(applyWindow(short)).toBe(short);
  });

  it('recentMessages: n <= 0 or n >= length gives all, else the last n, always fresh', () => {
    const messages = numbered(5);
    for (const n of [0, -1, 5, 6]) {
      const all = recentMessages(messages, n);
      expect(all).toEqual(messages);
      expect(all).not.toBe(messages);
      expect(all[0]).not.toBe(messages[0]);
    }
    expect(recentMessages(messages, 2)).toEqual(messages.slice(3));
    expect(recentMessages([], 3)).toEqual([]);
  });

  it('lastMessage is the last content whatever the role, "" when none', () => {
    expect(lastMessage([])).toBe('');
    expect(
      lastMessage([
        { role: 'user', content: 'a' },
        { role: 'system', content: 's' },
      ]),
    ).toBe('s');
  });
});

describe('normaliseLimit', () => {
  it.each([
    [undefined, 20],
    [null, 20],
    [0, 20],
    [-3, 20],
    [1, 1],
    [200, 200],
    [201, 200],
    [10_000, 200],
  ])('%p → %p', (limit, expected) => {
    expect(normaliseLimit(limit)).toBe(expected);
  });
  it.each([1.5, '10', NaN, Infinity])('rejects %p', (limit) => {
    expectValidation(() => normaliseLimit(limit), 'limit');
  });
});

describe('retention', () => {
  it('validateRetentionDays accepts non-negative integers only', () => {
    expect(() => validateRetentionDays(0)).not.toThrow();
    expect(() => validateRetentionDays(30)).not.toThrow();
    for (const days of [-1, 1.5, '30', NaN])
      expectValidation(() => validateRetentionDays(days), 'retention_days');
  });

  it('expiryCutoff is now (floored seconds) minus whole days', () => {
    expect(expiryCutoff(NOW * 1000 + 999, 30)).toBe(NOW - 30 * 86400);
    expect(expiryCutoff(NOW * 1000, 0)).toBe(NOW);
    expect(nowSeconds(1999)).toBe(1);
  });
});

describe('utf8Length', () => {
  it.each(['', 'ascii', 'é', '中文', '🙂', 'a🙂b中é', '\u0000', '\u07ff\u0800\uffff'])(
    'matches Buffer.byteLength for %p',
    (s) => {
      expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
    },
  );
  it('counts a lone surrogate at the end as 3 bytes (its replacement character)', () => {
    expect(utf8Length('a\ud800')).toBe(Buffer.byteLength('a\ud800', 'utf8'));
    expect(utf8Length('\udc00')).toBe(3);
  });
});

describe('rules found in review', () => {
  test('a lone high surrogate is not counted as a pair with the next character', () => {
    expect(utf8Length('\ud800中')).toBe(6);
    expect(utf8Length('😀')).toBe(4);
  });
  test('NUL cannot reach Postgres jsonb: rejected in content and metadata', () => {
    expect(() => validateContent('content', 'a\u0000b')).toThrow(/NUL/);
    expect(() => validateMetadata('metadata', { k: ['x\u0000'] })).toThrow(/NUL/);
    expect(() => validateMetadata('metadata', { ['k\u0000']: 1 })).toThrow(/NUL/);
    expect(() => validateMetadata('metadata', { k: 'a literal \\u0000 is fine' })).not.toThrow();
  });
  test('lone surrogates cannot reach Postgres jsonb either; pairs are fine', () => {
    expect(() => validateContent('content', 'a\ud800b')).toThrow(/Unicode/);
    expect(() => validateContent('content', '\udc00')).toThrow(/Unicode/);
    expect(() => validateMetadata('metadata', { k: ['x\ud800'] })).toThrow(/Unicode/);
    expect(() => validateMetadata('metadata', { ['\udfff']: 1 })).toThrow(/Unicode/);
    expect(() => validateContent('content', 'emoji 😀 ok')).not.toThrow();
  });
});

describe('the lifecycle rules (issue 12)', () => {
  const session = (userId = 7, version = 3): SessionSnapshot => ({
    version,
    context: {
      sessionId: 's',
      userId,
      agentType: '',
      messages: [],
      metadata: {},
      createdAt: NOW,
      updatedAt: NOW,
    },
  });

  test('a command carrying another expected owner is a conflict and changes nothing', () => {
    const prev = session(7);
    const turn: SessionCommand = { type: 'appendTurn', user: 'q', assistant: 'a', expectedUserId: 8 };
    expect(() => applyCommand('s', prev, turn, NOW)).toThrow(SessionConflictError);
    expect(applyCommand('s', prev, { ...turn, expectedUserId: 7 }, NOW).snapshot.version).toBe(4);
    // A missing session is still "not found", whoever is expected.
    expect(() => applyCommand('s', null, turn, NOW)).toThrow(SessionNotFoundError);
    expect(() => validateCommand({ type: 'clearMessages', expectedUserId: 2 ** 31 })).toThrow(
      ValidationError,
    );
  });

  test('a session created after a deletion continues from its base version: versions never go back', () => {
    const created = applyCommand('s', null, { type: 'recover', userId: 7 }, NOW, 41);
    expect(created.snapshot.version).toBe(42);
    expect(applyCommand('s', created.snapshot, { type: 'clearMessages' }, NOW, 41).snapshot.version).toBe(43);
  });

  test.each([
    ['a created_at past year 9999', { createdAt: LIMITS.maxUnixSeconds + 1 }],
    ['a created_at of 1e20 (out of bigint)', { createdAt: 1e20 }],
    ['a negative created_at', { createdAt: -1 }],
    ['a fractional created_at', { createdAt: 1.5 }],
  ])('refuses %s', (_label, fields) => {
    const context = { ...session().context, ...fields };
    expect(() => validateCommand({ type: 'save', context })).toThrow(ValidationError);
  });

  test.each([
    ['NaN', { n: Number.NaN }],
    ['Infinity', { n: Number.POSITIVE_INFINITY }],
    ['a Date (JSON would turn it into a string)', { when: new Date(0) }],
    ['a Map', { m: new Map() }],
    ['undefined in an array', { a: [undefined] }],
    ['a bigint', { b: BigInt(1) }],
    [
      'nesting deeper than the limit',
      JSON.parse('{"d":'.repeat(LIMITS.metadataMaxDepth + 1) + '1' + '}'.repeat(LIMITS.metadataMaxDepth + 1)),
    ],
  ])('refuses metadata with %s', (_label, metadata) => {
    expect(() => validateMetadata('metadata', metadata)).toThrow(ValidationError);
  });

  test('accepts metadata at the nesting limit, and plain JSON of every kind', () => {
    const deep = JSON.parse(
      '{"d":'.repeat(LIMITS.metadataMaxDepth) + '1' + '}'.repeat(LIMITS.metadataMaxDepth),
    );
    expect(() => validateMetadata('metadata', deep)).not.toThrow();
    expect(() =>
      validateMetadata('metadata', { s: 'x', n: -1.5e300, b: false, z: null, a: [1, { k: 'v' }], o: {} }),
    ).not.toThrow();
  });
});
