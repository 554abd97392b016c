// OpenAI Agents SDK items <-> session messages, losslessly: messages, function calls and their results become chat
// messages (tool calls pair up in the window), and whatever the chat shape does not hold travels in `extra`.
import { ValidationError } from '../errors';
import { validateMessage } from '../session-rules';
import type { Message, Role } from '../types';

/** The key of `Message.extra` this adapter writes (clients/python writes `openai_agents_python`: its items differ). */
export const OPENAI_AGENTS_EXTRA = 'openai_agents';

/** A JSON object: the form of every SDK item (AgentInputItem) the adapter stores. */
export type JsonItem = Record<string, unknown>;

/**
 * What `extra.openai_agents` holds: the item without the fields the message carries exactly (`taken`: `content`
 * or `output` as the message's content, `arguments` as its one tool call's arguments).
 */
interface StoredItem {
  item: JsonItem;
  taken?: ('content' | 'output' | 'arguments')[];
}

const TEXT_PART_TYPES = new Set(['input_text', 'output_text', 'text', 'reasoning_text', 'summary_text']);

/** The text a model would read in an item's content parts (or '' when it has none). */
function partsText(parts: unknown): string {
  if (typeof parts === 'string') return parts;
  if (!Array.isArray(parts)) {
    const part = parts as { type?: unknown; text?: unknown } | null;
    return part && typeof part.text === 'string' && TEXT_PART_TYPES.has(String(part.type)) ? part.text : '';
  }
  return parts
    .map((p: { type?: unknown; text?: unknown; refusal?: unknown }) =>
      typeof p?.text === 'string' && TEXT_PART_TYPES.has(String(p.type))
        ? p.text
        : typeof p?.refusal === 'string'
          ? p.refusal
          : '',
    )
    .filter((t) => t.length > 0)
    .join('\n');
}

function stored(message: Omit<Message, 'extra'>, item: JsonItem, taken: StoredItem['taken'] = []): Message {
  const rest: JsonItem = { ...item };
  for (const key of taken) delete rest[key];
  const value: StoredItem = taken.length > 0 ? { item: rest, taken } : { item: rest };
  return { ...message, extra: { [OPENAI_AGENTS_EXTRA]: value } };
}

/** Whether the session rules take the message as it is (else the item is kept as an item we do not model). */
function valid(m: Message): boolean {
  try {
    validateMessage('message', m);
    return true;
  } catch (err) {
    if (err instanceof ValidationError) return false;
    throw err;
  }
}

/** One SDK item as one session message. The item must be JSON (what the SDK's own sessions serialise). */
export function itemToMessage(input: unknown): Message {
  const item = JSON.parse(JSON.stringify(input)) as JsonItem;
  const type = item.type ?? 'message';
  let candidate: Message | undefined;
  if (type === 'message' && typeof item.role === 'string') {
    const role: Role = item.role === 'assistant' ? 'assistant' : item.role === 'user' ? 'user' : 'system';
    if (typeof item.content === 'string' && item.content.length > 0)
      candidate = stored({ role, content: item.content }, item, ['content']);
    else {
      const text = partsText(item.content);
      candidate = stored({ role, content: text || `[${describe(item.content)}]` }, item);
    }
  } else if (type === 'function_call' && typeof item.callId === 'string' && typeof item.name === 'string') {
    const args = typeof item.arguments === 'string' ? item.arguments : '';
    candidate = stored(
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: item.callId, type: 'function', function: { name: item.name, arguments: args } }],
      },
      item,
      typeof item.arguments === 'string' ? ['arguments'] : [],
    );
  } else if (type === 'function_call_result' && typeof item.callId === 'string') {
    candidate =
      typeof item.output === 'string'
        ? stored({ role: 'tool', content: item.output, toolCallId: item.callId }, item, ['output'])
        : stored({ role: 'tool', content: partsText(item.output), toolCallId: item.callId }, item);
  }
  if (candidate && valid(candidate)) return candidate;
  // Reasoning, hosted and computer calls, shell and patch calls, compaction, … : an assistant note that says what
  // it is (with the text it carries, if any), the item whole in `extra`.
  const text = partsText(item.summary) || partsText(item.content);
  return stored({ role: 'assistant', content: text || `[${String(type)}]` }, item);
}

function describe(content: unknown): string {
  if (!Array.isArray(content)) return 'empty';
  const types = content.map((p: { type?: unknown }) => String(p?.type ?? 'part'));
  return types.length > 0 ? types.join(', ') : 'empty';
}

/**
 * The SDK items of one session message: the stored item when this adapter wrote it, else the chat message read as
 * items (a message written through the API or another client): text → a message item, each tool call → a
 * `function_call`, a tool result → a `function_call_result`.
 */
export function messageToItems(m: Message, callNames: ReadonlyMap<string, string>): JsonItem[] {
  const own = m.extra?.[OPENAI_AGENTS_EXTRA] as StoredItem | { items?: StoredItem[] } | undefined;
  if (own && typeof own === 'object' && 'items' in own && Array.isArray(own.items))
    return own.items.map((one, k) => restore(one, m, k));
  if (own && typeof own === 'object' && 'item' in own && own.item && typeof own.item === 'object')
    return [restore(own, m, 0)];
  const items: JsonItem[] = [];
  if (m.role === 'tool')
    return [
      {
        type: 'function_call_result',
        callId: m.toolCallId,
        name: callNames.get(m.toolCallId ?? '') ?? '',
        status: 'completed',
        output: m.content,
      },
    ];
  if (m.role === 'assistant') {
    if (m.content.length > 0)
      items.push({
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: m.content }],
      });
    for (const call of m.toolCalls ?? [])
      items.push({
        type: 'function_call',
        callId: call.id,
        name: call.function.name,
        arguments: call.function.arguments,
        status: 'completed',
      });
    return items;
  }
  return [{ type: 'message', role: m.role, content: m.content }];
}

/** A stored item with the fields the message carries put back (`call`: which of its tool calls is this item's). */
function restore(own: StoredItem, m: Message, call: number): JsonItem {
  const item = JSON.parse(JSON.stringify(own.item)) as JsonItem;
  for (const key of own.taken ?? []) {
    if (key === 'arguments') item.arguments = m.toolCalls?.[call]?.function.arguments ?? '';
    else item[key] = m.content;
  }
  return item;
}

const isLoneCall = (m: Message): boolean =>
  m.role === 'assistant' &&
  m.content === '' &&
  m.toolCalls?.length === 1 &&
  (m.extra?.[OPENAI_AGENTS_EXTRA] as StoredItem | undefined)?.item?.type === 'function_call';

/**
 * The messages of one write: one per item, except that consecutive function calls (the SDK's parallel tool calls)
 * become one assistant message with several tool calls, as chat APIs expect them (`extra.openai_agents.items`).
 */
export function itemsToMessages(items: readonly unknown[]): Message[] {
  const out: Message[] = [];
  for (const m of items.map(itemToMessage)) {
    const prev = out[out.length - 1];
    const prevOwn = prev?.extra?.[OPENAI_AGENTS_EXTRA] as object | undefined;
    if (prev && isLoneCall(m) && (isLoneCall(prev) || (prevOwn !== undefined && 'items' in prevOwn))) {
      const own = prev.extra![OPENAI_AGENTS_EXTRA] as StoredItem | { items: StoredItem[] };
      const merged: Message = {
        role: 'assistant',
        content: '',
        toolCalls: [...prev.toolCalls!, ...m.toolCalls!],
        extra: {
          [OPENAI_AGENTS_EXTRA]: {
            items: [...('items' in own ? own.items : [own]), m.extra![OPENAI_AGENTS_EXTRA] as StoredItem],
          },
        },
      };
      if (valid(merged)) {
        out[out.length - 1] = merged;
        continue;
      }
    }
    out.push(m);
  }
  return out;
}

/** The items of a session's messages, oldest first. */
export function messagesToItems(messages: readonly Message[]): JsonItem[][] {
  const callNames = new Map<string, string>();
  for (const m of messages) for (const call of m.toolCalls ?? []) callNames.set(call.id, call.function.name);
  return messages.map((m) => messageToItems(m, callNames));
}
