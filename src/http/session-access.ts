// How a session route reaches a session for the acting user: ownership (another user's session answers like a
// missing one), the per-session cap on writes in flight, applied commands, Idempotency-Key. Shared by every route module.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiConfig } from '../config';
import { SessionConflictError } from '../errors';
import type { CommandOptions } from '../service';
import type { SessionCommand } from '../session-rules';
import { type ConversationContext, type WireContext, toWireContext } from '../types';
import type { SessionBackend } from './app';
import { type Principal, actingUser } from './auth';
import { HttpError, sessionNotFound } from './errors';
import { InFlightWrites } from './in-flight';

export interface SessionAccess {
  /** The per-process cap on writes waiting on one session (429 beyond it). */
  inFlight: InFlightWrites;
  /** The session if the acting user owns it; another user's session is answered exactly like a missing one. */
  owned(sessionId: string, userId: number): Promise<ConversationContext>;
  /** Creation routes act for the acting user: a body naming someone else is refused before anything is sent. */
  checkBodyUser(userId: number, bodyUserId: number | undefined): void;
  /**
   * One applied command under the in-flight cap, carrying the acting user as the owner it expects: the actor refuses
   * another user's session where it applies the command, so no delete-and-recreate can slip between a check and
   * the write. That refusal is answered exactly like a missing session. Answers {version, session}; with
   * `Prefer: return=minimal`, 204 with the version as ETag and no session (the service's commit: the session does
   * not travel back through Temporal's history).
   */
  applied(
    request: FastifyRequest,
    reply: FastifyReply,
    sessionId: string,
    command: SessionCommand,
    options?: { expectedVersion?: number },
  ): Promise<{ version: number; session: WireContext } | FastifyReply>;
}

export function sessionAccess(service: SessionBackend, config: ApiConfig): SessionAccess {
  const inFlight = new InFlightWrites(config.maxInFlightWritesPerSession, config.retryAfterSeconds);
  return {
    inFlight,
    owned: async (sessionId, userId) => {
      const ctx = await service.loadContext(sessionId);
      if (!ctx || ctx.userId !== userId) throw sessionNotFound(sessionId);
      return ctx;
    },
    checkBodyUser: (userId, bodyUserId) => {
      if (bodyUserId !== undefined && bodyUserId !== userId)
        throw new HttpError('forbidden', 'user_id must be the acting user (or be omitted)');
    },
    applied: async (request, reply, sessionId, command, extra = {}) => {
      const userId = actingUser(principalOf(request));
      const options = {
        ...commandOptions(request.headers['idempotency-key']),
        ...extra,
        expectedUserId: userId,
      };
      if (prefersMinimal(request.headers.prefer)) {
        const { version } = await inFlight.run(sessionId, () =>
          asOwner(sessionId, service.commit(sessionId, command, options)),
        );
        return reply
          .status(204)
          .header('etag', `"${version}"`)
          .header('preference-applied', 'return=minimal')
          .send();
      }
      return inFlight.run(sessionId, async () => {
        const result = await asOwner(sessionId, service.execute(sessionId, command, options));
        return { version: result.version, session: toWireContext(result.context) };
      });
    },
  };
}

export function principalOf(request: FastifyRequest): Principal {
  // The auth hook runs before every non-public route; its absence is a wiring bug, not the caller's.
  if (!request.principal) throw new Error('no principal on an authenticated route');
  return request.principal;
}

/** RFC 7240: `Prefer: return=minimal` among the header's preferences (names and values case-insensitive). */
export function prefersMinimal(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer === undefined ? [] : [prefer];
  return values.some((v) =>
    v.split(',').some(
      (p) =>
        p
          .split(';')[0]
          .trim()
          .toLowerCase()
          .replace(/\s*=\s*/, '=') === 'return=minimal',
    ),
  );
}

/** Another user's session is answered exactly like a missing one. */
export async function asOwner<T>(sessionId: string, result: Promise<T>): Promise<T> {
  try {
    return await result;
  } catch (err) {
    if (err instanceof SessionConflictError) throw sessionNotFound(sessionId);
    throw err;
  }
}

/** The version an `If-Match: "<version>"` header names (the schema has checked its form), if sent. */
export function ifMatchVersion(ifMatch: string | undefined): { expectedVersion?: number } {
  return ifMatch === undefined ? {} : { expectedVersion: Number(ifMatch.slice(1, -1)) };
}

export function commandOptions(
  idempotencyKey: string | string[] | undefined,
): CommandOptions & { turnId?: string } {
  if (idempotencyKey === undefined) return {};
  if (Array.isArray(idempotencyKey)) throw new HttpError('invalid_argument', 'Idempotency-Key: send it once');
  return { turnId: idempotencyKey };
}
