// The schemas of messages (TypeBox), in the OpenAI chat shape: as a request carries them (checked) and as the API
// answers them (stored). Used by schemas-session.ts, schemas-writes.ts and the session routes.
import { Type } from '@sinclair/typebox';
import { LIMITS } from '../types';
import {
  Content,
  JsonValue,
  NAME_PATTERN,
  NO_PROTOTYPE_KEYS,
  STORABLE_TEXT_PATTERN,
  STORABLE_TEXT_RULE,
  StorableKey,
  TOOL_CALL_ID_PATTERN,
} from './schemas-common';

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

const Role = Type.Union([
  Type.Literal('user'),
  Type.Literal('assistant'),
  Type.Literal('system'),
  Type.Literal('tool'),
]);
export const StoredMessage = Type.Object({
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
