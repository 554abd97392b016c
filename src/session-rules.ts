// The rules of a session, once: validate a command and apply it to a snapshot (window, turn, step, clear, metadata,
// settings, save, fork). Pure and deterministic; the session actor, both stores and client-side validation call it.
import {
  SessionConflictError,
  SessionExistsError,
  SessionNotFoundError,
  ValidationError,
  VersionMismatchError,
} from './errors';
import { cloneJson, isPlainObject, jsonProblem, storableText, utf8Length } from './json-bounds';
import {
  ConversationContext,
  LIMITS,
  MAX_MESSAGES_PER_SESSION,
  Message,
  Metadata,
  ROLES,
  Role,
  SessionSettings,
  ToolCall,
  copyMessage,
} from './types';

export { storableText, utf8Length } from './json-bounds';

/**
 * One change to a session. `expectedUserId`, when set, is the owner the caller acts for: the command is refused
 * (SessionConflictError) when the session belongs to someone else, checked where the command is applied, so no
 * other command can come between the check and the change. `expectedVersion`, when set, is the version the caller
 * read: the command is refused (VersionMismatchError) when the session is at another one (0: no session), checked
 * in the same place, so a read-modify-write such as removing the last message cannot drop a write that came between.
 */
export type SessionCommand = (
  | { type: 'save'; context: ConversationContext }
  | { type: 'recover'; userId: number; agentType?: string; settings?: SessionSettings }
  | { type: 'appendMessage'; message: Message }
  | { type: 'appendTurn'; user: string; assistant: string; agentType?: string }
  /** One agent step: user, assistant with tool calls, tool results, answer — one command, one version. */
  | { type: 'appendMessages'; messages: Message[]; agentType?: string }
  | { type: 'clearMessages' }
  | { type: 'updateMetadata'; patch: Metadata }
  /** Replaces the session's settings (absent fields: the defaults) and applies its window at once. */
  | { type: 'configure'; settings: SessionSettings }
  /** Creates the session as a copy of another one's state (`context`, read at `from.version`); never overwrites. */
  | { type: 'fork'; from: { sessionId: string; version: number }; context: ConversationContext }
) & { expectedUserId?: number; expectedVersion?: number };

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
  /** Messages that enter the session's transcript with this version, in order (only when it keeps one). */
  transcribed?: Message[];
}

const SESSION_ID = /^[A-Za-z0-9._:-]+$/;
const AGENT_TYPE = /^[A-Za-z0-9._-]*$/;
/** Message names and function names: the OpenAI API's characters, plus `.` and `:` (namespaced tools). */
const NAME = /^[A-Za-z0-9_.:-]+$/;
/** Tool call ids are the model provider's: any visible ASCII. */
const TOOL_CALL_ID = /^[\x21-\x7e]+$/;
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

/** Text a session stores: a string of at most `maxBytes` UTF-8 bytes that jsonb keeps, non-empty unless allowed. */
function validateText(field: string, text: unknown, maxBytes: number, mayBeEmpty: boolean): void {
  if (typeof text !== 'string') throw new ValidationError(field, 'must be a string');
  if (text.length === 0 && !mayBeEmpty) throw new ValidationError(field, 'must not be empty');
  // Postgres jsonb cannot store U+0000 or a lone UTF-16 surrogate; refusing them here keeps a snapshot write
  // from failing forever after the command was acknowledged.
  if (!storableText(text))
    throw new ValidationError(field, 'must be valid Unicode without the NUL character');
  if (utf8Length(text) > maxBytes) throw new ValidationError(field, `must be at most ${maxBytes} bytes`);
}

export function validateContent(field: string, content: unknown): asserts content is string {
  validateText(field, content, LIMITS.messageContentMaxBytes, false);
}

function validateName(field: string, name: unknown): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > LIMITS.nameMaxLength || !NAME.test(name))
    throw new ValidationError(field, `must be 1..${LIMITS.nameMaxLength} of A-Z a-z 0-9 _ . : -`);
}

function validateToolCallId(field: string, id: unknown): asserts id is string {
  if (
    typeof id !== 'string' ||
    id.length === 0 ||
    id.length > LIMITS.toolCallIdMaxLength ||
    !TOOL_CALL_ID.test(id)
  )
    throw new ValidationError(field, `must be 1..${LIMITS.toolCallIdMaxLength} visible ASCII characters`);
}

function validateToolCall(field: string, call: unknown): asserts call is ToolCall {
  if (!isPlainObject(call)) throw new ValidationError(field, 'must be an object {id, type, function}');
  validateToolCallId(`${field}.id`, call.id);
  if (call.type !== 'function') throw new ValidationError(`${field}.type`, 'must be "function"');
  const fn = call.function;
  if (!isPlainObject(fn))
    throw new ValidationError(`${field}.function`, 'must be an object {name, arguments}');
  validateName(`${field}.function.name`, fn.name);
  validateText(`${field}.function.arguments`, fn.arguments, LIMITS.toolArgumentsMaxBytes, true);
}

/**
 * A message on its own (the OpenAI chat shape): role, content, optional name; tool calls only on an assistant
 * message (ids unique in it); a tool message names the call it answers. Whether that call exists is checked where
 * the message is added (checkToolPairing).
 */
export function validateMessage(field: string, message: unknown): asserts message is Message {
  if (!isPlainObject(message)) throw new ValidationError(field, 'must be an object {role, content}');
  const m = message as Partial<Message>;
  if (!ROLES.includes(m.role as Role))
    throw new ValidationError(`${field}.role`, `must be one of ${ROLES.join(', ')}`);
  // OpenAI sends no text with tool calls (null there; "" here) and tools may return nothing.
  const mayBeEmpty = m.role === 'tool' || (m.role === 'assistant' && m.toolCalls !== undefined);
  validateText(`${field}.content`, m.content, LIMITS.messageContentMaxBytes, mayBeEmpty);
  if (m.name !== undefined) validateName(`${field}.name`, m.name);
  if (m.toolCalls !== undefined) {
    if (m.role !== 'assistant')
      throw new ValidationError(`${field}.tool_calls`, 'only an assistant message carries tool calls');
    const calls: unknown = m.toolCalls;
    if (!Array.isArray(calls) || calls.length === 0 || calls.length > LIMITS.toolCallsPerMessage)
      throw new ValidationError(`${field}.tool_calls`, `must be 1..${LIMITS.toolCallsPerMessage} tool calls`);
    const ids = new Set<string>();
    calls.forEach((call: unknown, i) => {
      validateToolCall(`${field}.tool_calls[${i}]`, call);
      if (ids.has(call.id)) throw new ValidationError(`${field}.tool_calls[${i}].id`, 'is used twice');
      ids.add(call.id);
    });
  }
  if (m.role === 'tool') validateToolCallId(`${field}.tool_call_id`, m.toolCallId);
  else if (m.toolCallId !== undefined)
    throw new ValidationError(`${field}.tool_call_id`, 'only a tool message answers a tool call');
  if (m.extra !== undefined) validateExtra(`${field}.extra`, m.extra);
}

/** A message's `extra`: a plain JSON object that jsonb keeps unchanged, at most messageExtraMaxBytes. */
function validateExtra(field: string, extra: unknown): void {
  if (!isPlainObject(extra) || Object.prototype.toString.call(extra) !== '[object Object]')
    throw new ValidationError(field, 'must be a JSON object');
  const problem = jsonProblem(extra, 1);
  if (problem) throw new ValidationError(field, problem);
  if (utf8Length(JSON.stringify(extra)) > LIMITS.messageExtraMaxBytes)
    throw new ValidationError(field, `must be at most ${LIMITS.messageExtraMaxBytes} bytes as JSON`);
}

/** What a message costs a byte budget: its content, its tool calls' arguments and its `extra` (JSON), as UTF-8. */
export function messageBytes(m: Message): number {
  let bytes = utf8Length(m.content);
  for (const call of m.toolCalls ?? []) bytes += utf8Length(call.function.arguments);
  if (m.extra !== undefined) bytes += utf8Length(JSON.stringify(m.extra));
  return bytes;
}

/**
 * Tool messages added after `window` must each answer a call in the window or earlier in `incoming`, once; a new
 * call may not reuse the id of a call in the window. `field(i)` names the i-th incoming message in errors.
 */
export function checkToolPairing(window: Message[], incoming: Message[], field: (i: number) => string): void {
  const calls = new Set<string>();
  const answered = new Set<string>();
  const add = (m: Message, i?: number): void => {
    (m.toolCalls ?? []).forEach((call, j) => {
      if (i !== undefined && calls.has(call.id))
        throw new ValidationError(`${field(i)}.tool_calls[${j}].id`, 'is the id of a tool call already made');
      calls.add(call.id);
    });
    if (m.role !== 'tool') return;
    const id = m.toolCallId as string;
    if (i !== undefined && !calls.has(id))
      throw new ValidationError(
        `${field(i)}.tool_call_id`,
        'answers no tool call in the window or earlier in this command',
      );
    if (i !== undefined && answered.has(id))
      throw new ValidationError(
        `${field(i)}.tool_call_id`,
        'answers a tool call that already has its result',
      );
    answered.add(id);
  };
  for (const m of window) add(m);
  incoming.forEach((m, i) => add(m, i));
}

export function validateSettings(field: string, settings: unknown): asserts settings is SessionSettings {
  if (!isPlainObject(settings)) throw new ValidationError(field, 'must be an object');
  const s = settings as SessionSettings;
  const isInt = (v: unknown, max: number) =>
    typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
  if (s.windowMessages !== undefined && !isInt(s.windowMessages, LIMITS.windowMaxMessages))
    throw new ValidationError(
      `${field}.window_messages`,
      `must be an integer 1..${LIMITS.windowMaxMessages}`,
    );
  if (s.windowBytes !== undefined && !isInt(s.windowBytes, LIMITS.windowMaxBytes))
    throw new ValidationError(`${field}.window_bytes`, `must be an integer 1..${LIMITS.windowMaxBytes}`);
  if (s.transcript !== undefined && typeof s.transcript !== 'boolean')
    throw new ValidationError(`${field}.transcript`, 'must be true or false');
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
  if (
    command.expectedVersion !== undefined &&
    !(Number.isSafeInteger(command.expectedVersion) && command.expectedVersion >= 0)
  )
    throw new ValidationError('expected_version', 'must be an integer of at least 0');
  validateCommandBody(command);
}

/** A whole session as save and fork carry it; its messages must pair up on their own. */
function validateWholeContext(c: unknown): asserts c is ConversationContext {
  if (!isPlainObject(c)) throw new ValidationError('context', 'must be an object');
  const ctx = c as Partial<ConversationContext>;
  validateUserId(ctx.userId);
  validateAgentType(ctx.agentType ?? '');
  const messages: unknown = ctx.messages ?? [];
  if (!Array.isArray(messages)) throw new ValidationError('messages', 'must be an array');
  messages.forEach((m, i) => validateMessage(`messages[${i}]`, m));
  checkToolPairing([], messages as Message[], (i) => `messages[${i}]`);
  validateMetadata('metadata', ctx.metadata ?? {});
  if (ctx.createdAt !== undefined) validateUnixSeconds('created_at', ctx.createdAt);
  if (ctx.settings !== undefined) validateSettings('settings', ctx.settings);
}

function validateCommandBody(command: SessionCommand): void {
  switch (command.type) {
    case 'save':
      validateWholeContext(command.context);
      return;
    case 'recover':
      validateUserId(command.userId);
      if (command.agentType !== undefined) validateAgentType(command.agentType);
      if (command.settings !== undefined) validateSettings('settings', command.settings);
      return;
    case 'appendMessage':
      validateMessage('message', command.message);
      return;
    case 'appendTurn':
      validateContent('user', command.user);
      validateContent('assistant', command.assistant);
      if (command.agentType !== undefined) validateAgentType(command.agentType);
      return;
    case 'appendMessages': {
      const messages: unknown = command.messages;
      if (!Array.isArray(messages) || messages.length === 0 || messages.length > LIMITS.stepMaxMessages)
        throw new ValidationError('messages', `must be an array of 1..${LIMITS.stepMaxMessages} messages`);
      messages.forEach((m, i) => validateMessage(`messages[${i}]`, m));
      const bytes = (messages as Message[]).reduce((sum, m) => sum + messageBytes(m), 0);
      if (bytes > LIMITS.stepMaxBytes)
        throw new ValidationError(
          'messages',
          `must hold at most ${LIMITS.stepMaxBytes} bytes of text in all`,
        );
      if (command.agentType !== undefined) validateAgentType(command.agentType);
      return;
    }
    case 'clearMessages':
      return;
    case 'updateMetadata':
      validateMetadata('metadata', command.patch);
      if (Object.keys(command.patch).length === 0)
        throw new ValidationError('metadata', 'must set at least one key');
      return;
    case 'configure':
      validateSettings('settings', command.settings);
      return;
    case 'fork':
      if (!isPlainObject(command.from)) throw new ValidationError('from', 'must be an object');
      validateSessionId(command.from.sessionId);
      if (!Number.isSafeInteger(command.from.version) || command.from.version < 1)
        throw new ValidationError('from.version', 'must be a positive integer');
      validateWholeContext(command.context);
      return;
    default:
      throw new ValidationError(
        'command',
        `unknown command ${(command as { type?: unknown }).type as string}`,
      );
  }
}

/**
 * Applies a valid command to a session (or to none, for save, recover and fork) at `now` (Unix seconds).
 * Never mutates `prev`. Throws SessionNotFoundError, SessionConflictError, SessionExistsError, VersionMismatchError or ValidationError
 * and changes nothing.
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
  if (command.expectedVersion !== undefined && (prev?.version ?? 0) !== command.expectedVersion) {
    // The session the caller read is gone (deleted or expired): that is "not found", not a race to retry.
    if (!prev) throw new SessionNotFoundError(sessionId);
    throw new VersionMismatchError(sessionId, command.expectedVersion, prev.version);
  }
  const created = (context: ConversationContext): ApplyResult =>
    withTranscript(null, { snapshot: { context, version }, changed: true }, []);
  switch (command.type) {
    case 'save': {
      const c = command.context;
      if (prev && prev.context.userId !== c.userId) throw new SessionConflictError(sessionId);
      const settings = normaliseSettings(c.settings);
      const context: ConversationContext = {
        sessionId,
        userId: c.userId,
        agentType: c.agentType ?? '',
        messages: applyWindow((c.messages ?? []).map(copyMessage), settings),
        metadata: cloneJson(c.metadata ?? {}),
        // Like the reference's upsert, an existing session keeps its creation time.
        createdAt: prev ? prev.context.createdAt : c.createdAt ? c.createdAt : now,
        updatedAt: now,
        ...(settings ? { settings } : {}),
      };
      const result = { snapshot: { context, version }, changed: true };
      return withTranscript(prev, result, enteredBySave(prev?.context.messages ?? null, context.messages));
    }
    case 'recover': {
      if (prev) {
        if (prev.context.userId !== command.userId) throw new SessionConflictError(sessionId);
        return { snapshot: prev, changed: false };
      }
      const settings = normaliseSettings(command.settings);
      return created({
        sessionId,
        userId: command.userId,
        agentType: command.agentType ?? '',
        messages: [],
        metadata: {},
        createdAt: now,
        updatedAt: now,
        ...(settings ? { settings } : {}),
      });
    }
    case 'fork': {
      if (prev) throw new SessionExistsError(sessionId);
      const c = command.context;
      const settings = normaliseSettings(c.settings);
      return created({
        sessionId,
        userId: c.userId,
        agentType: c.agentType ?? '',
        messages: applyWindow((c.messages ?? []).map(copyMessage), settings),
        metadata: cloneJson(c.metadata ?? {}),
        createdAt: now,
        updatedAt: now,
        ...(settings ? { settings } : {}),
      });
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
  const append = (field: (i: number) => string, added: Message[]): Message[] => {
    checkToolPairing(base.messages, added, field);
    const copies = added.map(copyMessage);
    next.messages = applyWindow([...base.messages, ...copies], base.settings);
    return copies;
  };
  let entered: Message[] = [];
  switch (command.type) {
    case 'appendMessage':
      entered = append(() => 'message', [command.message]);
      break;
    case 'appendTurn':
      entered = append(
        (i) => (i === 0 ? 'user' : 'assistant'),
        [
          { role: 'user', content: command.user },
          { role: 'assistant', content: command.assistant },
        ],
      );
      if (command.agentType) next.agentType = command.agentType;
      break;
    case 'appendMessages':
      entered = append((i) => `messages[${i}]`, command.messages);
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
    case 'configure': {
      const settings = normaliseSettings(command.settings);
      if (settings) next.settings = settings;
      else delete next.settings;
      next.messages = applyWindow(base.messages, settings);
      break;
    }
  }
  return withTranscript(prev, { snapshot: { context: next, version }, changed: true }, entered);
}

/** Adds the transcribed messages when the session keeps a transcript (a session that just began one: its window). */
function withTranscript(prev: SessionSnapshot | null, result: ApplyResult, entered: Message[]): ApplyResult {
  const context = result.snapshot.context;
  if (!context.settings?.transcript) return result;
  // A session that begins its transcript here (created with it, or turned on) starts it with its whole window.
  const transcribed = prev?.context.settings?.transcript ? entered : context.messages;
  return transcribed.length > 0 ? { ...result, transcribed: [...transcribed] } : result;
}

/**
 * The messages a save brings into a window: those after the longest run at the front of `next` that repeats the
 * end of `prev` (a client that saves what it loaded plus one message brings in that one message).
 */
export function enteredBySave(prev: Message[] | null, next: Message[]): Message[] {
  if (!prev || prev.length === 0) return next;
  const key = (m: Message) => JSON.stringify([m.role, m.content, m.name, m.toolCalls, m.toolCallId]);
  const old = prev.map(key);
  const now = next.map(key);
  for (let overlap = Math.min(old.length, now.length); overlap > 0; overlap--) {
    let same = true;
    for (let i = 0; i < overlap && same; i++) same = old[old.length - overlap + i] === now[i];
    if (same) return next.slice(overlap);
  }
  return next;
}

/** Settings without absent fields, or undefined when none is set (the defaults need no record). */
export function normaliseSettings(settings: SessionSettings | undefined): SessionSettings | undefined {
  if (!settings) return undefined;
  const out: SessionSettings = {};
  if (settings.windowMessages !== undefined) out.windowMessages = settings.windowMessages;
  if (settings.windowBytes !== undefined) out.windowBytes = settings.windowBytes;
  if (settings.transcript !== undefined) out.transcript = settings.transcript;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The index a window of `messages` starts at: the earliest that keeps at most `maxMessages` messages and
 * `maxBytes` bytes, and does not separate a tool message from the call it answers (nor keep a tool message whose
 * call is not there at all). A group that does not fit is dropped whole; the window may then hold fewer messages.
 */
function windowStart(messages: Message[], maxMessages: number, maxBytes: number): number {
  const n = messages.length;
  const blocked = new Array<boolean>(n + 1).fill(false);
  const callAt = new Map<string, number>();
  messages.forEach((m, i) => {
    for (const call of m.toolCalls ?? []) callAt.set(call.id, i);
    if (m.role !== 'tool') return;
    const k = callAt.get(m.toolCallId ?? '');
    for (let s = k === undefined ? 0 : k + 1; s <= i; s++) blocked[s] = true;
  });
  const suffix = new Array<number>(n + 1).fill(0);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + messageBytes(messages[i]);
  let start = Math.max(0, n - maxMessages);
  while (start < n && (blocked[start] || suffix[start] > maxBytes)) start++;
  return start;
}

/** The window of a session with these settings (20 messages by default); the same array when nothing is dropped. */
export function applyWindow(messages: Message[], settings?: SessionSettings): Message[] {
  const maxMessages = settings?.windowMessages ?? MAX_MESSAGES_PER_SESSION;
  const maxBytes = Math.min(settings?.windowBytes ?? LIMITS.windowMaxBytes, LIMITS.windowMaxBytes);
  const start = windowStart(messages, maxMessages, maxBytes);
  return start === 0 ? messages : messages.slice(start);
}

/**
 * The reference's GetRecentMessages: n <= 0 or n >= length gives all; optionally at most `maxBytes` bytes. A
 * tool-call group is given whole or not at all. Always a fresh array.
 */
export function recentMessages(messages: Message[], n: number, maxBytes = Infinity): Message[] {
  const count = n > 0 && n < messages.length ? n : messages.length;
  return messages.slice(windowStart(messages, count, maxBytes)).map(copyMessage);
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
