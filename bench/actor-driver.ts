// How a workload drives a session actor: always the product's `sessionActor` through TemporalSessionService.
// Persist strategies differ only by the service's actor config, which travels in the workflow input
// (SessionActorInput.persist_delay_ms / persist_every), so one worker on one task queue serves every config.
import type { ActorConfig } from '../src/config';
import type { TemporalSessionService } from '../src/temporal/service';

export interface ActorDriver {
  /** Short id used in session ids ([a-z0-9-]). */
  key: string;
  label: string;
  /** The actor config this driver's service passes in the workflow input (empty: the product defaults). */
  actor: Partial<ActorConfig>;
  recover(sessionId: string, userId: number): Promise<number>;
  /** The applied acknowledgement (Update); resolves with the new version. */
  appendApplied(sessionId: string, user: string, assistant: string): Promise<number>;
  /** The durable acknowledgement (Signal with a turn id). */
  appendDurable(sessionId: string, user: string, assistant: string): Promise<void>;
  /** Content of the latest user message as the actor answers a query now. */
  lastUserMessage(sessionId: string): Promise<string | undefined>;
}

/**
 * Applied turns are committed (the answer carries the version only, which is all a driver needs), or executed with
 * `answer: 'session'` (the answer carries the session after the turn, as `execute` and the HTTP API give it).
 */
export function productDriver(
  service: TemporalSessionService,
  o: { key?: string; label?: string; actor?: Partial<ActorConfig>; answer?: 'session' } = {},
): ActorDriver {
  const turn = (id: string, user: string, assistant: string) =>
    o.answer === 'session'
      ? service.execute(id, { type: 'appendTurn', user, assistant })
      : service.commit(id, { type: 'appendTurn', user, assistant });
  return {
    key: o.key ?? 'product',
    label: o.label ?? 'product actor',
    actor: o.actor ?? {},
    recover: async (id, userId) => (await service.execute(id, { type: 'recover', userId, agentType: 'assistant' })).version,
    appendApplied: async (id, user, assistant) => (await turn(id, user, assistant)).version,
    appendDurable: async (id, user, assistant) => {
      await service.submitTurn(id, user, assistant);
    },
    lastUserMessage: async (id) => (await service.getRecentMessages(id, 2))?.[0]?.content,
  };
}
