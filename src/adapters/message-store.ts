// Where a framework adapter (src/adapters/) keeps a session's messages: the session actor through the library
// (a CommandCapableService) or the HTTP API (a thin client). Every write is one actor command with a turn id.
import { SessionNotFoundError, VersionMismatchError } from '../errors';
import type { CommandCapableService } from '../service';
import { LIMITS, type Message, type SessionSettings } from '../types';
import { type HttpSessionClient, HttpStatusError } from './http-client';

/** One session's messages, as an adapter reads and writes them. */
export interface MessageStore {
  /** The session's messages, oldest first; [] when it does not exist. */
  read(sessionId: string): Promise<Message[]>;
  /**
   * Appends the messages as one command (one version; a step beyond 64 messages is several), creating the session
   * when it does not exist. A retry with the same turn id is applied once. Answers the session's version after it.
   */
  append(sessionId: string, messages: Message[], turnId: string): Promise<number>;
  /**
   * Reads the session's messages, lets `change` decide (undefined: nothing to do) and writes its messages back
   * (keeping metadata and settings) on the condition that the session is still at the version read: a write that
   * came between is never overwritten; the read and `change` are done again (EDIT_ATTEMPTS at most). Answers what
   * `change` gave, undefined when there is no session.
   */
  edit<T>(
    sessionId: string,
    change: (messages: Message[]) => { messages: Message[]; result: T } | undefined,
  ): Promise<T | undefined>;
  /** Removes every message, keeping the session's metadata; nothing when it does not exist. */
  clear(sessionId: string): Promise<void>;
}

/** The owner and form of the sessions a store creates. */
export interface StoreOptions {
  /** The user the sessions belong to; a session of another user answers as missing. */
  userId: number;
  /** The agent type of sessions it creates (default: the adapter's). */
  agentType?: string;
  /** Window and transcript of sessions it creates (default: the adapter's window). */
  settings?: SessionSettings;
}

/** How often an edit reads again after a write came between its read and its write. */
export const EDIT_ATTEMPTS = 50;

/** The edit loop of both stores: read at a version, change, write if still at it; again on a mismatch. */
async function editLoop<R extends { messages: Message[] }, T>(
  read: () => Promise<R | null>,
  /** Writes `messages` on the condition that the session is still as `current` was read. */
  write: (messages: Message[], current: R) => Promise<void>,
  change: (messages: Message[]) => { messages: Message[]; result: T } | undefined,
  isMismatch: (err: unknown) => boolean,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await read();
    if (!current) return undefined;
    const changed = change(current.messages);
    if (!changed) return undefined;
    try {
      await write(changed.messages, current);
      return changed.result;
    } catch (err) {
      if (!isMismatch(err) || attempt >= EDIT_ATTEMPTS) throw err;
    }
  }
}

/** Splits a write into commands of at most LIMITS.stepMaxMessages messages (the bound of one step). */
function chunks(messages: Message[], turnId: string): { messages: Message[]; turnId: string }[] {
  if (messages.length <= LIMITS.stepMaxMessages) return [{ messages, turnId }];
  const out: { messages: Message[]; turnId: string }[] = [];
  for (let i = 0; i < messages.length; i += LIMITS.stepMaxMessages)
    out.push({ messages: messages.slice(i, i + LIMITS.stepMaxMessages), turnId: `${turnId}/${i}` });
  return out;
}

/** A store on the library: TemporalSessionService (or any CommandCapableService, e.g. InMemorySessionService). */
export function libraryStore(
  service: CommandCapableService,
  options: StoreOptions & { agentType: string },
): MessageStore {
  const { userId, agentType, settings } = options;
  const owner = { expectedUserId: userId };
  return {
    async read(sessionId) {
      const ctx = await service.loadContext(sessionId);
      return ctx && ctx.userId === userId ? ctx.messages : [];
    },
    async append(sessionId, messages, turnId) {
      let version = 0;
      for (const part of chunks(messages, turnId)) {
        const command = { type: 'appendMessages' as const, messages: part.messages, agentType };
        try {
          ({ version } = await service.commit(sessionId, command, { ...owner, turnId: part.turnId }));
        } catch (err) {
          if (!(err instanceof SessionNotFoundError)) throw err;
          // The first write of a session creates it; the append keeps its turn id, so a retry is still applied once.
          await service.commit(sessionId, { type: 'recover', userId, agentType, settings }, owner);
          ({ version } = await service.commit(sessionId, command, { ...owner, turnId: part.turnId }));
        }
      }
      return version;
    },
    edit(sessionId, change) {
      return editLoop(
        async () => {
          const read = await service.getSnapshot(sessionId);
          return read && read.context.userId === userId ? { ...read, messages: read.context.messages } : null;
        },
        async (messages, read) => {
          const save = { type: 'save' as const, context: { ...read.context, messages } };
          await service.commit(sessionId, save, { ...owner, expectedVersion: read.version });
        },
        change,
        (err) => err instanceof VersionMismatchError,
      );
    },
    async clear(sessionId) {
      try {
        await service.commit(sessionId, { type: 'clearMessages' }, owner);
      } catch (err) {
        if (!(err instanceof SessionNotFoundError)) throw err;
      }
    },
  };
}

/** A store on the HTTP API (`/v1/sessions/{id}/steps`, `…/messages`, `…/recover`, `PUT …`). */
export function httpStore(
  client: HttpSessionClient,
  options: StoreOptions & { agentType: string },
): MessageStore {
  const { agentType, settings } = options;
  const path = (id: string, tail = '') => `/v1/sessions/${encodeURIComponent(id)}${tail}`;
  const missing = (err: unknown) => err instanceof HttpStatusError && err.status === 404;
  return {
    async read(sessionId) {
      try {
        const answer = await client.request<{ messages: WireMessageLike[] }>(
          'GET',
          path(sessionId, '/messages'),
        );
        return answer.messages.map(client.fromWire);
      } catch (err) {
        if (missing(err)) return [];
        throw err;
      }
    },
    async append(sessionId, messages, turnId) {
      let version = 0;
      for (const part of chunks(messages, turnId)) {
        const body = { messages: part.messages.map(client.toWire), agent_type: agentType };
        const step = () =>
          client.request<{ version: number }>('POST', path(sessionId, '/steps'), body, part.turnId);
        try {
          ({ version } = await step());
        } catch (err) {
          if (!missing(err)) throw err;
          await client.request('POST', path(sessionId, '/recover'), {
            agent_type: agentType,
            ...(settings ? { settings: client.toWireSettings(settings) } : {}),
          });
          ({ version } = await step());
        }
      }
      return version;
    },
    edit(sessionId, change) {
      type Session = Record<string, unknown> & { messages: WireMessageLike[] };
      return editLoop(
        async () => {
          try {
            const { body: session, etag } = await client.exchange<Session>('GET', path(sessionId));
            // Without its ETag the write could not be made conditional: never write unconditionally.
            if (!etag) throw new Error(`GET ${path(sessionId)} answered without an ETag`);
            return { session, etag, messages: session.messages.map(client.fromWire) };
          } catch (err) {
            if (missing(err)) return null;
            throw err;
          }
        },
        async (messages, { session, etag }) => {
          const body = {
            agent_type: session.agent_type,
            metadata: session.metadata,
            ...(session.settings ? { settings: session.settings } : {}),
            messages: messages.map(client.toWire),
          };
          await client.request('PUT', path(sessionId), body, undefined, { 'if-match': etag });
        },
        change,
        (err) => err instanceof HttpStatusError && err.status === 412,
      );
    },
    async clear(sessionId) {
      try {
        await client.request('DELETE', path(sessionId, '/messages'));
      } catch (err) {
        if (!missing(err)) throw err;
      }
    },
  };
}

type WireMessageLike = Parameters<HttpSessionClient['fromWire']>[0];
