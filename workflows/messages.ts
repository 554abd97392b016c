// The session actor's public message contract: workflow type, id scheme, every update, signal and query with
// its JSON payload (snake_case, Temporal's default JSON converter). Any Temporal SDK can speak it; see docs/actor-protocol.md.
import { type Sinks, defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { WireSessionChange } from '../src/session-changes';
import type { Metadata, WireContext, WireMessage, WireSettings } from '../src/types';

export const PROTOCOL_VERSION = 1;
export const SESSION_WORKFLOW_TYPE = 'sessionActor';
export const WORKFLOW_ID_PREFIX = 'session/';

/**
 * Keys per session (docs/encryption.md): what a worker's codec hands the workflow for a payload whose session key
 * is destroyed, instead of failing the workflow task: `{ erased_payload: "<key id>" }`. It belonged to a deleted
 * incarnation of the session; the actor refuses or drops it.
 */
export const ERASED_PAYLOAD_FIELD = 'erased_payload';
/** The failure type of a command (or a run's input) that arrived under a destroyed session key. */
export const ERASED_PAYLOAD = 'ErasedPayload';

export function isErasedPayload(value: unknown): boolean {
  return typeof value === 'object' && value !== null && ERASED_PAYLOAD_FIELD in value;
}

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
  /**
   * Whether a change after a quiet window (persist_delay_ms since the run's last write) is written at once, only
   * changes within the window after a write waiting for its end (default true). false: every write waits the window.
   */
  persist_leading_edge?: boolean;
  /**
   * Keys per session (docs/encryption.md): remove the session in a local activity, so that its data key is destroyed
   * inside the workflow task that answers the removal and closes the run, and no later task of this run has to
   * decode the payloads the key sealed. Carried across continue-as-new.
   */
  remove_locally?: boolean;
  carried?: CarriedState;
}

/** What a run hands to the next one on continue-as-new. Opaque to other SDKs. */
export interface CarriedState {
  snapshot: { context: WireContext; version: number } | null;
  persisted_version: number;
  turns: [string, TurnOutcome][];
  /** The version this incarnation of the session was created at (1 when absent: runs before the fence). */
  born_version?: number;
  /** The version a new session starts after: the last version of a deleted one (0 when absent). */
  floor_version?: number;
  /** Durable turns received after the session was removed: the next run applies them first, as a new session. */
  handed_over?: TurnSignalArgs[];
  /** Transcript messages not yet written to Postgres, by the version that brought them. */
  transcript?: TranscriptBatch[];
}

/** Messages that entered a session's transcript with one version. */
export interface TranscriptBatch {
  version: number;
  messages: WireMessage[];
}

export type TurnOutcome =
  { status: 'applied'; version: number } | { status: 'rejected'; code: string; message: string };

export interface SessionActorResult {
  /** failed: Postgres refused the session for good; `unsaved` then holds the state it could not take. */
  reason: 'idle' | 'deleted' | 'expired' | 'failed';
  version: number;
  unsaved?: { context: WireContext; version: number; transcript?: TranscriptBatch[] };
}

/**
 * Every applied update answers with its version and, unless the caller asked for the version only
 * (`CommandMeta.answer`), the session after it.
 */
export interface CommandAck {
  version: number;
  context?: WireContext;
}

/**
 * Every command may carry the owner it acts for: the actor refuses it with SessionConflictError when the session
 * belongs to another user (checked where the command is applied, in the actor's serial order).
 */
export interface Owned {
  expected_user_id?: number;
}

/** Fields every command update may carry besides its own. */
export interface CommandMeta extends Owned {
  /**
   * The version the caller read (0: no session): the command is refused (VersionMismatchError, details
   * `{expected_version, actual_version}`) when the session is at another one where it is applied.
   */
  expected_version?: number;
  /**
   * The client's id of this command (1..128 chars). A command whose turn id was applied before is answered as it
   * was and not applied again, across runs; turn ids of updates and of `turn` signals are one dedup space. Without
   * it, the update id serves (unless it starts with EPHEMERAL_UPDATE_ID_PREFIX).
   */
  turn_id?: string;
  /**
   * 'version': answer with the version only. The session after the command is not carried back, so the update's
   * completion in the history holds a few bytes instead of the whole window. Anything else: the session too.
   */
  answer?: 'version';
}

/** Commands without arguments take an object with at most the meta fields (`{}`). */
export type EmptyArgs = CommandMeta;

// ---- updates (the "applied" acknowledgement: validated, applied, answered) ----------------------------
export interface SaveContextArgs extends CommandMeta {
  context: Pick<WireContext, 'user_id' | 'messages' | 'metadata'> &
    Partial<Pick<WireContext, 'agent_type' | 'created_at' | 'settings'>>;
}
export interface RecoverSessionArgs extends CommandMeta {
  user_id: number;
  agent_type?: string;
  /** Settings of a session this creates (an existing session is left as it is). */
  settings?: WireSettings;
}
export type AppendMessageArgs = WireMessage & CommandMeta;
export interface AppendTurnArgs extends CommandMeta {
  user: string;
  assistant: string;
  agent_type?: string;
}
export interface UpdateMetadataArgs extends CommandMeta {
  metadata: Metadata;
}
/** One agent step: its messages in order (tool results after the calls they answer), applied as one version. */
export interface AppendMessagesArgs extends CommandMeta {
  messages: WireMessage[];
  agent_type?: string;
}
/** The session's settings, replaced whole (absent fields: the defaults). */
export interface ConfigureSessionArgs extends CommandMeta {
  settings: WireSettings;
}
/** Creates this session as a copy of `from_session_id` at `from_version` (its context); fails when it exists. */
export interface ForkSessionArgs extends CommandMeta {
  from_session_id: string;
  from_version: number;
  context: Pick<WireContext, 'user_id' | 'messages' | 'metadata'> &
    Partial<Pick<WireContext, 'agent_type' | 'settings'>>;
}
export interface ExpireSessionArgs {
  cutoff: number;
}
/**
 * `run_id`: the run that removed the session; erasure deletes it and the runs before it, never a later one.
 * (Absent from runs recorded before the lifecycle machine.)
 */
export interface RemovalAck {
  run_id?: string;
}

export const saveContextUpdate = defineUpdate<CommandAck, [SaveContextArgs]>('saveContext');
export const recoverSessionUpdate = defineUpdate<CommandAck, [RecoverSessionArgs]>('recoverSession');
export const appendMessageUpdate = defineUpdate<CommandAck, [AppendMessageArgs]>('appendMessage');
export const appendTurnUpdate = defineUpdate<CommandAck, [AppendTurnArgs]>('appendTurn');
export const clearMessagesUpdate = defineUpdate<CommandAck, [EmptyArgs]>('clearMessages');
export const updateMetadataUpdate = defineUpdate<CommandAck, [UpdateMetadataArgs]>('updateMetadata');
export const appendMessagesUpdate = defineUpdate<CommandAck, [AppendMessagesArgs]>('appendMessages');
export const configureSessionUpdate = defineUpdate<CommandAck, [ConfigureSessionArgs]>('configureSession');
export const forkSessionUpdate = defineUpdate<CommandAck, [ForkSessionArgs]>('forkSession');
/** Deletes the session through its single writer (leaving a tombstone); the actor then completes. */
export const deleteSessionUpdate = defineUpdate<{ deleted: boolean } & RemovalAck, [Owned]>('deleteSession');
/** Expires the session if its updated_at is still strictly below `cutoff` (Unix seconds); the actor then completes. */
export const expireSessionUpdate = defineUpdate<{ expired: boolean } & RemovalAck, [ExpireSessionArgs]>(
  'expireSession',
);

// ---- watching (a long-poll: answered at once when there are changes, else when one comes or the wait ends) ----
export interface AwaitChangesArgs extends Owned {
  /** The last version the watcher has; absent: answer the whole session at its version at once. */
  after_version?: number;
  /** How long to wait for a change, 0..60000 ms (default 30000). */
  wait_ms?: number;
}
export interface ChangesAnswer {
  /** The session's version now. */
  version: number;
  /** The version this incarnation was created at: a watcher that saw an older incarnation has seen it deleted. */
  born_version: number;
  /** In version order; a `session` change when the ones asked for are no longer known; `deleted` last. */
  changes: WireSessionChange[];
  /** The run is ending: ask again (the next run answers). */
  reconnect?: boolean;
}
/** Not a command: it changes nothing and is not queued; it counts towards the run's size like one. */
export const awaitChangesUpdate = defineUpdate<ChangesAnswer, [AwaitChangesArgs]>('awaitChanges');

// ---- signals (the "durable" acknowledgement: persisted by Temporal, applied once by turn id) -----------
export interface TurnSignalArgs extends Owned {
  turn_id: string;
  user: string;
  assistant: string;
  agent_type?: string;
  /**
   * The session's owner: when the session does not exist, the turn creates it for this user; when it belongs to
   * someone else, the turn is rejected (session_conflict).
   */
  user_id?: number;
}
export const turnSignal = defineSignal<[TurnSignalArgs]>('turn');

/**
 * The worker that holds this run is stopping (a deploy's SIGTERM, src/temporal/held-runs.ts): the run continues as
 * new, so its next run starts on a worker that still polls, instead of the stopping one keeping it to the end of its
 * grace period. No arguments; harmless at any other time (one continue-as-new).
 */
export const drainSignal = defineSignal('drain');

/** What the actor tells the worker that runs it (workflow sinks): which sessions it holds. */
export interface HeldRunSinks extends Sinks {
  heldRuns: {
    /** This worker runs (or replays) the calling run. */
    holds(): void;
    /** The calling run ends here. */
    releases(): void;
  };
}

// ---- queries ---------------------------------------------------------------------------------------------
export const contextQuery = defineQuery<WireContext | null>('context');
/** `[n]` or `[n, max_bytes]`: the last n messages, within max_bytes of text when given. */
export const recentMessagesQuery = defineQuery<WireMessage[] | null, [number, number?]>('recentMessages');
/** The session and its version, read together (fork reads its source with it). */
export const snapshotQuery = defineQuery<{ version: number; context: WireContext } | null>('snapshot');
export const turnStatusQuery = defineQuery<TurnOutcome | { status: 'unknown' }, [string]>('turnStatus');
export interface ActorStatus {
  exists: boolean;
  version: number;
  persisted_version: number;
  commands_this_run: number;
  closing: boolean;
  /** The lifecycle phase (workflows/lifecycle.ts): loading, active, failed, removed, ending. */
  state: string;
  /** Set in the failed state: when it failed (load or write), the SQLSTATE and the error. */
  failure?: { during: string; code: string; message: string };
}
export const statusQuery = defineQuery<ActorStatus>('status');

/** ApplicationFailure type of a command that reached an actor that is completing; retry it (a new run starts). */
export const ACTOR_CLOSING = 'ActorClosing';

/** ApplicationFailure type of a write refused because Postgres refused the session for good (the failed state). */
export const SESSION_STORAGE_FAILED = 'SessionStorageFailed';

/**
 * Update ids with this prefix are not remembered as turn ids: the library uses it for calls without a client turn
 * id, so they never push real turn ids out of the actor's bounded dedup memory. Temporal still dedupes them within a run.
 */
export const EPHEMERAL_UPDATE_ID_PREFIX = 'auto:';

/** Query failure message while the actor loads its state or applies received turns; ask again shortly. */
export const ACTOR_BUSY = 'session actor busy: loading state or applying received turns';
