// Keeps the session actor's public protocol stable: the names and payload fields exported by workflows/messages.ts
// must equal the explicit copy below, and docs/actor-protocol.md must mention every one of them.
import fs from 'node:fs';
import type { UpdateDefinition } from '@temporalio/common';
import path from 'node:path';
import { FAILURE_TYPES } from '../src/errors';
import type { ToolCall, WireContext, WireMessage, WireSettings } from '../src/types';
import { CHANGE_TYPES } from '../src/session-changes';
import { SEARCH_ATTRIBUTES } from '../src/runtime/dev-server';
import { DEFAULT_TASK_QUEUE } from '../src/config';
import * as messages from '../workflows/messages';
import type {
  ActorStatus,
  AppendMessageArgs,
  AppendMessagesArgs,
  AwaitChangesArgs,
  ChangesAnswer,
  ConfigureSessionArgs,
  EmptyArgs,
  AppendTurnArgs,
  CommandAck,
  ForkSessionArgs,
  TranscriptBatch,
  RecoverSessionArgs,
  SaveContextArgs,
  SessionActorInput,
  SessionActorResult,
  TurnSignalArgs,
  UpdateMetadataArgs,
} from '../workflows/messages';

/** Protocol version 1, written out. A change here is a protocol change: bump PROTOCOL_VERSION and the doc. */
const EXPECTED = {
  version: 1,
  workflowType: 'sessionActor',
  workflowIdPrefix: 'session/',
  defaultTaskQueue: 'durable-sessions',
  input: [
    'session_id',
    'idle_timeout_ms',
    'continue_as_new_after',
    'remember_turn_ids',
    'persist_delay_ms',
    'persist_every',
    'persist_leading_edge',
    'remove_locally',
    'carried',
  ],
  result: ['reason', 'version', 'unsaved'],
  updates: {
    saveContext: {
      args: ['context', 'expected_user_id', 'expected_version', 'turn_id', 'answer'],
      context: ['user_id', 'messages', 'metadata', 'agent_type', 'created_at', 'settings'],
    },
    recoverSession: {
      args: [
        'user_id',
        'agent_type',
        'settings',
        'expected_user_id',
        'expected_version',
        'turn_id',
        'answer',
      ],
    },
    appendMessage: {
      args: [
        'role',
        'content',
        'name',
        'tool_calls',
        'tool_call_id',
        'extra',
        'expected_user_id',
        'expected_version',
        'turn_id',
        'answer',
      ],
    },
    appendTurn: {
      args: ['user', 'assistant', 'agent_type', 'expected_user_id', 'expected_version', 'turn_id', 'answer'],
    },
    appendMessages: {
      args: ['messages', 'agent_type', 'expected_user_id', 'expected_version', 'turn_id', 'answer'],
    },
    clearMessages: { args: ['expected_user_id', 'expected_version', 'turn_id', 'answer'] },
    updateMetadata: { args: ['metadata', 'expected_user_id', 'expected_version', 'turn_id', 'answer'] },
    configureSession: { args: ['settings', 'expected_user_id', 'expected_version', 'turn_id', 'answer'] },
    forkSession: {
      args: [
        'from_session_id',
        'from_version',
        'context',
        'expected_user_id',
        'expected_version',
        'turn_id',
        'answer',
      ],
      context: ['user_id', 'messages', 'metadata', 'agent_type', 'settings'],
    },
    deleteSession: { args: ['expected_user_id'], answer: ['deleted', 'run_id'] },
    expireSession: { args: ['cutoff'], answer: ['expired', 'run_id'] },
    awaitChanges: {
      args: ['after_version', 'wait_ms', 'expected_user_id'],
      answer: ['version', 'born_version', 'changes', 'reconnect'],
    },
  },
  ack: ['version', 'context'],
  signals: {
    turn: { args: ['turn_id', 'user', 'assistant', 'agent_type', 'user_id', 'expected_user_id'] },
    drain: {},
  },
  queries: { context: {}, recentMessages: {}, snapshot: {}, turnStatus: {}, status: {} },
  status: ['exists', 'version', 'persisted_version', 'commands_this_run', 'closing', 'state', 'failure'],
  context: [
    'session_id',
    'user_id',
    'agent_type',
    'messages',
    'metadata',
    'created_at',
    'updated_at',
    'settings',
  ],
  message: ['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'extra'],
  toolCall: ['id', 'type', 'function'],
  settings: ['window_messages', 'window_bytes', 'transcript'],
  changeTypes: ['session', 'appended', 'cleared', 'metadata', 'deleted'],
  failureTypes: [
    'ValidationError',
    'SessionNotFoundError',
    'SessionConflictError',
    'SessionExistsError',
    'VersionMismatchError',
    'ActorClosing',
    'UnprocessedUpdate',
    'SessionStorageFailed',
  ],
  ephemeralUpdateIdPrefix: 'auto:',
  lifecycleStates: ['loading', 'active', 'failed', 'removed', 'ending'],
  busyMessage: 'session actor busy: loading state or applying received turns',
  searchAttributes: { SessionId: 'Keyword', UserId: 'Int', AgentType: 'Keyword' },
};

// Complete examples of every payload, typed with the exported interfaces: `Required<>` makes tsc fail when a
// field is added, and the object literal fails when one is removed or renamed. Their keys are what we compare.
const settings: Required<WireSettings> = { window_messages: 20, window_bytes: 1, transcript: true };
const context: Required<WireContext> = {
  session_id: 's',
  user_id: 1,
  agent_type: '',
  messages: [],
  metadata: {},
  created_at: 0,
  updated_at: 0,
  settings,
};
const toolCall: Required<ToolCall> = { id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } };
const wireMessage: Required<WireMessage> = {
  role: 'tool',
  content: 'x',
  name: 'n',
  tool_calls: [toolCall],
  tool_call_id: 'c',
  extra: {},
};
const message: Required<AppendMessageArgs> = {
  ...wireMessage,
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const stepArgs: Required<AppendMessagesArgs> = {
  messages: [],
  agent_type: '',
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const configureArgs: Required<ConfigureSessionArgs> = {
  settings,
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const forkArgs: Required<ForkSessionArgs> = {
  from_session_id: 's',
  from_version: 1,
  context: { user_id: 1, messages: [], metadata: {} },
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const forkContext: Required<ForkSessionArgs['context']> = {
  user_id: 1,
  messages: [],
  metadata: {},
  agent_type: '',
  settings,
};
const watchArgs: Required<AwaitChangesArgs> = { after_version: 0, wait_ms: 0, expected_user_id: 1 };
const watchAnswer: Required<ChangesAnswer> = { version: 1, born_version: 1, changes: [], reconnect: true };
const batch: Required<TranscriptBatch> = { version: 1, messages: [] };
const clearArgs: Required<EmptyArgs> = {
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const input: Required<SessionActorInput> = {
  session_id: 's',
  idle_timeout_ms: 1,
  continue_as_new_after: 1,
  remember_turn_ids: 1,
  persist_delay_ms: 1,
  persist_every: 1,
  persist_leading_edge: false,
  remove_locally: true,
  carried: { snapshot: null, persisted_version: 0, turns: [], transcript: [batch] },
};
const result: Required<SessionActorResult> = {
  reason: 'idle',
  version: 0,
  unsaved: { context, version: 1 },
};
const save: Required<SaveContextArgs> = {
  context: { user_id: 1, messages: [], metadata: {} },
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const saveContext: Required<SaveContextArgs['context']> = {
  user_id: 1,
  messages: [],
  metadata: {},
  agent_type: '',
  created_at: 0,
  settings,
};
const recover: Required<RecoverSessionArgs> = {
  user_id: 1,
  agent_type: '',
  settings,
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const turnArgs: Required<AppendTurnArgs> = {
  user: 'u',
  assistant: 'a',
  agent_type: '',
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
const metadataArgs: Required<UpdateMetadataArgs> = {
  metadata: {},
  expected_user_id: 1,
  expected_version: 1,
  turn_id: 't',
  answer: 'version',
};
type UpdateArgs<D> = D extends UpdateDefinition<unknown, [infer A]> ? A : never;
type UpdateAnswer<D> = D extends UpdateDefinition<infer R, [unknown]> ? R : never;
const expireArgs: Required<UpdateArgs<typeof messages.expireSessionUpdate>> = { cutoff: 0 };
const deleteArgs: Required<UpdateArgs<typeof messages.deleteSessionUpdate>> = { expected_user_id: 1 };
const deleteAnswer: Required<UpdateAnswer<typeof messages.deleteSessionUpdate>> = {
  deleted: true,
  run_id: 'r',
};
const expireAnswer: Required<UpdateAnswer<typeof messages.expireSessionUpdate>> = {
  expired: true,
  run_id: 'r',
};
const turnSignalArgs: Required<TurnSignalArgs> = {
  turn_id: 't',
  user: 'u',
  assistant: 'a',
  agent_type: '',
  user_id: 1,
  expected_user_id: 1,
};
const ack: Required<CommandAck> = { version: 1, context };
const status: Required<ActorStatus> = {
  exists: true,
  version: 0,
  persisted_version: 0,
  commands_this_run: 0,
  closing: false,
  state: 'active',
  failure: { during: 'write', code: '22003', message: 'x' },
};

const keys = (o: object): string[] => Object.keys(o);

function namesOf(kind: 'update' | 'signal' | 'query'): string[] {
  return (Object.values(messages) as unknown[])
    .filter((v): v is { type: string; name: string } => typeof v === 'object' && v !== null && 'type' in v)
    .filter((d) => d.type === kind)
    .map((d) => d.name)
    .sort();
}

describe('actor protocol v1', () => {
  test('constants and addressing', () => {
    expect(messages.PROTOCOL_VERSION).toBe(EXPECTED.version);
    expect(messages.SESSION_WORKFLOW_TYPE).toBe(EXPECTED.workflowType);
    expect(messages.WORKFLOW_ID_PREFIX).toBe(EXPECTED.workflowIdPrefix);
    expect(messages.sessionWorkflowId('demo-1')).toBe('session/demo-1');
    expect(DEFAULT_TASK_QUEUE).toBe(EXPECTED.defaultTaskQueue);
    expect(messages.ACTOR_BUSY).toBe(EXPECTED.busyMessage);
    expect([
      ...Object.values(FAILURE_TYPES),
      messages.ACTOR_CLOSING,
      'UnprocessedUpdate',
      messages.SESSION_STORAGE_FAILED,
    ]).toEqual(EXPECTED.failureTypes);
    expect(messages.EPHEMERAL_UPDATE_ID_PREFIX).toBe(EXPECTED.ephemeralUpdateIdPrefix);
    expect(SEARCH_ATTRIBUTES).toEqual(EXPECTED.searchAttributes);
  });

  test('every update, signal and query name', () => {
    expect(namesOf('update')).toEqual(Object.keys(EXPECTED.updates).sort());
    expect(namesOf('signal')).toEqual(Object.keys(EXPECTED.signals).sort());
    expect(namesOf('query')).toEqual(Object.keys(EXPECTED.queries).sort());
  });

  test('every payload shape', () => {
    expect(keys(input)).toEqual(EXPECTED.input);
    expect(keys(result)).toEqual(EXPECTED.result);
    expect(keys(context)).toEqual(EXPECTED.context);
    expect(keys(message)).toEqual(EXPECTED.updates.appendMessage.args);
    expect(keys(save)).toEqual(EXPECTED.updates.saveContext.args);
    expect(keys(saveContext)).toEqual(EXPECTED.updates.saveContext.context);
    expect(keys(recover)).toEqual(EXPECTED.updates.recoverSession.args);
    expect(keys(turnArgs)).toEqual(EXPECTED.updates.appendTurn.args);
    expect(keys(metadataArgs)).toEqual(EXPECTED.updates.updateMetadata.args);
    expect(keys(expireArgs)).toEqual(EXPECTED.updates.expireSession.args);
    expect(keys(deleteArgs)).toEqual(EXPECTED.updates.deleteSession.args);
    expect(keys(deleteAnswer)).toEqual(EXPECTED.updates.deleteSession.answer);
    expect(keys(expireAnswer)).toEqual(EXPECTED.updates.expireSession.answer);
    expect(keys(clearArgs)).toEqual(EXPECTED.updates.clearMessages.args);
    expect(keys(wireMessage)).toEqual(EXPECTED.message);
    expect(keys(toolCall)).toEqual(EXPECTED.toolCall);
    expect(keys(settings)).toEqual(EXPECTED.settings);
    expect(keys(stepArgs)).toEqual(EXPECTED.updates.appendMessages.args);
    expect(keys(configureArgs)).toEqual(EXPECTED.updates.configureSession.args);
    expect(keys(forkArgs)).toEqual(EXPECTED.updates.forkSession.args);
    expect(keys(forkContext)).toEqual(EXPECTED.updates.forkSession.context);
    expect(keys(watchArgs)).toEqual(EXPECTED.updates.awaitChanges.args);
    expect(keys(watchAnswer)).toEqual(EXPECTED.updates.awaitChanges.answer);
    expect([...CHANGE_TYPES]).toEqual(EXPECTED.changeTypes);
    expect(keys(turnSignalArgs)).toEqual(EXPECTED.signals.turn.args);
    expect(keys(ack)).toEqual(EXPECTED.ack);
    expect(keys(status)).toEqual(EXPECTED.status);
  });

  test('docs/actor-protocol.md documents every name and field', () => {
    const doc = fs.readFileSync(path.join(__dirname, '..', 'docs', 'actor-protocol.md'), 'utf8');
    expect(doc).toMatch(new RegExp(`protocol, version ${EXPECTED.version}\\b`));
    expect(doc).toContain(`PROTOCOL_VERSION = ${EXPECTED.version}`);
    const names = [
      EXPECTED.workflowType,
      `${EXPECTED.workflowIdPrefix}<session_id>`,
      EXPECTED.defaultTaskQueue,
      EXPECTED.busyMessage,
      ...EXPECTED.input,
      ...EXPECTED.result,
      ...Object.keys(EXPECTED.updates),
      ...Object.values(EXPECTED.updates).flatMap((u) => [
        ...u.args,
        ...('context' in u ? u.context : []),
        ...('answer' in u ? u.answer : []),
      ]),
      ...Object.keys(EXPECTED.signals),
      ...EXPECTED.signals.turn.args,
      ...Object.keys(EXPECTED.queries),
      ...EXPECTED.status,
      ...EXPECTED.context,
      ...EXPECTED.message,
      ...EXPECTED.settings,
      ...EXPECTED.changeTypes,
      ...EXPECTED.failureTypes,
      ...Object.keys(EXPECTED.searchAttributes),
      EXPECTED.ephemeralUpdateIdPrefix,
      ...EXPECTED.lifecycleStates,
    ];
    const missing = [...new Set(names)].filter((n) => !doc.includes(`\`${n}\``) && !doc.includes(`"${n}"`));
    expect(missing).toEqual([]);
  });
});
