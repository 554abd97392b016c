// The domain types of durable-sessions and their JSON wire form (the reference's snake_case names).
// Pure: imported by the workflow bundle, the library and the HTTP layer alike.
//
// Terminology
// - session: one conversation of one user with an agent, named by an opaque `sessionId`.
// - message: one utterance `{role, content}`; a *turn* is a user message followed by the assistant's reply.
// - window: the last MAX_MESSAGES_PER_SESSION messages a session keeps; older ones fall off the front.
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
  metadataMaxBytes: 64 * 1024,
  metadataKeyMaxLength: 128,
  listDefaultLimit: 20,
  listMaxLimit: 200,
  turnIdMaxLength: 128,
  /** Nesting of metadata values: jsonb and every JSON parser on the way have a stack to protect. */
  metadataMaxDepth: 32,
  /** Unix seconds a session may carry: 9999-12-31T23:59:59Z, far inside Postgres bigint and JS integers. */
  maxUnixSeconds: 253402300799,
} as const;

export type Role = 'user' | 'assistant' | 'system';
export const ROLES: readonly Role[] = ['user', 'assistant', 'system'];

export interface Message {
  role: Role;
  content: string;
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

/** Result of an applied command: the context after it and its version. */
export interface CommandResult {
  context: ConversationContext;
  version: number;
}

// ---- wire form -------------------------------------------------------------------------------------

export interface WireMessage {
  role: Role;
  content: string;
}

export interface WireContext {
  session_id: string;
  user_id: number;
  agent_type: string;
  messages: WireMessage[];
  metadata: Metadata;
  created_at: number;
  updated_at: number;
}

export interface WireSummary {
  session_id: string;
  agent_type: string;
  last_message: string;
  updated_at: number;
}

export function toWireContext(c: ConversationContext): WireContext {
  return {
    session_id: c.sessionId,
    user_id: c.userId,
    agent_type: c.agentType,
    messages: c.messages.map((m) => ({ role: m.role, content: m.content })),
    metadata: { ...c.metadata },
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export function fromWireContext(w: WireContext): ConversationContext {
  return {
    sessionId: w.session_id,
    userId: w.user_id,
    agentType: w.agent_type ?? '',
    messages: (w.messages ?? []).map((m) => ({ role: m.role, content: m.content })),
    metadata: { ...(w.metadata ?? {}) },
    createdAt: w.created_at,
    updatedAt: w.updated_at,
  };
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
  return {
    ...c,
    messages: c.messages.map((m) => ({ ...m })),
    metadata: structuredCloneJson(c.metadata),
  };
}

function structuredCloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
