// The API's JSON schemas (TypeBox): the wire form of sessions, request bodies, answers and errors.
// Routes declare them, handlers take their types from them, and /openapi.json is generated from them.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { LIMITS, MAX_MESSAGES_PER_SESSION } from '../types';
import { HTTP_ERRORS, type HttpErrorCode } from './errors';

// Patterns are written so that ECMAScript (with or without the u flag) and Python read them alike: TypeBox
// validates with them, and schemathesis and client generators read them from /openapi.json.
export const SESSION_ID_PATTERN = '^[A-Za-z0-9._:-]+$';
export const AGENT_TYPE_PATTERN = '^[A-Za-z0-9._-]*$';
/** No NUL: Postgres jsonb cannot store U+0000. (Lone surrogates, which jsonb refuses too, cannot be a pattern.) */
export const STORABLE_TEXT_PATTERN = '^[^\\u0000]*$';
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]+$';
/** Visible ASCII, inner spaces allowed: what an HTTP header carries unchanged (servers trim the ends). */
export const HEADER_TOKEN_PATTERN = '^[\\x21-\\x7e](?:[\\x20-\\x7e]*[\\x21-\\x7e])?$';
/** Message names and function names (src/session-rules.ts). */
export const NAME_PATTERN = '^[A-Za-z0-9_.:-]+$';
/** Tool call ids: visible ASCII. */
export const TOOL_CALL_ID_PATTERN = '^[\\x21-\\x7e]+$';

/** Each pattern's rule in words, for validation errors (src/http/validation.ts). */
export const PATTERN_RULES: Record<string, string> = {
  [SESSION_ID_PATTERN]: 'may only contain A-Z a-z 0-9 . _ : -',
  [AGENT_TYPE_PATTERN]: 'may only contain A-Z a-z 0-9 . _ -',
  [STORABLE_TEXT_PATTERN]: 'must be valid Unicode without the NUL character',
  [CURSOR_PATTERN]: 'is not a cursor returned by a previous page',
  [HEADER_TOKEN_PATTERN]: 'must be visible ASCII (spaces only inside)',
  [NAME_PATTERN]: 'may only contain A-Z a-z 0-9 _ . : -',
  [TOOL_CALL_ID_PATTERN]: 'must be visible ASCII',
};

const INT32 = { minimum: -2147483648, maximum: 2147483647 };
const UNIX_SECONDS = { minimum: 0, maximum: LIMITS.maxUnixSeconds };
const STORABLE_TEXT_RULE =
  'No NUL character and no lone UTF-16 surrogate (Postgres jsonb stores neither; a pattern can only say the first).';

export const SessionId = Type.String({
  minLength: 1,
  maxLength: LIMITS.sessionIdMaxLength,
  pattern: SESSION_ID_PATTERN,
  description: 'Opaque session id; prefer unguessable ids (e.g. UUIDs)',
});
export const UserId = Type.Integer({ ...INT32, description: 'A user id: a 32-bit signed integer' });
export const AgentType = Type.String({
  maxLength: LIMITS.agentTypeMaxLength,
  pattern: AGENT_TYPE_PATTERN,
  description: 'e.g. memo, schedule, assistant; may be empty',
});
const Content = Type.String({
  minLength: 1,
  // maxLength counts characters; every character is at least one UTF-8 byte, so this bound never refuses a text
  // the byte rule accepts.
  maxLength: LIMITS.messageContentMaxBytes,
  pattern: STORABLE_TEXT_PATTERN,
  description:
    `1 character to ${LIMITS.messageContentMaxBytes} bytes as UTF-8 (the bytes are the rule: a text within ` +
    `maxLength but over ${LIMITS.messageContentMaxBytes} bytes is 400 invalid_argument). ${STORABLE_TEXT_RULE}`,
});
const Role = Type.Union([
  Type.Literal('user'),
  Type.Literal('assistant'),
  Type.Literal('system'),
  Type.Literal('tool'),
]);

/**
 * An object that may not carry `constructor.prototype` (refused in every body, with `__proto__`, by the JSON
 * parser: src/http/json-body.ts). TypeBox ignores these keywords; they are here for the document.
 */
export const NO_PROTOTYPE_KEYS = {
  not: {
    required: ['constructor'],
    properties: { constructor: { type: 'object', required: ['prototype'] } },
  },
};
export const NOT_PROTO_KEY = { not: { const: '__proto__' } };
const StorableKey = { pattern: STORABLE_TEXT_PATTERN, ...NOT_PROTO_KEY };

/** A metadata value: any JSON the stores keep unchanged (finite numbers, storable text, at any nesting kept). */
const JsonValue = Type.Recursive(
  (This) =>
    Type.Union([
      Type.Null(),
      Type.Boolean(),
      Type.Number({ minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE }),
      Type.String({ pattern: STORABLE_TEXT_PATTERN }),
      Type.Array(This),
      Type.Object({}, { additionalProperties: This, propertyNames: StorableKey, ...NO_PROTOTYPE_KEYS }),
    ]),
  {
    $id: 'MetadataValue',
    description: `Any JSON value; numbers are finite doubles. ${STORABLE_TEXT_RULE}`,
  },
);

const METADATA_RULE =
  `A JSON object, at most ${LIMITS.metadataMaxBytes} bytes as UTF-8 JSON (after a patch too) and nested at most ` +
  `${LIMITS.metadataMaxDepth} levels; keys are 1..${LIMITS.metadataKeyMaxLength} UTF-16 code units (a character ` +
  `beyond U+FFFF counts twice). ${STORABLE_TEXT_RULE}`;
const metadataOptions = (description: string) => ({
  additionalProperties: JsonValue,
  propertyNames: { minLength: 1, maxLength: LIMITS.metadataKeyMaxLength, ...StorableKey },
  ...NO_PROTOTYPE_KEYS,
  description,
});
const Metadata = Type.Object({}, metadataOptions(METADATA_RULE));
/** Metadata as the API answers it (it was checked on the way in). */
const StoredMetadata = Type.Record(Type.String(), Type.Unknown());

// ---- messages (the OpenAI chat shape) ------------------------------------------------------------------------
const Name = Type.String({
  minLength: 1,
  maxLength: LIMITS.nameMaxLength,
  pattern: NAME_PATTERN,
  description: "The participant's name",
});
const ToolCallId = Type.String({
  minLength: 1,
  maxLength: LIMITS.toolCallIdMaxLength,
  pattern: TOOL_CALL_ID_PATTERN,
  description: 'The id the model gave the call (e.g. call_abc123)',
});
/** Content that may be empty: of an assistant message with tool calls, and of a tool result. */
const OptionalContent = Type.String({ ...Content, minLength: 0 });
const ToolCall = Type.Object(
  {
    id: ToolCallId,
    type: Type.Literal('function'),
    function: Type.Object(
      {
        name: Type.String({ ...Name, description: 'The function the model called' }),
        arguments: Type.String({
          maxLength: LIMITS.toolArgumentsMaxBytes,
          pattern: STORABLE_TEXT_PATTERN,
          description:
            `The arguments as the model wrote them (JSON text, usually; kept as sent), at most ` +
            `${LIMITS.toolArgumentsMaxBytes} bytes as UTF-8. ${STORABLE_TEXT_RULE}`,
        }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const ToolCalls = Type.Array(ToolCall, {
  minItems: 1,
  maxItems: LIMITS.toolCallsPerMessage,
  description: 'The calls the model made; their ids are unique in the window',
});
const Extra = Type.Object(
  {},
  {
    additionalProperties: JsonValue,
    propertyNames: StorableKey,
    ...NO_PROTOTYPE_KEYS,
    description:
      "What an agent framework's own form of the message holds beyond the chat shape (ids, statuses, content parts, " +
      `items the chat shape has no place for), kept as is: a JSON object, at most ${LIMITS.messageExtraMaxBytes} ` +
      `bytes as UTF-8 JSON, nested at most ${LIMITS.metadataMaxDepth} levels. ${STORABLE_TEXT_RULE}`,
  },
);
const textMessage = (role: 'user' | 'system' | 'assistant') =>
  Type.Object(
    {
      role: Type.Literal(role),
      content: Content,
      name: Type.Optional(Name),
      ...(role === 'assistant' ? { tool_calls: Type.Optional(ToolCalls) } : {}),
      extra: Type.Optional(Extra),
    },
    { additionalProperties: false },
  );

/**
 * A message as a request carries it: `{role, content, name?}`; an assistant message may carry `tool_calls` (then its
 * content may be empty) and a `tool` message answers one of them by `tool_call_id`. That call must be in the window
 * or earlier in the same request (400 invalid_argument otherwise: no schema can say it).
 */
export const Message = Type.Union(
  [
    textMessage('user'),
    textMessage('system'),
    textMessage('assistant'),
    Type.Object(
      {
        role: Type.Literal('assistant'),
        content: OptionalContent,
        name: Type.Optional(Name),
        tool_calls: ToolCalls,
        extra: Type.Optional(Extra),
      },
      { additionalProperties: false, description: 'An assistant message with tool calls' },
    ),
    Type.Object(
      {
        role: Type.Literal('tool'),
        content: OptionalContent,
        name: Type.Optional(Name),
        tool_call_id: Type.String({
          ...ToolCallId,
          description: 'The id of the tool call this result answers',
        }),
        extra: Type.Optional(Extra),
      },
      { additionalProperties: false, description: 'A tool result' },
    ),
  ],
  {
    description:
      'A message in the OpenAI chat shape. Send `""` as the content of an assistant message with tool calls where ' +
      'OpenAI has `null`. A tool message must answer a call in the window or earlier in the same request, once.',
  },
);
const StoredMessage = Type.Object({
  role: Role,
  content: Type.String(),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(
    Type.Array(
      Type.Object({
        id: Type.String(),
        type: Type.Literal('function'),
        function: Type.Object({ name: Type.String(), arguments: Type.String() }),
      }),
    ),
  ),
  tool_call_id: Type.Optional(Type.String()),
  extra: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

// ---- settings -----------------------------------------------------------------------------------------------
export const Settings = Type.Object(
  {
    window_messages: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: LIMITS.windowMaxMessages,
        description: `The window keeps at most this many messages (absent: ${MAX_MESSAGES_PER_SESSION})`,
      }),
    ),
    window_bytes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: LIMITS.windowMaxBytes,
        description:
          'and at most this many bytes of content and tool arguments (UTF-8); absent: no budget of its own ' +
          `(${LIMITS.windowMaxBytes} bytes at most for any session)`,
      }),
    ),
    transcript: Type.Optional(
      Type.Boolean({ description: 'Keep every message that enters the window in Postgres (absent: false)' }),
    ),
  },
  {
    additionalProperties: false,
    description:
      "The session's window and transcript. A tool call and its results enter and leave the window together.",
  },
);
const StoredSettings = Type.Object({
  window_messages: Type.Optional(Type.Integer()),
  window_bytes: Type.Optional(Type.Integer()),
  transcript: Type.Optional(Type.Boolean()),
});

export const Session = Type.Object(
  {
    session_id: Type.String(),
    user_id: Type.Integer(INT32),
    agent_type: Type.String(),
    messages: Type.Array(StoredMessage, { maxItems: LIMITS.windowMaxMessages }),
    metadata: StoredMetadata,
    created_at: Type.Integer({ minimum: 0, description: 'Unix seconds' }),
    updated_at: Type.Integer({ minimum: 0, description: 'Unix seconds' }),
    settings: Type.Optional(StoredSettings),
  },
  { description: 'A session in the reference JSON form; `settings` only when any is set' },
);

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

const ERROR_CODES = Object.keys(HTTP_ERRORS) as HttpErrorCode[];

export const ErrorBody = Type.Object(
  {
    code: Type.Unsafe<HttpErrorCode>({
      type: 'string',
      enum: ERROR_CODES,
      description: 'Stable error code from the registry (docs/http-api.md)',
    }),
    message: Type.String({ description: 'What is wrong, in words; never echoes the values sent' }),
  },
  { description: 'Every error answer' },
);

export const SessionParams = Type.Object({ id: SessionId });
export const UserParams = Type.Object({ user_id: UserId });

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
  last: Type.Optional(
    Type.Integer({
      minimum: -Number.MAX_SAFE_INTEGER,
      maximum: Number.MAX_SAFE_INTEGER,
      description: 'The last N messages; 0, negative or absent: all. A plain base-10 integer',
    }),
  ),
  max_bytes: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description:
        'At most this many bytes of content and tool arguments (UTF-8), newest first; a tool call and its results ' +
        'come whole or not at all',
    }),
  ),
});
export const MessagesAnswer = Type.Object({
  messages: Type.Array(StoredMessage, { maxItems: LIMITS.windowMaxMessages }),
});

/** The opaque keyset cursor of a page (lists, transcripts). */
const PageCursor = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: CURSOR_PATTERN,
  description:
    "The previous page's next_cursor, as it was given: any other text is 400 invalid_argument, even when it " +
    'matches this pattern',
});

export const TranscriptQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: LIMITS.transcriptMaxLimit,
      description: `Entries per page; 0 or absent: ${LIMITS.transcriptDefaultLimit}`,
    }),
  ),
  cursor: Type.Optional(PageCursor),
});
export const TranscriptAnswer = Type.Object({
  entries: Type.Array(
    Type.Object({
      version: Type.Integer({ minimum: 1, description: 'The version that brought the message in' }),
      message: StoredMessage,
    }),
    { maxItems: LIMITS.transcriptMaxLimit },
  ),
  next_cursor: Type.Optional(Type.String({ description: 'Absent on the last page' })),
});

export const MetadataPatch = Type.Object(
  {},
  { minProperties: 1, ...metadataOptions(`Keys to set; other keys stay. ${METADATA_RULE}`) },
);

export const ListQuery = Type.Object({
  limit: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: LIMITS.listMaxLimit,
      description: `0 or absent: ${LIMITS.listDefaultLimit}. A plain base-10 integer`,
    }),
  ),
  cursor: Type.Optional(PageCursor),
  agent_type: Type.Optional(AgentType),
});

export const SessionsPage = Type.Object({
  sessions: Type.Array(
    Type.Object({
      session_id: Type.String(),
      agent_type: Type.String(),
      last_message: Type.String(),
      updated_at: Type.Integer({ minimum: 0 }),
    }),
    { maxItems: LIMITS.listMaxLimit },
  ),
  next_cursor: Type.Optional(Type.String({ description: 'Absent on the last page' })),
});

export const CleanupBody = Type.Object(
  { retention_days: Type.Integer({ minimum: 0, maximum: 36500 }), dry_run: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const CleanupAnswer = Type.Object({
  deleted: Type.Integer({
    minimum: 0,
    description: 'Sessions deleted (dry run: sessions that are expired now)',
  }),
  dry_run: Type.Boolean(),
});

export const Health = Type.Object({ status: Type.Literal('ok') });
export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
  temporal: Type.Union([Type.Literal('ok'), Type.Literal('timeout'), Type.Literal('unavailable')]),
  postgres: Type.Union([Type.Literal('ok'), Type.Literal('timeout'), Type.Literal('unavailable')]),
});

export type SaveBodyT = Static<typeof SaveBody>;

/** The response headers that go with an error status (src/http/errors.ts errorAnswer sets them). */
const ERROR_HEADERS: Record<number, Record<string, TSchema>> = {
  401: { 'www-authenticate': Type.Literal('Bearer', { description: 'The auth scheme to use' }) },
  429: { 'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before retrying' }) },
  503: { 'retry-after': Type.Integer({ minimum: 0, description: 'Seconds to wait before retrying' }) },
};

/**
 * Codes no route answers with: not_found and method_not_allowed are for requests no route matched
 * (src/http/unmatched.ts); /readyz says not ready in its own body.
 */
const NOT_FROM_ROUTES = new Set<HttpErrorCode>(['not_found', 'method_not_allowed', 'not_ready']);

/** The error answer for `status` in a route's response map: the codes it can carry on a route, and its headers. */
export function errorResponse(status: number): TSchema {
  const codes = ERROR_CODES.filter(
    (code) => HTTP_ERRORS[code].status === status && !NOT_FROM_ROUTES.has(code),
  );
  const headers = ERROR_HEADERS[status];
  return Type.Object(
    {
      code: Type.Unsafe<HttpErrorCode>({ type: 'string', enum: codes }),
      message: ErrorBody.properties.message,
    },
    { description: `Error: ${codes.map((c) => `\`${c}\``).join(', ')}`, ...(headers ? { headers } : {}) },
  );
}

/**
 * Error answers of the session routes beyond those every authenticated route gives (src/http/openapi.ts adds
 * those: 400, 401, 403, 408, 413 and 415 where a body is read, 431, 500).
 */
export const errorResponses = {
  404: errorResponse(404),
  429: errorResponse(429),
  503: errorResponse(503),
} as const;

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
