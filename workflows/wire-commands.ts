// Translates between rules commands and the actor's wire payloads (both ways), and rules errors into update failures.
// Raw fields go to the rules untouched, so that validation, not a conversion, reports a malformed payload.
import { ApplicationFailure } from '@temporalio/workflow';
import { FAILURE_TYPES, SessionError } from '../src/errors';
import type { SessionCommand } from '../src/session-rules';
import {
  type Metadata,
  type WireMessage,
  type WireSettings,
  fromWireMessage,
  fromWireSettings,
  toWireMessage,
  toWireSettings,
} from '../src/types';
import type { UpdateDefinition } from '@temporalio/common';
import {
  AppendMessageArgs,
  AppendMessagesArgs,
  AppendTurnArgs,
  ConfigureSessionArgs,
  EmptyArgs,
  ForkSessionArgs,
  Owned,
  SESSION_STORAGE_FAILED,
  CommandAck,
  RecoverSessionArgs,
  SaveContextArgs,
  UpdateMetadataArgs,
  appendMessageUpdate,
  appendMessagesUpdate,
  appendTurnUpdate,
  clearMessagesUpdate,
  configureSessionUpdate,
  forkSessionUpdate,
  recoverSessionUpdate,
  saveContextUpdate,
  updateMetadataUpdate,
} from './messages';

/** The expected owner and version of a wire command, only when sent (an absent field stays absent). */
const owner = (
  a: (Owned & { expected_version?: number }) | null | undefined,
): { expectedUserId?: number; expectedVersion?: number } => ({
  ...(a?.expected_user_id === undefined ? {} : { expectedUserId: a.expected_user_id }),
  ...(a?.expected_version === undefined ? {} : { expectedVersion: a.expected_version }),
});

/** Wire messages as the rules take them; a value that is not an array is passed on for validation to refuse. */
const messagesOf = (raw: unknown) =>
  (Array.isArray(raw) ? raw.map((m: WireMessage) => fromWireMessage(m)) : raw) as ReturnType<
    typeof fromWireMessage
  >[];
/** Wire settings as the rules take them (an empty object is the defaults). */
const settingsOf = (raw: WireSettings | undefined) =>
  raw === undefined
    ? undefined
    : typeof raw === 'object' && raw !== null
      ? (fromWireSettings(raw) ?? {})
      : (raw as never);

export const wireCommands = {
  save: (sessionId: string, a: SaveContextArgs): SessionCommand => ({
    ...owner(a),
    type: 'save',
    context: {
      sessionId,
      userId: a?.context?.user_id,
      agentType: a?.context?.agent_type ?? '',
      messages: a?.context?.messages === undefined ? undefined : messagesOf(a.context.messages),
      metadata: a?.context?.metadata,
      createdAt: a?.context?.created_at ?? 0,
      updatedAt: 0,
      ...(a?.context?.settings === undefined ? {} : { settings: settingsOf(a.context.settings) }),
    } as never,
  }),
  recover: (a: RecoverSessionArgs): SessionCommand => ({
    ...owner(a),
    type: 'recover',
    userId: a?.user_id,
    agentType: a?.agent_type,
    ...(a?.settings === undefined ? {} : { settings: settingsOf(a.settings) }),
  }),
  appendMessage: (a: AppendMessageArgs): SessionCommand => ({
    ...owner(a),
    type: 'appendMessage',
    message: fromWireMessage(a ?? ({} as WireMessage)),
  }),
  appendMessages: (a: AppendMessagesArgs): SessionCommand => ({
    ...owner(a),
    type: 'appendMessages',
    messages: messagesOf(a?.messages),
    agentType: a?.agent_type,
  }),
  configure: (a: ConfigureSessionArgs): SessionCommand => ({
    ...owner(a),
    type: 'configure',
    settings: settingsOf(a?.settings) as never,
  }),
  fork: (sessionId: string, a: ForkSessionArgs): SessionCommand => ({
    ...owner(a),
    type: 'fork',
    from: { sessionId: a?.from_session_id, version: a?.from_version },
    context: {
      sessionId,
      userId: a?.context?.user_id,
      agentType: a?.context?.agent_type ?? '',
      messages: messagesOf(a?.context?.messages ?? []),
      metadata: a?.context?.metadata,
      createdAt: 0,
      updatedAt: 0,
      ...(a?.context?.settings === undefined ? {} : { settings: settingsOf(a.context.settings) }),
    } as never,
  }),
  appendTurn: (a: AppendTurnArgs): SessionCommand => ({
    ...owner(a),
    type: 'appendTurn',
    user: a?.user,
    assistant: a?.assistant,
    agentType: a?.agent_type,
  }),
  clearMessages: (a: EmptyArgs): SessionCommand => ({ ...owner(a), type: 'clearMessages' }),
  updateMetadata: (a: UpdateMetadataArgs): SessionCommand => ({
    ...owner(a),
    type: 'updateMetadata',
    patch: a?.metadata as Metadata,
  }),
};

/** The update failure type of each rules error code (any other code: a validation failure). */
const FAILURE_TYPE_OF: Partial<Record<SessionError['code'], string>> = {
  session_not_found: FAILURE_TYPES.notFound,
  session_conflict: FAILURE_TYPES.conflict,
  session_exists: FAILURE_TYPES.exists,
  version_mismatch: FAILURE_TYPES.versionMismatch,
  storage_unavailable: SESSION_STORAGE_FAILED,
};

/** Caller mistakes become non-retryable failures of the update (the workflow itself never fails for them). */
export function toFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof SessionError) {
    const type = FAILURE_TYPE_OF[err.code] ?? FAILURE_TYPES.validation;
    const field = (err as { field?: string }).field;
    const versions = err as { expectedVersion?: number; actualVersion?: number };
    return ApplicationFailure.create({
      type,
      message: err.message,
      nonRetryable: true,
      details: [
        versions.actualVersion === undefined
          ? { field }
          : { field, expected_version: versions.expectedVersion, actual_version: versions.actualVersion },
      ],
    });
  }
  // Anything else is a bug in the actor: fail the workflow task so it is retried and visible, not swallowed.
  return err instanceof Error ? err : new Error(String(err));
}

/** `{ settings }` in the wire form when any is set, else nothing. */
function wireSettings(settings: Parameters<typeof toWireSettings>[0] | undefined): {
  settings?: WireSettings;
} {
  const wire = settings && toWireSettings(settings);
  return wire ? { settings: wire } : {};
}

/**
 * The other direction, for clients: the actor's update and wire payload for a command (and its turn id; with
 * `versionOnly`, the actor answers with the version alone).
 */
export function toWireUpdate(
  command: SessionCommand,
  turnId?: string,
  versionOnly = false,
): [UpdateDefinition<CommandAck, [never]>, unknown] {
  const expected = {
    ...(command.expectedUserId === undefined ? {} : { expected_user_id: command.expectedUserId }),
    ...(command.expectedVersion === undefined ? {} : { expected_version: command.expectedVersion }),
    ...(turnId === undefined ? {} : { turn_id: turnId }),
    ...(versionOnly ? { answer: 'version' as const } : {}),
  };
  const call = (def: unknown, args: object): [UpdateDefinition<CommandAck, [never]>, unknown] => [
    def as UpdateDefinition<CommandAck, [never]>,
    { ...args, ...expected },
  ];
  switch (command.type) {
    case 'save': {
      const c = command.context;
      return call(saveContextUpdate, {
        context: {
          user_id: c.userId,
          agent_type: c.agentType,
          messages: c.messages.map(toWireMessage),
          metadata: c.metadata,
          created_at: c.createdAt,
          ...wireSettings(c.settings),
        },
      });
    }
    case 'recover':
      return call(recoverSessionUpdate, {
        user_id: command.userId,
        agent_type: command.agentType,
        ...wireSettings(command.settings),
      });
    case 'appendMessage':
      return call(appendMessageUpdate, toWireMessage(command.message));
    case 'appendMessages':
      return call(appendMessagesUpdate, {
        messages: command.messages.map(toWireMessage),
        agent_type: command.agentType,
      });
    case 'configure':
      return call(configureSessionUpdate, { settings: toWireSettings(command.settings) ?? {} });
    case 'fork': {
      const c = command.context;
      return call(forkSessionUpdate, {
        from_session_id: command.from.sessionId,
        from_version: command.from.version,
        context: {
          user_id: c.userId,
          agent_type: c.agentType,
          messages: c.messages.map(toWireMessage),
          metadata: c.metadata,
          ...wireSettings(c.settings),
        },
      });
    }
    case 'appendTurn':
      return call(appendTurnUpdate, {
        user: command.user,
        assistant: command.assistant,
        agent_type: command.agentType,
      });
    case 'clearMessages':
      return call(clearMessagesUpdate, {});
    case 'updateMetadata':
      return call(updateMetadataUpdate, { metadata: command.patch });
  }
}
