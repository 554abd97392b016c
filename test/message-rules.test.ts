// Unit tests of the rules for messages beyond the reference (issue 16): tool calls in the OpenAI chat shape, the
// window that never splits a call from its results, per-session budgets, steps, settings, forks, the transcript a
// command brings in, and the change each command makes. No server.
import { SessionExistsError, SessionNotFoundError, ValidationError } from '../src/errors';
import { ChangeLog, changeOf, fromWireChange, toWireChange } from '../src/session-changes';
import {
  SessionSnapshot,
  applyCommand,
  applyWindow,
  enteredBySave,
  recentMessages,
  validateCommand,
} from '../src/session-rules';
import { LIMITS, Message, ToolCall, fromWireMessage, toWireMessage } from '../src/types';

const NOW = 1_700_000_000;

const call = (id: string, name = 'get_weather', args = '{"city":"Paris"}'): ToolCall => ({
  id,
  type: 'function',
  function: { name, arguments: args },
});
const calling = (...ids: string[]): Message => ({
  role: 'assistant',
  content: '',
  toolCalls: ids.map((id) => call(id)),
});
const result = (id: string, content = '18 °C'): Message => ({ role: 'tool', content, toolCallId: id });
const user = (content: string): Message => ({ role: 'user', content });
const assistant = (content: string): Message => ({ role: 'assistant', content });

function session(
  messages: Message[],
  settings?: SessionSnapshot['context']['settings'],
  version = 5,
): SessionSnapshot {
  return {
    version,
    context: {
      sessionId: 's',
      userId: 1,
      agentType: 'assistant',
      messages,
      metadata: {},
      createdAt: NOW - 100,
      updatedAt: NOW - 50,
      ...(settings ? { settings } : {}),
    },
  };
}

function refusal(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('messages in the OpenAI chat shape', () => {
  const step = (messages: Message[]) => ({ type: 'appendMessages' as const, messages });

  it('accepts name, tool calls with empty content, and tool results; the wire form is snake_case', () => {
    const messages = [
      { ...user('weather?'), name: 'alice' },
      calling('call_1', 'call_2'),
      result('call_1'),
      result('call_2', ''),
      assistant('18 °C in Paris and London'),
    ];
    validateCommand(step(messages));
    const wire = messages.map(toWireMessage);
    expect(wire[1]).toEqual({
      role: 'assistant',
      content: '',
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      ],
    });
    expect(wire[2]).toEqual({ role: 'tool', content: '18 °C', tool_call_id: 'call_1' });
    expect(wire[0]).toEqual({ role: 'user', content: 'weather?', name: 'alice' });
    expect(wire.map(fromWireMessage)).toEqual(messages);
  });

  it.each<[string, Message, string]>([
    ['empty user content', user(''), 'messages[0].content'],
    ['empty assistant content without calls', assistant(''), 'messages[0].content'],
    ['tool calls on a user message', { ...user('x'), toolCalls: [call('a')] }, 'messages[0].tool_calls'],
    ['no tool calls in the list', { ...assistant(''), toolCalls: [] }, 'messages[0].tool_calls'],
    ['a tool message without tool_call_id', { role: 'tool', content: 'x' }, 'messages[0].tool_call_id'],
    [
      'tool_call_id on an assistant message',
      { ...assistant('x'), toolCallId: 'a' },
      'messages[0].tool_call_id',
    ],
    [
      'a call type other than function',
      { ...calling('a'), toolCalls: [{ ...call('a'), type: 'x' as 'function' }] },
      'messages[0].tool_calls[0].type',
    ],
    [
      'a bad function name',
      calling('a') && { ...assistant(''), toolCalls: [call('a', 'get weather')] },
      'messages[0].tool_calls[0].function.name',
    ],
    ['an id used twice in one message', calling('a', 'a'), 'messages[0].tool_calls[1].id'],
    ['a name with spaces', { ...user('x'), name: 'a b' }, 'messages[0].name'],
    ['a tool call id with a space', result('a b'), 'messages[0].tool_call_id'],
    [
      'arguments with NUL',
      { ...assistant(''), toolCalls: [call('a', 'f', 'x\u0000')] },
      'messages[0].tool_calls[0].function.arguments',
    ],
  ])('refuses %s', (_what, message, field) => {
    expect(refusal(() => validateCommand(step([message]))).field).toBe(field);
  });

  it('bounds tool arguments in bytes (oversize arguments) and a step in messages and bytes', () => {
    const big = 'é'.repeat(LIMITS.toolArgumentsMaxBytes / 2 + 1); // within maxLength, over the byte bound
    const oversize = refusal(() =>
      validateCommand(step([{ ...assistant(''), toolCalls: [call('a', 'f', big)] }])),
    );
    expect(oversize.field).toBe('messages[0].tool_calls[0].function.arguments');
    expect(oversize.message).toContain(`${LIMITS.toolArgumentsMaxBytes} bytes`);
    const full = 'x'.repeat(LIMITS.messageContentMaxBytes);
    const many = Array.from({ length: LIMITS.stepMaxBytes / LIMITS.messageContentMaxBytes + 1 }, () =>
      user(full),
    );
    expect(refusal(() => validateCommand(step(many))).field).toBe('messages');
    expect(refusal(() => validateCommand(step([]))).field).toBe('messages');
    expect(
      refusal(() => validateCommand(step(Array(LIMITS.stepMaxMessages + 1).fill(user('x'))))).field,
    ).toBe('messages');
  });

  describe('a tool message answers a call in the window or earlier in the same command, once', () => {
    const prev = session([user('weather?'), calling('call_1')]);

    it('answers a call in the window', () => {
      const { snapshot } = applyCommand('s', prev, { type: 'appendMessage', message: result('call_1') }, NOW);
      expect(snapshot.context.messages).toHaveLength(3);
    });

    it('refuses an orphan tool result (unknown tool_call_id), changing nothing', () => {
      const orphan = refusal(() => applyCommand('s', prev, step([result('call_9')]), NOW));
      expect(orphan.field).toBe('messages[0].tool_call_id');
      expect(orphan.message).toContain('answers no tool call');
      expect(prev.context.messages).toHaveLength(2);
      expect(
        refusal(() => applyCommand('s', session([]), { type: 'appendMessage', message: result('x') }, NOW))
          .field,
      ).toBe('message.tool_call_id');
    });

    it('refuses a result before its call, a second result, and a call id already made', () => {
      expect(
        refusal(() => applyCommand('s', session([]), step([result('c'), calling('c')]), NOW)).field,
      ).toBe('messages[0].tool_call_id');
      const answered = session([calling('c'), result('c')]);
      expect(refusal(() => applyCommand('s', answered, step([result('c')]), NOW)).message).toContain(
        'already has',
      );
      expect(refusal(() => applyCommand('s', answered, step([calling('c')]), NOW)).field).toBe(
        'messages[0].tool_calls[0].id',
      );
    });

    it('checks a save on its own messages', () => {
      const context = { ...session([]).context, messages: [result('c')] };
      expect(refusal(() => validateCommand({ type: 'save', context })).field).toBe(
        'messages[0].tool_call_id',
      );
      validateCommand({ type: 'save', context: { ...context, messages: [calling('c'), result('c')] } });
    });
  });
});

describe('the window never splits a tool call from its results', () => {
  const group = (id: string) => [calling(id), result(id)];

  it('drops a group whole when its call would fall off the front', () => {
    // 19 plain messages, then a call and its result: 21 messages, the window keeps 20, the call would go.
    const messages = [
      ...Array.from({ length: 18 }, (_, i) => user(`m${i}`)),
      ...group('a'),
      assistant('done'),
    ];
    const window = applyWindow([user('first'), ...messages]);
    expect(window.length).toBeLessThanOrEqual(20);
    expect(window[0].role).not.toBe('tool');
    const calls = new Set(window.flatMap((m) => (m.toolCalls ?? []).map((c) => c.id)));
    for (const m of window) if (m.role === 'tool') expect(calls.has(m.toolCallId as string)).toBe(true);
  });

  it('never starts with an orphan tool message, with parallel calls answered in any order', () => {
    const messages = [user('q'), calling('a', 'b'), result('b'), result('a'), assistant('answer')];
    for (let n = 1; n <= messages.length; n++) {
      const window = applyWindow(messages, { windowMessages: n });
      expect(window.length).toBeLessThanOrEqual(n);
      expect(window[0]?.role).not.toBe('tool');
      if (window.some((m) => m.role === 'tool')) expect(window.some((m) => m.toolCalls)).toBe(true);
    }
    expect(applyWindow(messages, { windowMessages: 4 })).toEqual(messages.slice(1));
    expect(applyWindow(messages, { windowMessages: 3 })).toEqual([assistant('answer')]);
  });

  it('keeps the plain-message window of the reference: the last 20, the same array when nothing drops', () => {
    const plain = Array.from({ length: 25 }, (_, i) => user(`m${i}`));
    expect(applyWindow(plain)).toEqual(plain.slice(5));
    const short = plain.slice(0, 3);
    expect(applyWindow(short)).toBe(short);
  });

  it('a byte budget counts content and tool arguments, and honours the pairing rule', () => {
    const messages = [
      user('x'.repeat(100)),
      calling('a'),
      result('a', 'y'.repeat(50)),
      assistant('z'.repeat(10)),
    ];
    const args = '{"city":"Paris"}'.length;
    expect(applyWindow(messages, { windowBytes: 10 })).toEqual([messages[3]]);
    expect(applyWindow(messages, { windowBytes: 60 + args })).toEqual(messages.slice(1));
    // Room for the result but not its call: both go.
    expect(applyWindow(messages, { windowBytes: 60 + args - 1 })).toEqual([messages[3]]);
  });

  it('getRecentMessages honours n, a byte budget and the pairing rule', () => {
    const messages = [user('q'), calling('a'), result('a'), assistant('done')];
    expect(recentMessages(messages, 2)).toEqual([assistant('done')]);
    expect(recentMessages(messages, 3)).toEqual(messages.slice(1));
    expect(recentMessages(messages, 0, 4)).toEqual([assistant('done')]);
    expect(recentMessages(messages, 0)).toEqual(messages);
  });
});

describe('steps, settings, forks and the transcript', () => {
  it('appendMessages is one command and one version, records the agent type, and windows', () => {
    const prev = session(Array.from({ length: 19 }, (_, i) => user(`m${i}`)));
    const messages = [user('weather?'), calling('c'), result('c'), assistant('18 °C')];
    const { snapshot } = applyCommand(
      's',
      prev,
      { type: 'appendMessages', messages, agentType: 'weather' },
      NOW,
    );
    expect(snapshot.version).toBe(6);
    expect(snapshot.context.agentType).toBe('weather');
    expect(snapshot.context.messages.slice(-4)).toEqual(messages);
    expect(snapshot.context.messages).toHaveLength(20);
    expect(() => applyCommand('s', null, { type: 'appendMessages', messages }, NOW)).toThrow(
      SessionNotFoundError,
    );
  });

  it('configure replaces the settings and applies the window at once; {} is the defaults again', () => {
    const prev = session(Array.from({ length: 10 }, (_, i) => user(`m${i}`)));
    const small = applyCommand(
      's',
      prev,
      { type: 'configure', settings: { windowMessages: 3 } },
      NOW,
    ).snapshot;
    expect(small.context.settings).toEqual({ windowMessages: 3 });
    expect(small.context.messages).toEqual(prev.context.messages.slice(-3));
    const back = applyCommand('s', small, { type: 'configure', settings: {} }, NOW).snapshot;
    expect(back.context.settings).toBeUndefined();
    expect(refusal(() => validateCommand({ type: 'configure', settings: { windowMessages: 0 } })).field).toBe(
      'settings.window_messages',
    );
    expect(
      refusal(() =>
        validateCommand({ type: 'configure', settings: { windowBytes: LIMITS.windowMaxBytes + 1 } }),
      ).field,
    ).toBe('settings.window_bytes');
  });

  it('recover sets settings on a new session only', () => {
    const created = applyCommand(
      's',
      null,
      { type: 'recover', userId: 1, settings: { windowMessages: 50 } },
      NOW,
    );
    expect(created.snapshot.context.settings).toEqual({ windowMessages: 50 });
    const existing = applyCommand(
      's',
      session([]),
      { type: 'recover', userId: 1, settings: { transcript: true } },
      NOW,
    );
    expect(existing.changed).toBe(false);
  });

  it('fork creates a copy and refuses an existing target', () => {
    const source = session([user('q'), assistant('a')], { transcript: true });
    const command = {
      type: 'fork' as const,
      from: { sessionId: 'src', version: 5 },
      context: source.context,
      expectedUserId: 1,
    };
    validateCommand(command);
    const forked = applyCommand('t', null, command, NOW, 7);
    expect(forked.snapshot.version).toBe(8);
    expect(forked.snapshot.context).toMatchObject({
      sessionId: 't',
      userId: 1,
      messages: source.context.messages,
    });
    expect(forked.transcribed).toEqual(source.context.messages);
    expect(() => applyCommand('t', session([]), command, NOW)).toThrow(SessionExistsError);
  });

  it('the transcript gets every appended message, a save the messages it brings in, and a start the window', () => {
    const prev = session([user('a'), assistant('b')], { transcript: true });
    const step = [user('c'), calling('x'), result('x'), assistant('d')];
    expect(applyCommand('s', prev, { type: 'appendMessages', messages: step }, NOW).transcribed).toEqual(
      step,
    );
    const saved = { ...prev.context, messages: [...prev.context.messages, user('e')] };
    expect(applyCommand('s', prev, { type: 'save', context: saved }, NOW).transcribed).toEqual([user('e')]);
    const off = session([user('a')]);
    expect(
      applyCommand('s', off, { type: 'appendMessage', message: user('b') }, NOW).transcribed,
    ).toBeUndefined();
    expect(
      applyCommand('s', off, { type: 'configure', settings: { transcript: true } }, NOW).transcribed,
    ).toEqual([user('a')]);
    expect(enteredBySave([user('a'), user('a')], [user('a'), user('a'), user('a')])).toEqual([user('a')]);
  });
});

describe('changes', () => {
  it('describes each command, round-trips the wire form, and the log answers from a version or says it cannot', () => {
    const prev = session([]);
    const log = new ChangeLog(3);
    let s = prev;
    const commands = [
      { type: 'appendMessages' as const, messages: [user('q'), assistant('a')] },
      { type: 'updateMetadata' as const, patch: { k: 1 } },
      { type: 'clearMessages' as const },
      { type: 'configure' as const, settings: { windowMessages: 5 } },
    ];
    for (const command of commands) {
      s = applyCommand('s', s, command, NOW).snapshot;
      const change = changeOf(command, s);
      expect(fromWireChange(toWireChange(change))).toEqual(change);
      log.record(change);
    }
    expect(changeOf(commands[0], { ...s, version: 6 })).toMatchObject({ type: 'appended', version: 6 });
    expect(log.since(5, 9)).toEqual(null); // version 6 is no longer in a log of 3
    expect(log.since(6, 9)?.map((c) => c.version)).toEqual([7, 8, 9]);
    expect(log.since(7, 9)?.map((c) => c.type)).toEqual(['cleared', 'session']);
    expect(log.since(9, 9)).toEqual([]);
  });
});
