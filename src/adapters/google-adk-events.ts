// Google ADK events <-> session messages, losslessly: text becomes a user or assistant message, function calls an
// assistant message with tool calls, function responses tool messages (so the window keeps calls and results
// together), and the event itself travels in `extra.adk` without the values the messages already carry.
import { ValidationError } from '../errors';
import { validateMessage } from '../session-rules';
import type { Message } from '../types';

/** The key of `Message.extra` the ADK adapter writes. */
export const ADK_EXTRA = 'adk';

type Json = Record<string, unknown>;
type Path = (string | number)[];

/** Where a value taken out of the stored event is found in the event's messages. */
type Taken =
  | { path: Path; from: 'content'; message: number }
  | { path: Path; from: 'arguments'; message: number; call: number }
  | { path: Path; from: 'json-content'; message: number };

/** `extra.adk` of an event's first message; the others have `{ of: <event id>, part: i }`. */
interface StoredEvent {
  event: Json;
  taken?: Taken[];
}

interface Part {
  text?: unknown;
  thought?: unknown;
  functionCall?: { id?: unknown; name?: unknown; args?: unknown };
  functionResponse?: { id?: unknown; name?: unknown; response?: unknown };
}

function take(root: Json, path: Path): unknown {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  const value = node[last];
  delete node[last];
  return value;
}

function put(root: Json, path: Path, value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
}

function allValid(messages: Message[]): boolean {
  try {
    messages.forEach((m, i) => validateMessage(`messages[${i}]`, m));
    return true;
  } catch (err) {
    if (err instanceof ValidationError) return false;
    throw err;
  }
}

/** One ADK event (after its temporary state is trimmed) as the messages of one actor command. */
export function eventToMessages(input: unknown): Message[] {
  const event = JSON.parse(JSON.stringify(input)) as Json & { id?: string; author?: string; content?: Json };
  const parts = ((event.content?.parts as Part[] | undefined) ?? []).filter(
    (p) => p && typeof p === 'object',
  );
  const textAt = parts.flatMap((p, i) => (typeof p.text === 'string' && !p.thought ? [i] : []));
  const calls = parts.flatMap((p, i) => (p.functionCall ? [i] : []));
  const responses = parts.flatMap((p, i) => (p.functionResponse ? [i] : []));
  const partPath = (i: number, ...rest: string[]): Path => ['content', 'parts', i, ...rest];
  const taken: Taken[] = [];
  let messages: Message[] = [];
  const oneText = textAt.length === 1 ? (parts[textAt[0]].text as string) : undefined;

  if (calls.length > 0 && responses.length === 0) {
    const content = oneText ?? '';
    if (oneText !== undefined && oneText.length > 0)
      taken.push({ path: partPath(textAt[0], 'text'), from: 'content', message: 0 });
    messages = [
      {
        role: 'assistant',
        content,
        toolCalls: calls.map((i, k) => {
          const call = parts[i].functionCall!;
          taken.push({ path: partPath(i, 'functionCall', 'args'), from: 'arguments', message: 0, call: k });
          return {
            // Not stringified: a call without a string id or name fails validation and becomes a note.
            id: call.id as string,
            type: 'function' as const,
            function: { name: call.name as string, arguments: JSON.stringify(call.args ?? null) },
          };
        }),
      },
    ];
  } else if (responses.length > 0 && calls.length === 0) {
    messages = responses.map((i, j) => {
      const response = parts[i].functionResponse!;
      taken.push({ path: partPath(i, 'functionResponse', 'response'), from: 'json-content', message: j });
      return {
        role: 'tool',
        content: JSON.stringify(response.response ?? null),
        toolCallId: String(response.id),
      };
    });
  } else if (calls.length === 0) {
    const role = event.author === 'user' ? 'user' : 'assistant';
    if (oneText) {
      taken.push({ path: partPath(textAt[0], 'text'), from: 'content', message: 0 });
      messages = [{ role, content: oneText }];
    } else {
      const text = textAt.map((i) => parts[i].text as string).join('\n');
      messages = [{ role, content: text || `[${String(event.author ?? 'event')} event]` }];
    }
  }
  // Calls or responses the chat shape cannot hold (no id, a name it refuses, both in one event): one note.
  if (messages.length === 0 || !allValid(messages)) return [noteFor(event)];
  for (const t of [...taken].sort((a, b) => b.path.length - a.path.length)) take(event, t.path);
  const own: StoredEvent = taken.length > 0 ? { event, taken } : { event };
  return messages.map((m, j) => ({
    ...m,
    extra: { [ADK_EXTRA]: j === 0 ? own : { of: String(event.id), part: j } },
  }));
}

/** The event as one message that pairs with nothing: an assistant (or user) note, the event whole in `extra`. */
export function noteFor(input: unknown): Message {
  const event = JSON.parse(JSON.stringify(input)) as Json & { author?: string };
  const role = event.author === 'user' ? 'user' : 'assistant';
  return { role, content: `[${String(event.author ?? 'event')} event]`, extra: { [ADK_EXTRA]: { event } } };
}

/**
 * The events of a session's messages, oldest first (plain JSON; the caller makes them ADK events). A message another
 * client wrote (no `extra.adk`) reads as an event of its own: text, function calls or a function response.
 */
export function messagesToEvents(messages: readonly Message[], defaultAuthor: string): Json[] {
  const events: Json[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const own = m.extra?.[ADK_EXTRA] as StoredEvent | { of: string } | undefined;
    if (own && 'event' in own && own.event && typeof own.event === 'object') {
      const event = JSON.parse(JSON.stringify(own.event)) as Json;
      const group = [m];
      while (
        i + 1 < messages.length &&
        (messages[i + 1].extra?.[ADK_EXTRA] as { of?: unknown })?.of === event.id
      )
        group.push(messages[++i]);
      for (const t of own.taken ?? []) {
        const source = group[t.message];
        if (!source) continue;
        if (t.from === 'content') put(event, t.path, source.content);
        else if (t.from === 'arguments')
          put(event, t.path, JSON.parse(source.toolCalls?.[t.call]?.function.arguments ?? 'null'));
        else put(event, t.path, JSON.parse(source.content));
      }
      events.push(event);
    } else if (!own) events.push(foreignEvent(m, i, defaultAuthor));
  }
  return events;
}

function foreignEvent(m: Message, index: number, defaultAuthor: string): Json {
  const parts: Json[] = [];
  if (m.role === 'tool') {
    let response: unknown;
    try {
      response = JSON.parse(m.content);
    } catch {
      response = { result: m.content };
    }
    parts.push({ functionResponse: { id: m.toolCallId, response } });
  } else {
    if (m.content) parts.push({ text: m.content });
    for (const call of m.toolCalls ?? []) {
      let args: unknown;
      try {
        args = JSON.parse(call.function.arguments || '{}');
      } catch {
        args = { arguments: call.function.arguments };
      }
      parts.push({ functionCall: { id: call.id, name: call.function.name, args } });
    }
  }
  const fromUser = m.role === 'user' || m.role === 'tool';
  return {
    id: `msg-${index}`,
    invocationId: '',
    author: m.role === 'user' ? 'user' : defaultAuthor,
    content: { role: fromUser ? 'user' : 'model', parts },
    actions: {},
  };
}
