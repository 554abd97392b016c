// What each version did to a session, as a watcher receives it: the change of an applied command, its wire form,
// and the bounded log of recent changes an actor (or the in-memory service) answers watchers from. Pure.
import type { SessionCommand, SessionSnapshot } from './session-rules';
import { messageBytes } from './session-rules';
import {
  type ConversationContext,
  type Message,
  type Metadata,
  type WireContext,
  type WireMessage,
  copyContext,
  copyMessage,
  fromWireContext,
  fromWireMessage,
  toWireContext,
  toWireMessage,
} from './types';

/**
 * - session: the whole session at this version (created, saved, settings changed, forked; also the first event of
 *   a watch, and what a watcher gets when the changes it missed are no longer known).
 * - appended: messages added at the end (the window then drops from the front by the session's settings).
 * - cleared: the window was emptied. metadata: these keys were set.
 * - deleted: the session was deleted or expired; nothing follows.
 */
export type SessionChange =
  | { type: 'session'; version: number; session: ConversationContext }
  | { type: 'appended'; version: number; messages: Message[]; agentType?: string; updatedAt: number }
  | { type: 'cleared'; version: number; updatedAt: number }
  | { type: 'metadata'; version: number; metadata: Metadata; updatedAt: number }
  | { type: 'deleted'; version: number };

export type WireSessionChange =
  | { type: 'session'; version: number; session: WireContext }
  | { type: 'appended'; version: number; messages: WireMessage[]; agent_type?: string; updated_at: number }
  | { type: 'cleared'; version: number; updated_at: number }
  | { type: 'metadata'; version: number; metadata: Metadata; updated_at: number }
  | { type: 'deleted'; version: number };

export const CHANGE_TYPES = ['session', 'appended', 'cleared', 'metadata', 'deleted'] as const;

/** The change an applied command made (call it only for commands that changed the session). */
export function changeOf(command: SessionCommand, snapshot: SessionSnapshot): SessionChange {
  const { version, context } = snapshot;
  const updatedAt = context.updatedAt;
  switch (command.type) {
    case 'appendMessage':
      return { type: 'appended', version, messages: [copyMessage(command.message)], updatedAt };
    case 'appendTurn':
    case 'appendMessages': {
      const messages: Message[] =
        command.type === 'appendMessages'
          ? command.messages.map(copyMessage)
          : [
              { role: 'user', content: command.user },
              { role: 'assistant', content: command.assistant },
            ];
      return {
        type: 'appended',
        version,
        messages,
        ...(command.agentType ? { agentType: command.agentType } : {}),
        updatedAt,
      };
    }
    case 'clearMessages':
      return { type: 'cleared', version, updatedAt };
    case 'updateMetadata':
      return {
        type: 'metadata',
        version,
        metadata: JSON.parse(JSON.stringify(command.patch)) as Metadata,
        updatedAt,
      };
    default:
      return { type: 'session', version, session: copyContext(context) };
  }
}

export function toWireChange(c: SessionChange): WireSessionChange {
  switch (c.type) {
    case 'session':
      return { type: c.type, version: c.version, session: toWireContext(c.session) };
    case 'appended':
      return {
        type: c.type,
        version: c.version,
        messages: c.messages.map(toWireMessage),
        ...(c.agentType ? { agent_type: c.agentType } : {}),
        updated_at: c.updatedAt,
      };
    case 'cleared':
      return { type: c.type, version: c.version, updated_at: c.updatedAt };
    case 'metadata':
      return { type: c.type, version: c.version, metadata: c.metadata, updated_at: c.updatedAt };
    case 'deleted':
      return { type: c.type, version: c.version };
  }
}

export function fromWireChange(w: WireSessionChange): SessionChange {
  switch (w.type) {
    case 'session':
      return { type: w.type, version: w.version, session: fromWireContext(w.session) };
    case 'appended':
      return {
        type: w.type,
        version: w.version,
        messages: w.messages.map(fromWireMessage),
        ...(w.agent_type ? { agentType: w.agent_type } : {}),
        updatedAt: w.updated_at,
      };
    case 'cleared':
      return { type: w.type, version: w.version, updatedAt: w.updated_at };
    case 'metadata':
      return { type: w.type, version: w.version, metadata: w.metadata, updatedAt: w.updated_at };
    case 'deleted':
      return { type: w.type, version: w.version };
  }
}

/** Changes answered to one poll at most (a watcher further behind asks again). */
export const CHANGES_PER_ANSWER = 32;

/**
 * The recent changes of one session, oldest first, bounded in number and in bytes of message text, so a watcher
 * slightly behind catches up change by change. `since` answers null when it no longer reaches back far enough.
 */
export class ChangeLog {
  private changes: SessionChange[] = [];
  private bytes = 0;

  constructor(
    private readonly maxChanges = 64,
    private readonly maxBytes = 1024 * 1024,
  ) {}

  record(change: SessionChange): void {
    this.changes.push(change);
    this.bytes += sizeOf(change);
    while (this.changes.length > this.maxChanges || (this.bytes > this.maxBytes && this.changes.length > 1))
      this.bytes -= sizeOf(this.changes.shift() as SessionChange);
  }

  /**
   * The changes after `version` (at most CHANGES_PER_ANSWER), [] when there are none, or null when some of them
   * are no longer in the log (the watcher then needs the whole session).
   */
  since(version: number, current: number): SessionChange[] | null {
    if (version >= current) return [];
    const first = this.changes.findIndex((c) => c.version > version);
    if (first < 0 || this.changes[first].version !== version + 1) return null;
    return this.changes.slice(first, first + CHANGES_PER_ANSWER);
  }

  /** Forgets everything (the session's incarnation ended). */
  clear(): void {
    this.changes = [];
    this.bytes = 0;
  }
}

function sizeOf(change: SessionChange): number {
  switch (change.type) {
    case 'session':
      return change.session.messages.reduce((n, m) => n + messageBytes(m), 0) + 256;
    case 'appended':
      return change.messages.reduce((n, m) => n + messageBytes(m), 0) + 64;
    case 'metadata':
      return JSON.stringify(change.metadata).length + 64;
    default:
      return 64;
  }
}
