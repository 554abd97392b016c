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
import { type CommandResult, type ConversationContext, type Message, copyContext } from './types';

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
   */
  async recoverSession(sessionId: string, userId: number, agentType?: string): Promise<ConversationContext> {
    const command: SessionCommand =
      agentType === undefined ? { type: 'recover', userId } : { type: 'recover', userId, agentType };
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
   * null when the session does not exist, like the reference's (nil, nil).
   */
  async getRecentMessages(sessionId: string, n: number): Promise<Message[] | null> {
    validateSessionId(sessionId);
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new ValidationError('n', 'must be an integer');
    const ctx = await this.service.loadContext(sessionId);
    return ctx ? recentMessages(ctx.messages, n) : null;
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
