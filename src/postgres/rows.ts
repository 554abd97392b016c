// Stored rows back into sessions: a `conversation_context` row as node-postgres returns it, checked field by field,
// so that a malformed row is a StorageError and never an empty session. Used by snapshots.ts, fence.ts and
// transcript.ts.
import { StorageError } from '../errors';
import type { SessionSnapshot } from '../session-rules';
import {
  type Message,
  type Metadata,
  ROLES,
  type Role,
  type WireMessage,
  type WireSettings,
  fromWireMessage,
  fromWireSettings,
} from '../types';

/**
 * A `conversation_context` row as node-postgres returns it. bigint columns arrive as numbers from a createPool
 * pool and as strings from a default pg.Pool, so every reader goes through int().
 */
export interface SnapshotRow {
  session_id: string;
  user_id: number;
  agent_type: string;
  context_data: unknown;
  created_at: number | string;
  updated_at: number | string;
  version: number | string;
}

/** A bigint column as a JS number (Unix seconds and versions are far below 2^53). */
export function int(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Turns a row into a snapshot; a malformed context_data is a StorageError, never an empty session. */
export function rowToSnapshot(row: SnapshotRow): SessionSnapshot {
  const corrupt = (why: string) =>
    new StorageError(`session ${row.session_id} has a corrupt context_data row: ${why}`);
  const data = row.context_data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw corrupt('not a JSON object');
  const { metadata, messages, settings } = data as {
    metadata?: unknown;
    messages?: unknown;
    settings?: unknown;
  };
  // null/absent is what the reference writes for a nil map or slice; any other non-object/non-array is corrupt.
  if (metadata != null && (typeof metadata !== 'object' || Array.isArray(metadata)))
    throw corrupt('metadata is not an object');
  if (messages != null && !Array.isArray(messages)) throw corrupt('messages is not an array');
  if (settings != null && (typeof settings !== 'object' || Array.isArray(settings)))
    throw corrupt('settings is not an object');
  const parsed: Message[] = ((messages ?? []) as unknown[]).map((m, i) => {
    const message = storedMessage(m);
    if (!message) throw corrupt(`messages[${i}] is malformed`);
    return message;
  });
  const known = settings ? fromWireSettings(settings as WireSettings) : undefined;
  return {
    context: {
      sessionId: row.session_id,
      userId: row.user_id,
      agentType: row.agent_type,
      messages: parsed,
      metadata: (metadata ?? {}) as Metadata,
      createdAt: int(row.created_at),
      updatedAt: int(row.updated_at),
      ...(known ? { settings: known } : {}),
    },
    version: int(row.version),
  };
}

/** A stored message (wire form), or null when it is not one: a role, text content, and well-formed tool fields. */
export function storedMessage(m: unknown): Message | null {
  if (typeof m !== 'object' || m === null) return null;
  const w = m as Record<string, unknown>;
  if (!ROLES.includes(w.role as Role) || typeof w.content !== 'string') return null;
  if (w.name !== undefined && typeof w.name !== 'string') return null;
  if (w.tool_call_id !== undefined && typeof w.tool_call_id !== 'string') return null;
  const calls = w.tool_calls;
  if (calls !== undefined) {
    const wellFormed = (c: unknown): boolean => {
      const call = c as { id?: unknown; function?: { name?: unknown; arguments?: unknown } } | null;
      return (
        typeof call === 'object' &&
        call !== null &&
        typeof call.id === 'string' &&
        typeof call.function === 'object' &&
        call.function !== null &&
        typeof call.function.name === 'string' &&
        typeof call.function.arguments === 'string'
      );
    };
    if (!Array.isArray(calls) || !calls.every(wellFormed)) return null;
  }
  return fromWireMessage(w as unknown as WireMessage);
}
