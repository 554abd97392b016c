// A Session of the OpenAI Agents SDK (`@openai/agents`) kept by a session actor: through the library
// (TemporalSessionService) or the HTTP API. Used as `run(agent, input, { session })`; see README "Agent frameworks".
import crypto from 'node:crypto';
import type { AgentInputItem, Session } from '@openai/agents';
import type { CommandCapableService } from '../service';
import { LIMITS, type SessionSettings } from '../types';
import { HttpSessionClient, type HttpSessionClientOptions } from './http-client';
import { type MessageStore, httpStore, libraryStore } from './message-store';
import { itemsToMessages, messagesToItems } from './openai-agents-items';

export { OPENAI_AGENTS_EXTRA, itemToMessage, itemsToMessages, messagesToItems } from './openai-agents-items';

/** The window of sessions the adapter creates: the most a session keeps (the SDK's own sessions keep everything). */
export const OPENAI_AGENTS_DEFAULT_SETTINGS: SessionSettings = { windowMessages: LIMITS.windowMaxMessages };

interface CommonOptions {
  sessionId: string;
  /** The user the session belongs to (its owner; another user's session reads as empty and refuses writes). */
  userId: number;
  /** Agent type of a session this creates (default `openai-agents`). */
  agentType?: string;
  /** Window and transcript of a session this creates (default OPENAI_AGENTS_DEFAULT_SETTINGS). */
  settings?: SessionSettings;
}

export type DurableAgentsSessionOptions = CommonOptions &
  (
    | { service: CommandCapableService; http?: never }
    | { http: HttpSessionClient | Omit<HttpSessionClientOptions, 'userId'>; service?: never }
  );

/**
 * The SDK's `Session` on a session actor. Each `addItems` is one actor command (one version) carrying a turn id, so a
 * retried write is applied once; items are kept exactly (see openai-agents-items.ts). The session is a window of
 * the last `settings.windowMessages` items (200 by default), dropping a function call with its result, never one
 * without the other. `popItem` reads, then writes on the condition that nothing came between (else it reads again).
 */
export class DurableAgentsSession implements Session {
  readonly sessionId: string;
  private readonly store: MessageStore;
  /** The session's version after this object's last write (0 before one). */
  lastVersion = 0;

  constructor(options: DurableAgentsSessionOptions) {
    this.sessionId = options.sessionId;
    const storeOptions = {
      userId: options.userId,
      agentType: options.agentType ?? 'openai-agents',
      settings: options.settings ?? OPENAI_AGENTS_DEFAULT_SETTINGS,
    };
    if (options.service) this.store = libraryStore(options.service, storeOptions);
    else {
      const client =
        options.http instanceof HttpSessionClient
          ? options.http
          : new HttpSessionClient({ ...options.http, userId: options.userId });
      this.store = httpStore(client, storeOptions);
    }
  }

  async getSessionId(): Promise<string> {
    return this.sessionId;
  }

  /** The items, oldest first; with `limit`, the last `limit` of them (none for `limit <= 0`), as MemorySession. */
  async getItems(limit?: number): Promise<AgentInputItem[]> {
    if (limit !== undefined && limit <= 0) return [];
    const items = messagesToItems(await this.store.read(this.sessionId)).flat() as AgentInputItem[];
    return limit === undefined ? items : items.slice(Math.max(items.length - limit, 0));
  }

  async addItems(items: AgentInputItem[]): Promise<void> {
    await this.addItemsOnce(items, crypto.randomUUID());
  }

  /** addItems with the caller's turn id: sent again with the same id (after a lost answer), it is applied once. */
  async addItemsOnce(items: AgentInputItem[], turnId: string): Promise<void> {
    if (items.length === 0) return;
    this.lastVersion = await this.store.append(this.sessionId, itemsToMessages(items), turnId);
  }

  /**
   * Removes and answers the last item. A read, then a write made on the condition that nothing changed since: an
   * item added in between is never lost (the pop reads again and takes that one, as MemorySession would).
   */
  async popItem(): Promise<AgentInputItem | undefined> {
    return this.store.edit(this.sessionId, (messages) => {
      if (messages.length === 0) return undefined;
      const groups = messagesToItems(messages);
      const last = groups[groups.length - 1];
      const popped = last[last.length - 1] as AgentInputItem;
      // A message may hold several items (parallel calls, or text and calls from another client): the others stay.
      const rest = itemsToMessages(last.slice(0, -1));
      return { messages: [...messages.slice(0, -1), ...rest], result: popped };
    });
  }

  async clearSession(): Promise<void> {
    await this.store.clear(this.sessionId);
  }
}
