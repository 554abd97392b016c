// The API's JSON schemas (TypeBox): the wire form of sessions, request bodies, answers and errors.
// Routes declare them, handlers take their types from them, and /openapi.json is generated from them.
import { Type, type Static } from '@sinclair/typebox';
import { LIMITS, MAX_MESSAGES_PER_SESSION } from '../types';

export const SessionId = Type.String({
  minLength: 1,
  maxLength: LIMITS.sessionIdMaxLength,
  pattern: '^[A-Za-z0-9._:-]+$',
  description: 'Opaque session id; prefer unguessable ids (e.g. UUIDs)',
});
export const UserId = Type.Integer({ minimum: -2147483648, maximum: 2147483647 });
export const AgentType = Type.String({ maxLength: LIMITS.agentTypeMaxLength, pattern: '^[A-Za-z0-9._-]*$' });
/** Characters here; the rules also cap content at LIMITS.messageContentMaxBytes UTF-8 bytes. */
const Content = Type.String({ minLength: 1, maxLength: LIMITS.messageContentMaxBytes });
const Role = Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system')]);
/** A JSON object; the rules cap it at LIMITS.metadataMaxBytes as JSON. */
const Metadata = Type.Record(Type.String(), Type.Unknown());
const UnixSeconds = Type.Integer({ minimum: 0, description: 'Unix seconds' });

export const Message = Type.Object({ role: Role, content: Content }, { additionalProperties: false });

export const Session = Type.Object(
  {
    session_id: Type.String(),
    user_id: Type.Integer(),
    agent_type: Type.String(),
    messages: Type.Array(Type.Object({ role: Role, content: Type.String() })),
    metadata: Metadata,
    created_at: Type.Integer(),
    updated_at: Type.Integer(),
  },
  { description: 'A session in the reference JSON form' },
);

export const Applied = Type.Object(
  {
    version: Type.Integer({ description: "The session's version after this write (the same on a replay)" }),
    session: Session,
  },
  { description: 'An applied write: the session after it' },
);

export const ErrorBody = Type.Object(
  { code: Type.String({ description: 'Stable error code (see docs/http-api.md)' }), message: Type.String() },
  { description: 'Every error answer' },
);

export const SessionParams = Type.Object({ id: SessionId });
export const UserParams = Type.Object({ user_id: UserId });

export const WriteHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: LIMITS.turnIdMaxLength,
      description:
        "The write's turn id: a retry with the same key is applied once and answers as the first did",
    }),
  ),
});

/** PUT accepts a whole session as GET returns it; session_id and updated_at are ignored (the path and the clock win). */
export const SaveBody = Type.Object(
  {
    session_id: Type.Optional(Type.String()),
    user_id: Type.Optional(UserId),
    agent_type: Type.Optional(AgentType),
    messages: Type.Optional(Type.Array(Message, { maxItems: 1000 })),
    metadata: Type.Optional(Metadata),
    created_at: Type.Optional(UnixSeconds),
    updated_at: Type.Optional(Type.Integer()),
  },
  {
    additionalProperties: false,
    description: `Messages beyond the window (${MAX_MESSAGES_PER_SESSION}) are dropped from the front`,
  },
);

export const RecoverBody = Type.Object(
  { user_id: Type.Optional(UserId), agent_type: Type.Optional(AgentType) },
  { additionalProperties: false },
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

export const MessagesQuery = Type.Object({
  last: Type.Optional(Type.Integer({ description: 'The last N messages; 0 or absent means all' })),
});
export const MessagesAnswer = Type.Object({
  messages: Type.Array(Type.Object({ role: Role, content: Type.String() })),
});

export const MetadataPatch = Type.Record(
  Type.String({ minLength: 1, maxLength: LIMITS.metadataKeyMaxLength }),
  Type.Unknown(),
  {
    minProperties: 1,
    description: 'Keys to set; other keys stay',
  },
);

export const ListQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({ minimum: 0, maximum: LIMITS.listMaxLimit, description: '0 or absent: 20' }),
  ),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  agent_type: Type.Optional(AgentType),
});

export const SessionsPage = Type.Object({
  sessions: Type.Array(
    Type.Object({
      session_id: Type.String(),
      agent_type: Type.String(),
      last_message: Type.String(),
      updated_at: Type.Integer(),
    }),
  ),
  next_cursor: Type.Optional(Type.String({ description: 'Absent on the last page' })),
});

export const CleanupBody = Type.Object(
  { retention_days: Type.Integer({ minimum: 0, maximum: 36500 }), dry_run: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const CleanupAnswer = Type.Object({
  deleted: Type.Integer({ description: 'Sessions deleted (dry run: sessions that are expired now)' }),
  dry_run: Type.Boolean(),
});

export const Health = Type.Object({ status: Type.String() });
export const Readiness = Type.Object({
  status: Type.String(),
  temporal: Type.String(),
  postgres: Type.String(),
});

export type SaveBodyT = Static<typeof SaveBody>;

/** Error answers every route may give, for the OpenAPI document. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
} as const;
