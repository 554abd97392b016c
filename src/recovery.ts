// SessionRecovery: the reference's conversation helpers (recover, append, turn, clear, recent, metadata) over a SessionService.
// Used by agent services and the HTTP layer; on a command-capable service each change is one atomic command.
import { type CommandOptions, type SessionService, isCommandCapable } from './service';
import {
  SessionCommand,
  applyCommand,
  nowSeconds,
  recentMessages,
  validateCommand,
  validateSessionId,
  validateTurnId,
} from './session-rules';
import { ValidationError } from './errors';
import {
  type CommandResult,
  type ConversationContext,
  type Message,
  type SessionSettings,
  copyContext,
} from './types';

/** Options of appendMessages: those of every command, and the agent type to record (when non-empty). */
export interface AppendOptions extends CommandOptions {
  agentType?: string;
}

/**
 * The version reported by the read-modify-write path: a plain SessionService keeps no versions,
 * so 0 means "unknown" rather than "first".
 */
export const UNKNOWN_VERSION = 0;

export class SessionRecovery {
  constructor(private readonly service: SessionService) {}

  /**
   * The session if it exists (as is), otherwise a new empty session for `userId`, saved — the reference
   * returned it unsaved, so the next append failed. Another user's session is a SessionConflictError.
   * `settings` (window, transcript) apply to a session this creates.
   */
  async recoverSession(
    sessionId: string,
    userId: number,
    agentType?: string,
    settings?: SessionSettings,
  ): Promise<ConversationContext> {
    const command: SessionCommand = {
      type: 'recover',
      userId,
      ...(agentType === undefined ? {} : { agentType }),
      ...(settings === undefined ? {} : { settings }),
    };
    return (await this.run(sessionId, command)).context;
  }

  /** Appends one message; the window keeps the last MAX_MESSAGES_PER_SESSION. */
  appendMessage(sessionId: string, message: Message, options?: CommandOptions): Promise<CommandResult> {
    return this.run(sessionId, { type: 'appendMessage', message }, options);
  }

  /** Appends a user message and the assistant's reply; sets the agent type only when non-empty. */
  appendTurn(
    sessionId: string,
    userMessage: string,
    assistantMessage: string,
    agentType = '',
    options?: CommandOptions,
  ): Promise<CommandResult> {
    return this.run(
      sessionId,
      { type: 'appendTurn', user: userMessage, assistant: assistantMessage, agentType },
      options,
    );
  }

  /**
   * Appends the messages of one agent step (user, assistant with tool calls, tool results, answer) as one command
   * and one version. A tool message must answer a call in the window or earlier in `messages`; the window keeps a
   * call and its results together.
   */
  appendMessages(
    sessionId: string,
    messages: Message[],
    options: AppendOptions = {},
  ): Promise<CommandResult> {
    const { agentType, ...commandOptions } = options;
    return this.run(
      sessionId,
      { type: 'appendMessages', messages, ...(agentType ? { agentType } : {}) },
      commandOptions,
    );
  }

  /**
   * Replaces the session's settings (absent fields: the defaults): its window (`windowMessages`, `windowBytes`),
   * applied at once, and whether it keeps a transcript.
   */
  configureSession(
    sessionId: string,
    settings: SessionSettings,
    options?: CommandOptions,
  ): Promise<CommandResult> {
    return this.run(sessionId, { type: 'configure', settings }, options);
  }

  /** Empties the messages; metadata and agent type stay. */
  clearMessages(sessionId: string, options?: CommandOptions): Promise<CommandResult> {
    return this.run(sessionId, { type: 'clearMessages' }, options);
  }

  /** Sets one metadata key (other keys stay). */
  updateMetadata(
    sessionId: string,
    key: string,
    value: unknown,
    options?: CommandOptions,
  ): Promise<CommandResult> {
    // A computed key makes even "__proto__" an own property, so it is validated and stored like any other.
    return this.run(sessionId, { type: 'updateMetadata', patch: { [key]: value } }, options);
  }

  /**
   * The last `n` messages (all of them when n <= 0 or n >= their number), as a fresh array;
   * null when the session does not exist, like the reference's (nil, nil). With `maxBytes`, only as many of them as
   * fit that many bytes of content and tool arguments; a tool call and its results come whole or not at all.
   */
  async getRecentMessages(
    sessionId: string,
    n: number,
    options: { maxBytes?: number } = {},
  ): Promise<Message[] | null> {
    validateSessionId(sessionId);
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new ValidationError('n', 'must be an integer');
    const { maxBytes } = options;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 0))
      throw new ValidationError('max_bytes', 'must be a non-negative integer');
    const ctx = await this.service.loadContext(sessionId);
    return ctx ? recentMessages(ctx.messages, n, maxBytes) : null;
  }

  private async run(
    sessionId: string,
    command: SessionCommand,
    options?: CommandOptions,
  ): Promise<CommandResult> {
    // Validate here too, so bad input fails before any round trip and identically on every service.
    validateSessionId(sessionId);
    validateCommand(command);
    if (options?.turnId !== undefined) validateTurnId(options.turnId);
    if (isCommandCapable(this.service)) return this.service.execute(sessionId, command, options);
    return this.readModifyWrite(sessionId, command);
  }

  /**
   * The reference's load → change → save. Two concurrent changes can lose one of them: that is the
   * reference's defect, kept on purpose for services without commands (the benchmark measures it).
   * Turn ids cannot be honoured here; they are ignored.
   */
  private async readModifyWrite(sessionId: string, command: SessionCommand): Promise<CommandResult> {
    const current = await this.service.loadContext(sessionId);
    const prev = current ? { context: current, version: UNKNOWN_VERSION } : null;
    const { snapshot, changed } = applyCommand(sessionId, prev, command, nowSeconds(Date.now()));
    if (!changed) return { context: copyContext(snapshot.context), version: UNKNOWN_VERSION };
    const next = copyContext(snapshot.context);
    await this.service.saveContext(sessionId, next);
    return { context: next, version: UNKNOWN_VERSION };
  }
}
