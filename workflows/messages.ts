// The session actor's public message contract: workflow type, id scheme, every update, signal and query with
// its JSON payload (snake_case, Temporal's default JSON converter). Any Temporal SDK can speak it; see docs/actor-protocol.md.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Metadata, WireContext, WireMessage } from '../src/types';

export const PROTOCOL_VERSION = 1;
export const SESSION_WORKFLOW_TYPE = 'sessionActor';
export const WORKFLOW_ID_PREFIX = 'session/';

export function sessionWorkflowId(sessionId: string): string {
  return `${WORKFLOW_ID_PREFIX}${sessionId}`;
}

/** The workflow's single argument. Only `session_id` is required; `carried` is internal (continue-as-new). */
export interface SessionActorInput {
  session_id: string;
  idle_timeout_ms?: number;
  continue_as_new_after?: number;
  remember_turn_ids?: number;
  /** How long a change may wait to be coalesced before its snapshot is written to Postgres (0 = at once). */
  persist_delay_ms?: number;
  /** Write the snapshot without waiting once this many versions are unwritten. */
  persist_every?: number;
  carried?: CarriedState;
}

/** What a run hands to the next one on continue-as-new. Opaque to other SDKs. */
export interface CarriedState {
  snapshot: { context: WireContext; version: number } | null;
  persisted_version: number;
  turns: [string, TurnOutcome][];
}

export type TurnOutcome =
  { status: 'applied'; version: number } | { status: 'rejected'; code: string; message: string };

export interface SessionActorResult {
  reason: 'idle' | 'deleted' | 'expired';
  version: number;
}

/** Every applied update answers with the session after it and its version. */
export interface CommandAck {
  version: number;
  context: WireContext;
}

/** Commands without arguments take an empty object (`{}`). */
export type EmptyArgs = Record<string, never>;

// ---- updates (the "applied" acknowledgement: validated, applied, answered) ----------------------------
export interface SaveContextArgs {
  context: Pick<WireContext, 'user_id' | 'messages' | 'metadata'> &
    Partial<Pick<WireContext, 'agent_type' | 'created_at'>>;
}
export interface RecoverSessionArgs {
  user_id: number;
  agent_type?: string;
}
export interface AppendTurnArgs {
  user: string;
  assistant: string;
  agent_type?: string;
}
export interface UpdateMetadataArgs {
  metadata: Metadata;
}

export const saveContextUpdate = defineUpdate<CommandAck, [SaveContextArgs]>('saveContext');
export const recoverSessionUpdate = defineUpdate<CommandAck, [RecoverSessionArgs]>('recoverSession');
export const appendMessageUpdate = defineUpdate<CommandAck, [WireMessage]>('appendMessage');
export const appendTurnUpdate = defineUpdate<CommandAck, [AppendTurnArgs]>('appendTurn');
export const clearMessagesUpdate = defineUpdate<CommandAck, [EmptyArgs]>('clearMessages');
export const updateMetadataUpdate = defineUpdate<CommandAck, [UpdateMetadataArgs]>('updateMetadata');
/** Deletes the session's snapshot through its single writer; the actor then completes. */
export const deleteSessionUpdate = defineUpdate<{ deleted: boolean }, [EmptyArgs]>('deleteSession');
/** Expires the session if its updated_at is still strictly below `cutoff` (Unix seconds); the actor then completes. */
export const expireSessionUpdate = defineUpdate<{ expired: boolean }, [{ cutoff: number }]>('expireSession');

// ---- signals (the "durable" acknowledgement: persisted by Temporal, applied once by turn id) -----------
export interface TurnSignalArgs {
  turn_id: string;
  user: string;
  assistant: string;
  agent_type?: string;
  /** When set and the session does not exist, the turn creates it for this user. */
  user_id?: number;
}
export const turnSignal = defineSignal<[TurnSignalArgs]>('turn');

// ---- queries ---------------------------------------------------------------------------------------------
export const contextQuery = defineQuery<WireContext | null>('context');
export const recentMessagesQuery = defineQuery<WireMessage[] | null, [number]>('recentMessages');
export const turnStatusQuery = defineQuery<TurnOutcome | { status: 'unknown' }, [string]>('turnStatus');
export interface ActorStatus {
  exists: boolean;
  version: number;
  persisted_version: number;
  commands_this_run: number;
  closing: boolean;
}
export const statusQuery = defineQuery<ActorStatus>('status');

/** ApplicationFailure type of a command that reached an actor that is completing; retry it (a new run starts). */
export const ACTOR_CLOSING = 'ActorClosing';

/** Query failure message while the actor loads its state or applies received turns; ask again shortly. */
export const ACTOR_BUSY = 'session actor busy: loading state or applying received turns';
