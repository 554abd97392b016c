// The schemas of writes (TypeBox): their headers (Prefer, Idempotency-Key, If-Match), bodies and answers, and the
// status of a durable turn. Used by the session and agent routes (session-routes.ts, agent-routes.ts).
import { Type, type Static } from '@sinclair/typebox';
import { LIMITS, MAX_MESSAGES_PER_SESSION } from '../types';
import {
  AgentType,
  Content,
  HEADER_TOKEN_PATTERN,
  METADATA_RULE,
  Metadata,
  SessionId,
  UNIX_SECONDS,
  UserId,
  metadataOptions,
} from './schemas-common';
import { Message } from './schemas-messages';
import { Session, Settings } from './schemas-session';

export const Applied = Type.Object(
  {
    version: Type.Integer({
      minimum: 1,
      description: "The session's version after this write (the same on a replay)",
    }),
    session: Session,
  },
  { description: 'An applied write: the session after it' },
);

/** An applied write asked for with `Prefer: return=minimal`: no body; its version is the ETag. */
export const AppliedMinimal = Type.Null({
  description:
    'Applied (Prefer: return=minimal): no body; the version after the write is the ETag, and Preference-Applied says ' +
    'return=minimal',
});

export const WriteHeaders = Type.Object({
  prefer: Type.Optional(
    Type.String({
      maxLength: 256,
      description:
        'return=minimal: answer 204 with the version as ETag instead of 200 with the session (the session does not ' +
        "travel back through Temporal's history with the write)",
    }),
  ),
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: LIMITS.turnIdMaxLength,
      pattern: HEADER_TOKEN_PATTERN,
      description:
        "The write's turn id: a retry with the same key is applied once and answers as the first did",
    }),
  ),
});

/** The PUT of a whole session may be made on the condition that the session is still at the version read. */
export const SaveHeaders = Type.Object({
  ...WriteHeaders.properties,
  'if-match': Type.Optional(
    Type.String({
      pattern: '^"(0|[1-9][0-9]{0,14})"$',
      description:
        'The ETag of the session as GET gave it (its version, quoted; "0": it must not exist yet): another version ' +
        'is 412 version_mismatch and nothing changes',
    }),
  ),
});

/** PUT accepts a whole session as GET returns it; session_id and updated_at are ignored (the path and the clock win). */
export const SaveBody = Type.Object(
  {
    session_id: Type.Optional(Type.String({ description: 'Ignored: the path names the session' })),
    user_id: Type.Optional(UserId),
    agent_type: Type.Optional(AgentType),
    messages: Type.Optional(Type.Array(Message, { maxItems: 1000 })),
    metadata: Type.Optional(Metadata),
    created_at: Type.Optional(
      Type.Integer({
        ...UNIX_SECONDS,
        description: 'Unix seconds; 0 or absent: now (kept when the session exists)',
      }),
    ),
    updated_at: Type.Optional(Type.Integer({ ...UNIX_SECONDS, description: 'Ignored: the clock sets it' })),
    settings: Type.Optional(Settings),
  },
  {
    additionalProperties: false,
    description:
      `Replaces the session's content and settings (absent settings: the defaults). Messages beyond the window ` +
      `(${MAX_MESSAGES_PER_SESSION} by default) are dropped from the front`,
  },
);
export type SaveBodyT = Static<typeof SaveBody>;

export const RecoverBody = Type.Object(
  {
    user_id: Type.Optional(UserId),
    agent_type: Type.Optional(AgentType),
    settings: Type.Optional(Settings),
  },
  { additionalProperties: false, description: '`settings` apply to a session this creates' },
);

export const StepBody = Type.Object(
  {
    messages: Type.Array(Message, {
      minItems: 1,
      maxItems: LIMITS.stepMaxMessages,
      description:
        `The step's messages in order, at most ${LIMITS.stepMaxBytes} bytes of content and tool arguments in all ` +
        '(UTF-8)',
    }),
    agent_type: Type.Optional(AgentType),
  },
  {
    additionalProperties: false,
    description: 'One agent step: user, assistant with tool calls, tool results, answer',
  },
);

export const ForkBody = Type.Object(
  { session_id: Type.String({ ...SessionId, description: 'The new session: it must not exist yet' }) },
  { additionalProperties: false },
);

export const MetadataPatch = Type.Object(
  {},
  { minProperties: 1, ...metadataOptions(`Keys to set; other keys stay. ${METADATA_RULE}`) },
);

export const TurnBody = Type.Object(
  { user: Content, assistant: Content, agent_type: Type.Optional(AgentType) },
  { additionalProperties: false },
);

export const TurnQuery = Type.Object({
  ack: Type.Optional(
    Type.Union([Type.Literal('applied'), Type.Literal('durable')], {
      description: 'applied (default): answered once applied; durable: answered once Temporal persisted it',
    }),
  ),
});

export const DurableAccepted = Type.Object({ turn_id: Type.String() });

// ---- durable turn status ------------------------------------------------------------------------------------

export const TurnParams = Type.Object({
  id: SessionId,
  turn_id: Type.String({
    minLength: 1,
    maxLength: LIMITS.turnIdMaxLength,
    description: 'The turn id of a durable turn',
  }),
});

export const TurnStatus = Type.Union(
  [
    Type.Object(
      { status: Type.Literal('applied'), version: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
    Type.Object(
      { status: Type.Literal('rejected'), code: Type.String(), message: Type.String() },
      { additionalProperties: false },
    ),
    Type.Object({ status: Type.Literal('unknown') }, { additionalProperties: false }),
  ],
  {
    description:
      'What became of a durable turn: applied (with its version), rejected (with the reason; never applied), or ' +
      'unknown (not applied yet, no actor running, or forgotten: the actor keeps its last 256 turn ids)',
  },
);
