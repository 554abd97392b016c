// A session service of Google's Agent Development Kit (`@google/adk`) kept by session actors: `new Runner({ agent,
// appName, sessionService: new DurableAdkSessionService({ service }) })`. See README "Agent frameworks".
import crypto from 'node:crypto';
import {
  type AppendEventRequest,
  BaseSessionService,
  type CreateSessionRequest,
  type DeleteSessionRequest,
  type Event,
  type GetSessionRequest,
  type ListSessionsRequest,
  type ListSessionsResponse,
  type Session,
  State,
  createEvent,
} from '@google/adk';
import { SessionConflictError, SessionNotFoundError, ValidationError } from '../errors';
import type { CommandCapableService, CommandOptions } from '../service';
import { validateSessionId } from '../session-rules';
import { LIMITS, type Metadata, type SessionSettings } from '../types';
import { eventToMessages, messagesToEvents, noteFor } from './google-adk-events';

export { ADK_EXTRA } from './google-adk-events';

/** The metadata key of the adapter's own record in a session (its creation time); never a state key. */
const RECORD = '_adk';

export interface DurableAdkSessionServiceOptions {
  /** TemporalSessionService (or another service that executes commands, e.g. InMemorySessionService). */
  service: CommandCapableService;
  /** The owner (a 32-bit user id) of an ADK user's sessions: a decimal id as it is, else a hash of it. */
  ownerOf?: (adkUserId: string) => number;
  /** Owner of the sessions that hold app state (default 0). */
  appOwner?: number;
  /** Agent type of the sessions it creates (default `adk`). */
  agentType?: string;
  /** Window and transcript of the sessions it creates (default: a window of 200 messages). */
  settings?: SessionSettings;
  /** Author of events read from messages another client wrote (default `model`). */
  defaultAuthor?: string;
}

/** A decimal 32-bit id as it is, anything else FNV-1a hashed to 0..2^31-1. */
export function defaultOwnerOf(userId: string): number {
  if (/^-?\d{1,10}$/.test(userId)) {
    const n = Number(userId);
    if (n >= -2147483648 && n <= 2147483647) return n;
  }
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(userId, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h & 0x7fffffff;
}

/** Session ids allow `A-Z a-z 0-9 . _ : -`: every other character (and `.` and `:`) as `.XX` per UTF-8 byte. */
function enc(s: string): string {
  return [...s]
    .map((c) =>
      /[A-Za-z0-9_-]/.test(c)
        ? c
        : [...Buffer.from(c, 'utf8')]
            .map((b) => `.${b.toString(16).toUpperCase().padStart(2, '0')}`)
            .join(''),
    )
    .join('');
}

function dec(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++)
    if (s[i] === '.') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  return Buffer.from(bytes).toString('utf8');
}

function split(delta: Record<string, unknown> | undefined): {
  app: Metadata;
  user: Metadata;
  session: Metadata;
} {
  const out = { app: {} as Metadata, user: {} as Metadata, session: {} as Metadata };
  for (const [key, value] of Object.entries(delta ?? {})) {
    if (key.startsWith(State.TEMP_PREFIX)) continue;
    if (key.startsWith(State.APP_PREFIX)) out.app[key.slice(State.APP_PREFIX.length)] = value;
    else if (key.startsWith(State.USER_PREFIX)) out.user[key.slice(State.USER_PREFIX.length)] = value;
    else out.session[key] = value;
  }
  return out;
}

function merge(app: Metadata, user: Metadata, session: Metadata): Record<string, unknown> {
  const state: Record<string, unknown> = structuredClone(session);
  for (const [k, v] of Object.entries(app)) state[State.APP_PREFIX + k] = v;
  for (const [k, v] of Object.entries(user)) state[State.USER_PREFIX + k] = v;
  return state;
}

const sessionState = (metadata: Metadata): Metadata =>
  Object.fromEntries(Object.entries(metadata).filter(([k]) => k !== RECORD));

/**
 * ADK's BaseSessionService on session actors. An ADK session is the actor `adk:<app>:<user>:<id>` (owned by
 * `ownerOf(user)`); its events are its messages (eventToMessages), its session-scope state is its metadata; app and
 * user state live in the metadata of `adk-app:<app>` and `adk-user:<app>:<user>`. An event is one command (turn id
 * `event:<event id>`, so a retried append is applied once) and its state delta one command per scope, each a patch
 * of the keys it names: appends from any number of runners interleave and never fail as stale.
 */
export class DurableAdkSessionService extends BaseSessionService {
  private readonly service: CommandCapableService;
  private readonly ownerOf: (userId: string) => number;
  private readonly appOwner: number;
  private readonly agentType: string;
  private readonly settings: SessionSettings;
  private readonly defaultAuthor: string;

  constructor(options: DurableAdkSessionServiceOptions) {
    super();
    this.service = options.service;
    this.ownerOf = options.ownerOf ?? defaultOwnerOf;
    this.appOwner = options.appOwner ?? 0;
    this.agentType = options.agentType ?? 'adk';
    this.settings = options.settings ?? { windowMessages: LIMITS.windowMaxMessages };
    this.defaultAuthor = options.defaultAuthor ?? 'model';
  }

  /** The actor session that holds an ADK session. */
  actorSessionId(appName: string, userId: string, sessionId: string): string {
    const id = `adk:${enc(appName)}:${enc(userId)}:${enc(sessionId)}`;
    validateSessionId(id);
    return id;
  }

  private appStateId(appName: string): string {
    return `adk-app:${enc(appName)}`;
  }

  private userStateId(appName: string, userId: string): string {
    return `adk-user:${enc(appName)}:${enc(userId)}`;
  }

  /**
   * Creates the session, or fails (`Session with id … already exists.`, as ADK's DatabaseSessionService) when it
   * exists. Never a replacement: creation is the actor's create-if-missing (`recover`) and then patches, so a
   * creation racing with another one, or with appends, loses nothing.
   */
  async createSession({ appName, userId, state, sessionId }: CreateSessionRequest): Promise<Session> {
    const id = sessionId || crypto.randomUUID();
    const actorId = this.actorSessionId(appName, userId, id);
    const owner = { expectedUserId: this.ownerOf(userId) };
    const delta = split(state);
    const now = Date.now();
    const { context } = await this.service.execute(
      actorId,
      { type: 'recover', userId: owner.expectedUserId, agentType: this.agentType, settings: this.settings },
      owner,
    );
    if (context.metadata[RECORD] !== undefined) throw new Error(`Session with id ${id} already exists.`);
    const patch = { ...delta.session, [RECORD]: { createdAt: now } };
    await this.service.commit(actorId, { type: 'updateMetadata', patch }, owner);
    await this.patchScopes(appName, userId, delta, undefined);
    const [app, user] = await Promise.all([
      this.metadataOf(this.appStateId(appName)),
      this.metadataOf(this.userStateId(appName, userId)),
    ]);
    return { id, appName, userId, state: merge(app, user, delta.session), events: [], lastUpdateTime: now };
  }

  /** The session, or a new one; of several callers creating it at once, one creates it and all get it. */
  override async getOrCreateSession(request: CreateSessionRequest): Promise<Session> {
    if (!request.sessionId) return this.createSession(request);
    const key = { appName: request.appName, userId: request.userId, sessionId: request.sessionId };
    const existing = await this.getSession(key);
    if (existing) return existing;
    try {
      return await this.createSession(request);
    } catch (err) {
      const created = await this.getSession(key);
      if (created) return created;
      throw err;
    }
  }

  async getSession({ appName, userId, sessionId, config }: GetSessionRequest): Promise<Session | undefined> {
    const [ctx, app, user] = await Promise.all([
      this.service.loadContext(this.actorSessionId(appName, userId, sessionId)),
      this.metadataOf(this.appStateId(appName)),
      this.metadataOf(this.userStateId(appName, userId)),
    ]);
    if (!ctx || ctx.userId !== this.ownerOf(userId)) return undefined;
    let events = messagesToEvents(ctx.messages, this.defaultAuthor).map((e) =>
      createEvent(e as Partial<Event>),
    );
    const created =
      (ctx.metadata[RECORD] as { createdAt?: number } | undefined)?.createdAt ?? ctx.createdAt * 1000;
    const lastUpdateTime = events.length > 0 ? events[events.length - 1].timestamp : created;
    if (config?.numRecentEvents) events = events.slice(-config.numRecentEvents);
    if (config?.afterTimestamp) {
      // As ADK's in-memory service: the events after the last one older than the timestamp.
      let i = events.length - 1;
      while (i >= 0 && events[i].timestamp >= config.afterTimestamp) i--;
      if (i >= 0) events = events.slice(i + 1);
    }
    return {
      id: sessionId,
      appName,
      userId,
      state: merge(app, user, sessionState(ctx.metadata)),
      events,
      lastUpdateTime,
    };
  }

  /**
   * The sessions of one user of the app, from the snapshots in Postgres (so a session trails its writes by about a
   * second). Listing every user's sessions (no `userId`) is not supported.
   */
  async listSessions({
    appName,
    userId,
    limit,
    offset,
    page,
    order,
  }: ListSessionsRequest): Promise<ListSessionsResponse> {
    if (userId === undefined)
      throw new ValidationError('userId', 'is required: sessions are listed per user');
    const prefix = `adk:${enc(appName)}:${enc(userId)}:`;
    const all: Session[] = [];
    let cursor: string | undefined;
    do {
      const pageOfOwner = await this.service.listSessionsPage(this.ownerOf(userId), LIMITS.listMaxLimit, {
        agentType: this.agentType,
        ...(cursor ? { cursor } : {}),
      });
      for (const s of pageOfOwner.sessions)
        if (s.sessionId.startsWith(prefix))
          all.push({
            id: dec(s.sessionId.slice(prefix.length)),
            appName,
            userId,
            state: {},
            events: [],
            lastUpdateTime: s.updatedAt * 1000,
          });
      cursor = pageOfOwner.nextCursor;
    } while (cursor);
    if (order) {
      const sign = order === 'asc' ? 1 : -1;
      all.sort((a, b) => sign * (a.lastUpdateTime - b.lastUpdateTime) || a.id.localeCompare(b.id));
    }
    if (limit === undefined) {
      const sessions = offset ? all.slice(offset) : all;
      return {
        sessions,
        page: 1,
        limit: all.length,
        totalItems: all.length,
        totalPages: all.length === 0 ? 0 : 1,
      };
    }
    const start = page !== undefined ? (page - 1) * limit : (offset ?? 0);
    return {
      sessions: all.slice(start, start + limit),
      page: page ?? (limit === 0 ? 1 : Math.floor(start / limit) + 1),
      limit,
      totalItems: all.length,
      totalPages: limit === 0 ? 0 : Math.ceil(all.length / limit),
    };
  }

  async deleteSession({ appName, userId, sessionId }: DeleteSessionRequest): Promise<void> {
    const id = this.actorSessionId(appName, userId, sessionId);
    const ctx = await this.service.loadContext(id);
    if (!ctx || ctx.userId !== this.ownerOf(userId)) return;
    await this.service.deleteSession(id);
  }

  override async appendEvent({ session, event }: AppendEventRequest): Promise<Event> {
    if (event.partial) return event;
    // The base class trims temporary state from the event and applies its delta to the caller's session object.
    event = await super.appendEvent({ session, event });
    const id = this.actorSessionId(session.appName, session.userId, session.id);
    const owner = { expectedUserId: this.ownerOf(session.userId) };
    const append = (messages = eventToMessages(event)) =>
      this.service.commit(
        id,
        { type: 'appendMessages', messages, agentType: this.agentType },
        { ...owner, turnId: `event:${event.id}` },
      );
    try {
      await append();
    } catch (err) {
      // A function response whose call the session does not hold (written elsewhere, or fallen out of the window):
      // the event is kept as a note rather than lost.
      if (!(err instanceof ValidationError)) throw err;
      await append([noteFor(event)]);
    }
    await this.patchScopes(session.appName, session.userId, split(event.actions?.stateDelta), {
      id,
      eventId: event.id,
    });
    session.lastUpdateTime = event.timestamp;
    return event;
  }

  /** Applies a state delta: one metadata patch per scope, each applied once for an event (turn ids). */
  private async patchScopes(
    appName: string,
    userId: string,
    delta: ReturnType<typeof split>,
    of: { id: string; eventId: string } | undefined,
  ): Promise<void> {
    const turn = (scope: string): CommandOptions =>
      of
        ? {
            turnId: `state:${crypto.createHash('sha256').update(`${scope}\0${of.id}\0${of.eventId}`).digest('hex').slice(0, 40)}`,
          }
        : {};
    const owner = this.ownerOf(userId);
    await Promise.all([
      of && Object.keys(delta.session).length > 0
        ? this.service.commit(
            of.id,
            { type: 'updateMetadata', patch: delta.session },
            { ...turn('session'), expectedUserId: owner },
          )
        : undefined,
      Object.keys(delta.app).length > 0
        ? this.patchStateSession(this.appStateId(appName), this.appOwner, delta.app, turn('app'))
        : undefined,
      Object.keys(delta.user).length > 0
        ? this.patchStateSession(this.userStateId(appName, userId), owner, delta.user, turn('user'))
        : undefined,
    ]);
  }

  private async patchStateSession(id: string, owner: number, patch: Metadata, options: CommandOptions) {
    const command = { type: 'updateMetadata' as const, patch };
    try {
      await this.service.commit(id, command, { ...options, expectedUserId: owner });
    } catch (err) {
      if (!(err instanceof SessionNotFoundError)) throw err;
      await this.service.commit(
        id,
        { type: 'recover', userId: owner, agentType: `${this.agentType}-state` },
        { expectedUserId: owner },
      );
      await this.service.commit(id, command, { ...options, expectedUserId: owner });
    }
  }

  private async metadataOf(id: string): Promise<Metadata> {
    try {
      return (await this.service.loadContext(id))?.metadata ?? {};
    } catch (err) {
      if (err instanceof SessionConflictError) return {};
      throw err;
    }
  }
}
