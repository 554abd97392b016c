// The building blocks of the API's JSON schemas (TypeBox: routes declare the schemas, handlers take their types from
// them, and /openapi.json is generated from them): patterns and their rules in words, ids, message content and
// metadata. Used by the other schemas-*.ts modules; validation.ts and openapi.ts read the rules and the keys.
import { Type } from '@sinclair/typebox';
import { LIMITS } from '../types';

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

export const INT32 = { minimum: -2147483648, maximum: 2147483647 };
export const UNIX_SECONDS = { minimum: 0, maximum: LIMITS.maxUnixSeconds };
export const STORABLE_TEXT_RULE =
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
export const Content = Type.String({
  minLength: 1,
  // maxLength counts characters; every character is at least one UTF-8 byte, so this bound never refuses a text
  // the byte rule accepts.
  maxLength: LIMITS.messageContentMaxBytes,
  pattern: STORABLE_TEXT_PATTERN,
  description:
    `1 character to ${LIMITS.messageContentMaxBytes} bytes as UTF-8 (the bytes are the rule: a text within ` +
    `maxLength but over ${LIMITS.messageContentMaxBytes} bytes is 400 invalid_argument). ${STORABLE_TEXT_RULE}`,
});

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
export const StorableKey = { pattern: STORABLE_TEXT_PATTERN, ...NOT_PROTO_KEY };

/** A metadata value: any JSON the stores keep unchanged (finite numbers, storable text, at any nesting kept). */
export const JsonValue = Type.Recursive(
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

export const METADATA_RULE =
  `A JSON object, at most ${LIMITS.metadataMaxBytes} bytes as UTF-8 JSON (after a patch too) and nested at most ` +
  `${LIMITS.metadataMaxDepth} levels; keys are 1..${LIMITS.metadataKeyMaxLength} UTF-16 code units (a character ` +
  `beyond U+FFFF counts twice). ${STORABLE_TEXT_RULE}`;
export const metadataOptions = (description: string) => ({
  additionalProperties: JsonValue,
  propertyNames: { minLength: 1, maxLength: LIMITS.metadataKeyMaxLength, ...StorableKey },
  ...NO_PROTOTYPE_KEYS,
  description,
});
export const Metadata = Type.Object({}, metadataOptions(METADATA_RULE));
/** Metadata as the API answers it (it was checked on the way in). */
export const StoredMetadata = Type.Record(Type.String(), Type.Unknown());
