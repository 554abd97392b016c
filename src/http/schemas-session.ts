// The session as the API answers it (TypeBox), whole or in parts (recent messages, transcript and list pages), its
// settings, and the path parameters that name a session or a user. Used by the routes and schemas-writes.ts.
import { Type } from '@sinclair/typebox';
import { LIMITS, MAX_MESSAGES_PER_SESSION } from '../types';
import { AgentType, CURSOR_PATTERN, INT32, SessionId, StoredMetadata, UserId } from './schemas-common';
import { StoredMessage } from './schemas-messages';

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

// ---- the session and its parts ------------------------------------------------------------------------------
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

export const SessionParams = Type.Object({ id: SessionId });
export const UserParams = Type.Object({ user_id: UserId });

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
