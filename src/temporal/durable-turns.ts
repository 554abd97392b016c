// Durable turns: sent with signal-with-start and acknowledged once Temporal has persisted them (the actor applies
// each once by turn id), and what became of a turn id. Used by TemporalSessionService (submitTurn, turnStatus).
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { SessionKeyCodec, sealedKeysOf } from '../codec/session-key-codec';
import type { SessionKeyStore } from '../codec/session-keys';
import { SessionNotFoundError } from '../errors';
import {
  validateAgentType,
  validateContent,
  validateSessionId,
  validateTurnId,
  validateUserId,
} from '../session-rules';
import {
  TurnOutcome,
  sessionWorkflowId,
  turnSignal,
  turnStatusQuery,
  SESSION_WORKFLOW_TYPE,
} from '../../workflows/messages';
import { type SessionActorClient, summaryOf } from './actor-client';

export interface DurableTurnOptions {
  turnId?: string;
  agentType?: string;
  /** The session's owner: creates the session for this user when it does not exist yet. */
  userId?: number;
  /**
   * The owner the caller acts for, without creating: the actor rejects the turn (session_conflict) when the
   * session belongs to someone else, and (session_not_found) when there is none.
   */
  expectedUserId?: number;
}

/** TemporalSessionService.submitTurn: validated with the rules the actor applies, then signal-with-start. */
export async function submitDurableTurn(
  actors: SessionActorClient,
  sessionId: string,
  user: string,
  assistant: string,
  options: DurableTurnOptions = {},
): Promise<string> {
  validateSessionId(sessionId);
  validateContent('user', user);
  validateContent('assistant', assistant);
  if (options.agentType !== undefined) validateAgentType(options.agentType);
  if (options.userId !== undefined) validateUserId(options.userId);
  if (options.expectedUserId !== undefined) validateUserId(options.expectedUserId);
  const turnId = options.turnId ?? randomUUID();
  validateTurnId(turnId);
  const { sealed } = await sealedKeysOf(() =>
    actors.retryingActor(sessionId, () =>
      actors.client.workflow.signalWithStart(SESSION_WORKFLOW_TYPE, {
        workflowId: sessionWorkflowId(sessionId),
        taskQueue: actors.taskQueue,
        args: [actors.actorInput(sessionId)],
        signal: turnSignal,
        signalArgs: [
          {
            turn_id: turnId,
            user,
            assistant,
            agent_type: options.agentType,
            user_id: options.userId,
            expected_user_id: options.expectedUserId,
          },
        ],
        staticSummary: summaryOf(sessionId),
      }),
    ),
  );
  // With keys per session: a delete that retired the key this turn was sealed with before the actor read it would
  // leave it acknowledged here and never applied (it belonged to the deleted incarnation).
  const sealedWith = sealed.get(sessionId);
  const keys = sessionKeys(actors.client);
  if (keys && sealedWith && !(await keys.isLive(sealedWith)))
    await keptDespiteDelete(actors, sessionId, turnId);
  return turnId;
}

/**
 * A durable turn raced a delete of its session (its key was retired while it was sent): acknowledged only if an
 * actor applied it (a run that received it before the removal hands it to the next incarnation); otherwise the
 * session it was sent to is gone, and so is the turn.
 */
async function keptDespiteDelete(
  actors: SessionActorClient,
  sessionId: string,
  turnId: string,
): Promise<void> {
  const outcome = await durableTurnStatus(actors, sessionId, turnId).catch(
    () => ({ status: 'unknown' }) as const,
  );
  if (outcome.status !== 'applied') throw new SessionNotFoundError(sessionId);
}

/** The client codec's key store when it seals payloads with a key per session (DS_CODEC_SESSION_KEYS). */
function sessionKeys(client: Client): SessionKeyStore | undefined {
  const codecs = client.options.dataConverter.payloadCodecs ?? [];
  return codecs.find((c): c is SessionKeyCodec => c instanceof SessionKeyCodec)?.keys;
}

/** What became of a turn id in the running actor ('unknown' once it has completed or forgotten it). */
export async function durableTurnStatus(
  actors: SessionActorClient,
  sessionId: string,
  turnId: string,
): Promise<TurnOutcome | { status: 'unknown' }> {
  validateSessionId(sessionId);
  validateTurnId(turnId);
  const status = await actors.askActor(sessionId, (h) => h.query(turnStatusQuery, turnId));
  return status ?? { status: 'unknown' };
}
