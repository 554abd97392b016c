// The rules of a session, once: validate a command and apply it to a snapshot (window, turn, clear, metadata, save).
// Pure and deterministic; the session actor, InMemorySessionService and the client-side validation all call it.
import { SessionConflictError, SessionNotFoundError, ValidationError } from './errors';
import {
  ConversationContext,
  LIMITS,
  MAX_MESSAGES_PER_SESSION,
  Message,
  Metadata,
  ROLES,
  Role,
} from './types';

/**
 * One change to a session. `expectedUserId`, when set, is the owner the caller acts for: the command is refused
 * (SessionConflictError) when the session belongs to someone else, checked where the command is applied, so no
 * other command can come between the check and the change.
 */
export type SessionCommand = (
  | { type: 'save'; context: ConversationContext }
  | { type: 'recover'; userId: number; agentType?: string }
  | { type: 'appendMessage'; message: Message }
  | { type: 'appendTurn'; user: string; assistant: string; agentType?: string }
  | { type: 'clearMessages' }
  | { type: 'updateMetadata'; patch: Metadata }
) & { expectedUserId?: number };

export type CommandType = SessionCommand['type'];

/** A session's state as the actor keeps it and Postgres stores it. */
export interface SessionSnapshot {
  context: ConversationContext;
  version: number;
}

export interface ApplyResult {
  snapshot: SessionSnapshot;
  /** False when the command left the session as it was (recover of an existing session). */
  changed: boolean;
}

const SESSION_ID = /^[A-Za-z0-9._:-]+$/;
const AGENT_TYPE = /^[A-Za-z0-9._-]*$/;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

export function nowSeconds(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

export function validateSessionId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0)
    throw new ValidationError('session_id', 'must be a non-empty string');
  if (id.length > LIMITS.sessionIdMaxLength)
    throw new ValidationError('session_id', `must be at most ${LIMITS.sessionIdMaxLength} characters`);
  if (!SESSION_ID.test(id)) throw new ValidationError('session_id', 'may only contain A-Z a-z 0-9 . _ : -');
}

export function validateUserId(userId: unknown): asserts userId is number {
  if (typeof userId !== 'number' || !Number.isInteger(userId) || userId < INT32_MIN || userId > INT32_MAX)
    throw new ValidationError('user_id', 'must be a 32-bit integer');
}

export function validateAgentType(agentType: unknown): asserts agentType is string {
  if (typeof agentType !== 'string') throw new ValidationError('agent_type', 'must be a string');
  if (agentType.length > LIMITS.agentTypeMaxLength)
    throw new ValidationError('agent_type', `must be at most ${LIMITS.agentTypeMaxLength} characters`);
  if (!AGENT_TYPE.test(agentType))
    throw new ValidationError('agent_type', 'may only contain A-Z a-z 0-9 . _ -');
}

export function validateTurnId(turnId: unknown): asserts turnId is string {
  if (typeof turnId !== 'string' || turnId.length === 0 || turnId.length > LIMITS.turnIdMaxLength)
    throw new ValidationError('turn_id', `must be 1..${LIMITS.turnIdMaxLength} characters`);
}

export function validateContent(field: string, content: unknown): asserts content is string {
  if (typeof content !== 'string') throw new ValidationError(field, 'must be a string');
  if (content.length === 0) throw new ValidationError(field, 'must not be empty');
  // Postgres jsonb cannot store U+0000 or a lone UTF-16 surrogate; refusing them here keeps a snapshot write
  // from failing forever after the command was acknowledged.
  if (!storableText(content))
    throw new ValidationError(field, 'must be valid Unicode without the NUL character');
  if (utf8Length(content) > LIMITS.messageContentMaxBytes)
    throw new ValidationError(field, `must be at most ${LIMITS.messageContentMaxBytes} bytes`);
}

export function validateMessage(field: string, message: unknown): asserts message is Message {
  if (!isPlainObject(message)) throw new ValidationError(field, 'must be an object {role, content}');
  if (!ROLES.includes(message.role as Role))
    throw new ValidationError(`${field}.role`, `must be one of ${ROLES.join(', ')}`);
  validateContent(`${field}.content`, message.content);
}

export function validateMetadata(field: string, metadata: unknown): asserts metadata is Metadata {
  if (!isPlainObject(metadata)) throw new ValidationError(field, 'must be a JSON object');
  for (const key of Object.keys(metadata)) {
    if (key.length === 0 || key.length > LIMITS.metadataKeyMaxLength)
      throw new ValidationError(field, `keys must be 1..${LIMITS.metadataKeyMaxLength} characters`);
    if (metadata[key] === undefined) throw new ValidationError(`${field}.${key}`, 'must be a JSON value');
  }
  // Every value must survive JSON and jsonb unchanged: JSON.stringify would turn NaN into null silently.
  const problem = jsonProblem(metadata, 0);
  if (problem) throw new ValidationError(field, problem);
  const json = JSON.stringify(metadata);
  if (utf8Length(json) > LIMITS.metadataMaxBytes)
    throw new ValidationError(field, `must be at most ${LIMITS.metadataMaxBytes} bytes as JSON`);
}

/** Unix seconds Postgres (bigint) and JSON numbers both hold exactly; 0 means "not set" where a field allows it. */
export function validateUnixSeconds(field: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > LIMITS.maxUnixSeconds)
    throw new ValidationError(field, `must be an integer of Unix seconds, 0..${LIMITS.maxUnixSeconds}`);
}

/** Checks a command's own input (no state needed). Throws ValidationError. */
export function validateCommand(command: SessionCommand): void {
  if (!isPlainObject(command)) throw new ValidationError('command', 'must be an object');
  if (command.expectedUserId !== undefined) {
    try {
      validateUserId(command.expectedUserId);
    } catch {
      throw new ValidationError('expected_user_id', 'must be a 32-bit integer');
    }
  }
  validateCommandBody(command);
}

function validateCommandBody(command: SessionCommand): void {
  switch (command.type) {
    case 'save': {
      const c = command.context;
      if (!isPlainObject(c)) throw new ValidationError('context', 'must be an object');
      validateUserId(c.userId);
      validateAgentType(c.agentType ?? '');
      if (!Array.isArray(c.messages ?? [])) throw new ValidationError('messages', 'must be an array');
      (c.messages ?? []).forEach((m, i) => validateMessage(`messages[${i}]`, m));
      validateMetadata('metadata', c.metadata ?? {});
      if (c.createdAt !== undefined) validateUnixSeconds('created_at', c.createdAt);
      return;
    }
    case 'recover':
      validateUserId(command.userId);
      if (command.agentType !== undefined) validateAgentType(command.agentType);
      return;
    case 'appendMessage':
      validateMessage('message', command.message);
      return;
    case 'appendTurn':
      validateContent('user', command.user);
      validateContent('assistant', command.assistant);
      if (command.agentType !== undefined) validateAgentType(command.agentType);
      return;
    case 'clearMessages':
      return;
    case 'updateMetadata':
      validateMetadata('metadata', command.patch);
      if (Object.keys(command.patch).length === 0)
        throw new ValidationError('metadata', 'must set at least one key');
      return;
    default:
      throw new ValidationError(
        'command',
        `unknown command ${(command as { type?: unknown }).type as string}`,
      );
  }
}

/**
 * Applies a valid command to a session (or to none, for save and recover) at `now` (Unix seconds).
 * Never mutates `prev`. Throws SessionNotFoundError, SessionConflictError or ValidationError and changes nothing.
 */
export function applyCommand(
  sessionId: string,
  prev: SessionSnapshot | null,
  command: SessionCommand,
  now: number,
  /** The version a new session starts after: a deleted session's last version, so versions never go back. */
  baseVersion = 0,
): ApplyResult {
  const version = (prev?.version ?? baseVersion) + 1;
  if (prev && command.expectedUserId !== undefined && prev.context.userId !== command.expectedUserId)
    throw new SessionConflictError(sessionId);
  switch (command.type) {
    case 'save': {
      const c = command.context;
      if (prev && prev.context.userId !== c.userId) throw new SessionConflictError(sessionId);
      const context: ConversationContext = {
        sessionId,
        userId: c.userId,
        agentType: c.agentType ?? '',
        messages: applyWindow((c.messages ?? []).map(copyMessage)),
        metadata: cloneJson(c.metadata ?? {}),
        // Like the reference's upsert, an existing session keeps its creation time.
        createdAt: prev ? prev.context.createdAt : c.createdAt ? c.createdAt : now,
        updatedAt: now,
      };
      return { snapshot: { context, version }, changed: true };
    }
    case 'recover': {
      if (prev) {
        if (prev.context.userId !== command.userId) throw new SessionConflictError(sessionId);
        return { snapshot: prev, changed: false };
      }
      const context: ConversationContext = {
        sessionId,
        userId: command.userId,
        agentType: command.agentType ?? '',
        messages: [],
        metadata: {},
        createdAt: now,
        updatedAt: now,
      };
      return { snapshot: { context, version }, changed: true };
    }
    default:
      break;
  }
  if (!prev) throw new SessionNotFoundError(sessionId);
  const base = prev.context;
  const next: ConversationContext = {
    ...base,
    messages: base.messages,
    metadata: base.metadata,
    updatedAt: now,
  };
  switch (command.type) {
    case 'appendMessage':
      next.messages = applyWindow([...base.messages, copyMessage(command.message)]);
      break;
    case 'appendTurn':
      next.messages = applyWindow([
        ...base.messages,
        { role: 'user', content: command.user },
        { role: 'assistant', content: command.assistant },
      ]);
      if (command.agentType) next.agentType = command.agentType;
      break;
    case 'clearMessages':
      next.messages = [];
      break;
    case 'updateMetadata': {
      const metadata = { ...base.metadata, ...cloneJson(command.patch) };
      validateMetadata('metadata', metadata);
      next.metadata = metadata;
      break;
    }
  }
  return { snapshot: { context: next, version }, changed: true };
}

/** Keeps the last MAX_MESSAGES_PER_SESSION messages, in order. */
export function applyWindow(messages: Message[]): Message[] {
  return messages.length > MAX_MESSAGES_PER_SESSION ? messages.slice(-MAX_MESSAGES_PER_SESSION) : messages;
}

/** The reference's GetRecentMessages: n <= 0 or n >= length gives all; always a fresh array. */
export function recentMessages(messages: Message[], n: number): Message[] {
  const picked = n > 0 && n < messages.length ? messages.slice(-n) : messages;
  return picked.map(copyMessage);
}

/** The reference's LastMessage: content of the last message whatever its role, '' when none. */
export function lastMessage(messages: Message[]): string {
  return messages.length > 0 ? messages[messages.length - 1].content : '';
}

/** listSessions' limit: non-positive means the default; capped. */
export function normaliseLimit(limit: unknown): number {
  if (limit === undefined || limit === null) return LIMITS.listDefaultLimit;
  if (typeof limit !== 'number' || !Number.isInteger(limit))
    throw new ValidationError('limit', 'must be an integer');
  if (limit <= 0) return LIMITS.listDefaultLimit;
  return Math.min(limit, LIMITS.listMaxLimit);
}

export function validateRetentionDays(days: unknown): asserts days is number {
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 0)
    throw new ValidationError('retention_days', 'must be a non-negative integer');
}

/** Sessions with updatedAt strictly less than this are expired. */
export function expiryCutoff(nowMs: number, retentionDays: number): number {
  return nowSeconds(nowMs) - retentionDays * 86400;
}

export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Text Postgres jsonb accepts: no NUL, no lone surrogate (well-formed UTF-16). */
export function storableText(s: string): boolean {
  return !s.includes('\u0000') && !LONE_SURROGATE.test(s);
}

/** Why a metadata value would not survive JSON and jsonb unchanged, or null when it would. */
function jsonProblem(value: unknown, depth: number): string | null {
  if (depth > LIMITS.metadataMaxDepth) return `must nest at most ${LIMITS.metadataMaxDepth} levels deep`;
  switch (typeof value) {
    case 'string':
      return storableText(value) ? null : 'must be valid Unicode without the NUL character';
    case 'number':
      return Number.isFinite(value) ? null : 'numbers must be finite (JSON has no NaN or Infinity)';
    case 'boolean':
      return null;
    case 'object': {
      if (value === null) return null;
      if (Array.isArray(value)) {
        for (const v of value) {
          const p = jsonProblem(v, depth + 1);
          if (p) return p;
        }
        return null;
      }
      // A Date, Map or class instance would reach JSON as something else (toString works across realms).
      if (Object.prototype.toString.call(value) !== '[object Object]')
        return 'must be plain JSON (objects, arrays, strings, numbers, booleans, null)';
      for (const [k, v] of Object.entries(value)) {
        if (!storableText(k)) return 'must be valid Unicode without the NUL character';
        const p = jsonProblem(v, depth + 1);
        if (p) return p;
      }
      return null;
    }
    default:
      return 'must be serialisable as JSON';
  }
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function copyMessage(m: Message): Message {
  return { role: m.role, content: m.content };
}

function cloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
