// The domain types of durable-sessions and their JSON wire form (the reference's snake_case names).
// Pure: imported by the workflow bundle, the library and the HTTP layer alike.
//
// Terminology
// - session: one conversation of one user with an agent, named by an opaque `sessionId`.
// - message: one utterance `{role, content}`, optionally with a `name`; an assistant message may carry tool calls
//   and a `tool` message answers one of them (the OpenAI chat shape). A *turn* is a user message and the reply.
// - tool-call group: an assistant message with tool calls and the tool messages answering them; the window keeps or
//   drops a group whole, so a model request built from it never holds a result without its call.
// - window: the last messages a session keeps (MAX_MESSAGES_PER_SESSION by default, per session a count and
//   optionally a byte budget, its *settings*); older ones fall off the front.
// - step: the messages of one agent step (user, assistant with calls, tool results, answer), appended as one command.
// - transcript: optional per session, every message that entered the window, kept in Postgres in order.
// - change: what one version did to a session, as a watcher of the session receives it.
// - actor: the long-lived Temporal workflow `session/<sessionId>` that is the single writer of a session.
// - command: one change to a session (append, turn, clear, metadata, save, recover); the rules module applies it.
// - turn id: a client-chosen id of one command; a command with a known turn id is applied at most once.
// - version: a counter bumped by every applied command; snapshots in Postgres never go back in version.
// - snapshot: the session's state as written to Postgres by the actor (or directly by PostgresSessionStore).
// - retention: how long an idle session is kept; sessions with `updatedAt < now - retention` are expired.

export const DEFAULT_RETENTION_DAYS = 30;
export const DEFAULT_CLEANUP_INTERVAL_MS = 24 * 60 * 60 * 1000;
export const MAX_MESSAGES_PER_SESSION = 20;

/** Bounds on input, so a session can never grow without limit (a defect of the reference). */
export const LIMITS = {
  sessionIdMaxLength: 128,
  agentTypeMaxLength: 32,
  messageContentMaxBytes: 32 * 1024,
  /** A message's `extra` object, as UTF-8 JSON. */
  messageExtraMaxBytes: 32 * 1024,
  metadataMaxBytes: 64 * 1024,
  metadataKeyMaxLength: 128,
  listDefaultLimit: 20,
  listMaxLimit: 200,
  turnIdMaxLength: 128,
  /** Nesting of metadata values: jsonb and every JSON parser on the way have a stack to protect. */
  metadataMaxDepth: 32,
  /** Unix seconds a session may carry: 9999-12-31T23:59:59Z, far inside Postgres bigint and JS integers. */
  maxUnixSeconds: 253402300799,
  /** A message's `name` and a tool's function name: what the OpenAI API accepts, plus `.` and `:`. */
  nameMaxLength: 64,
  toolCallsPerMessage: 32,
  toolCallIdMaxLength: 128,
  toolArgumentsMaxBytes: 32 * 1024,
  /** One step (appendMessages): bounded so the command, and the transcript it adds, stay far below Temporal's 2 MB. */
  stepMaxMessages: 64,
  stepMaxBytes: 512 * 1024,
  /** A session's own window: at most this many messages, and never more bytes than 20 full-size messages. */
  windowMaxMessages: 200,
  windowMaxBytes: 20 * 32 * 1024,
  /** Transcript pages. */
  transcriptDefaultLimit: 100,
  transcriptMaxLimit: 500,
} as const;

export type Role = 'user' | 'assistant' | 'system' | 'tool';
export const ROLES: readonly Role[] = ['user', 'assistant', 'system', 'tool'];

/** A call the model made, in the OpenAI chat shape; `arguments` is the model's text (JSON, usually), kept as sent. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface Message {
  role: Role;
  /** May be empty on an assistant message with tool calls and on a tool message; otherwise 1 character or more. */
  content: string;
  /** The participant's name (optional, any role). */
  name?: string;
  /** Assistant messages only: the calls the model made. */
  toolCalls?: ToolCall[];
  /** Tool messages only (required there): the id of the call this message answers. */
  toolCallId?: string;
  /**
   * What an agent framework's own form of this message holds beyond the chat shape (item ids, statuses, content
   * parts, event fields, items the chat shape has no place for), kept as is: a JSON object, at most 32 KiB, keyed
   * by the adapter that wrote it (src/adapters/). Readers of the chat shape may ignore it.
   */
  extra?: Record<string, unknown>;
}

/** A session's own window and transcript; every field optional (absent: the default). */
export interface SessionSettings {
  /** The window keeps at most this many messages (default MAX_MESSAGES_PER_SESSION). */
  windowMessages?: number;
  /** ... and at most this many bytes of content and tool arguments (UTF-8; default: no budget of its own). */
  windowBytes?: number;
  /** Keep every message that enters the window in Postgres, in order (default false). */
  transcript?: boolean;
}

/** A JSON object; numbers stay numbers. */
export type Metadata = Record<string, unknown>;

export interface ConversationContext {
  sessionId: string;
  userId: number;
  agentType: string;
  messages: Message[];
  metadata: Metadata;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds. */
  updatedAt: number;
  /** The session's window and transcript settings; absent when all are the defaults. */
  settings?: SessionSettings;
}

export interface SessionSummary {
  sessionId: string;
  agentType: string;
  lastMessage: string;
  updatedAt: number;
}

/** The optional third argument of listSessions: keyset pagination and a filter. */
export interface ListOptions {
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  agentType?: string;
}

/** A page of summaries; `nextCursor` is absent on the last page. */
export interface SessionPage {
  sessions: SessionSummary[];
  nextCursor?: string;
}

/** One message of a transcript and the version that brought it in. */
export interface TranscriptEntry {
  version: number;
  message: Message;
}

/** A page of a transcript, oldest first; `nextCursor` is absent on the last page (for now: it is append-only). */
export interface TranscriptPage {
  entries: TranscriptEntry[];
  nextCursor?: string;
}

export interface TranscriptOptions {
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** Entries per page: 1..500, default 100. */
  limit?: number;
}

/** Result of an applied command: the context after it and its version. */
export interface CommandResult {
  context: ConversationContext;
  version: number;
}

/** What `commit` answers: the version a command left the session at, without the session. */
export interface CommandVersion {
  version: number;
}

// ---- wire form -------------------------------------------------------------------------------------

export interface WireMessage {
  role: Role;
  content: string;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  extra?: Record<string, unknown>;
}

export interface WireSettings {
  window_messages?: number;
  window_bytes?: number;
  transcript?: boolean;
}

export interface WireContext {
  session_id: string;
  user_id: number;
  agent_type: string;
  messages: WireMessage[];
  metadata: Metadata;
  created_at: number;
  updated_at: number;
  /** Absent when every setting is the default. */
  settings?: WireSettings;
}

export interface WireSummary {
  session_id: string;
  agent_type: string;
  last_message: string;
  updated_at: number;
}

export function toWireContext(c: ConversationContext): WireContext {
  const settings = c.settings && toWireSettings(c.settings);
  return {
    session_id: c.sessionId,
    user_id: c.userId,
    agent_type: c.agentType,
    messages: c.messages.map(toWireMessage),
    metadata: { ...c.metadata },
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    ...(settings ? { settings } : {}),
  };
}

export function fromWireContext(w: WireContext): ConversationContext {
  const settings = w.settings && fromWireSettings(w.settings);
  return {
    sessionId: w.session_id,
    userId: w.user_id,
    agentType: w.agent_type ?? '',
    messages: (w.messages ?? []).map(fromWireMessage),
    metadata: { ...(w.metadata ?? {}) },
    createdAt: w.created_at,
    updatedAt: w.updated_at,
    ...(settings ? { settings } : {}),
  };
}

/** A message in the wire form (snake_case); optional fields only when set. Always a copy. */
export function toWireMessage(m: Message): WireMessage {
  const w: WireMessage = { role: m.role, content: m.content };
  if (m.name !== undefined) w.name = m.name;
  if (m.toolCalls !== undefined) w.tool_calls = m.toolCalls.map(copyToolCall);
  if (m.toolCallId !== undefined) w.tool_call_id = m.toolCallId;
  if (m.extra !== undefined) w.extra = copyJsonValue(m.extra);
  return w;
}

/** The other direction; raw fields are passed on untouched, so validation (not this) reports a bad one. */
export function fromWireMessage(w: WireMessage): Message {
  const m: Message = { role: w?.role, content: w?.content };
  if (w?.name !== undefined) m.name = w.name;
  if (w?.tool_calls !== undefined)
    m.toolCalls = Array.isArray(w.tool_calls) ? w.tool_calls.map(copyToolCall) : w.tool_calls;
  if (w?.tool_call_id !== undefined) m.toolCallId = w.tool_call_id;
  if (w?.extra !== undefined) m.extra = copyJsonValue(w.extra);
  return m;
}

/** A deep copy of objects and arrays; every other value as it is (so validation still sees a bad one). */
function copyJsonValue<T>(value: T): T {
  if (Array.isArray(value)) return value.map(copyJsonValue) as T;
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.prototype.toString.call(value) !== '[object Object]'
  )
    return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyJsonValue(v)])) as T;
}

/** Settings with only the fields that are set, or undefined when none is. */
export function toWireSettings(s: SessionSettings): WireSettings | undefined {
  const w: WireSettings = {};
  if (s.windowMessages !== undefined) w.window_messages = s.windowMessages;
  if (s.windowBytes !== undefined) w.window_bytes = s.windowBytes;
  if (s.transcript !== undefined) w.transcript = s.transcript;
  return Object.keys(w).length > 0 ? w : undefined;
}

export function fromWireSettings(w: WireSettings): SessionSettings | undefined {
  const s: SessionSettings = {};
  if (w?.window_messages !== undefined) s.windowMessages = w.window_messages;
  if (w?.window_bytes !== undefined) s.windowBytes = w.window_bytes;
  if (w?.transcript !== undefined) s.transcript = w.transcript;
  return Object.keys(s).length > 0 ? s : undefined;
}

/** A tool call copied field by field (a malformed one is copied as it is, for validation to refuse). */
function copyToolCall(call: ToolCall): ToolCall {
  if (typeof call !== 'object' || call === null) return call;
  const fn = call.function;
  return {
    id: call.id,
    type: call.type,
    function:
      typeof fn === 'object' && fn !== null ? { name: fn.name, arguments: fn.arguments } : (fn as never),
  };
}

/** A message copied field by field: the copy shares nothing with the original. */
export function copyMessage(m: Message): Message {
  return fromWireMessage(toWireMessage(m));
}

export function toWireSummary(s: SessionSummary): WireSummary {
  return {
    session_id: s.sessionId,
    agent_type: s.agentType,
    last_message: s.lastMessage,
    updated_at: s.updatedAt,
  };
}

/** A deep copy: callers never share arrays or maps with a service's state. */
export function copyContext(c: ConversationContext): ConversationContext {
  const copy: ConversationContext = {
    ...c,
    messages: c.messages.map(copyMessage),
    metadata: structuredCloneJson(c.metadata),
  };
  if (c.settings) copy.settings = { ...c.settings };
  return copy;
}

function structuredCloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
