// Data keys per session (crypto-shredding, docs/encryption.md): a random 32-byte key per session, kept in Postgres
// (session_key, migrations/4_session_keys.sql) wrapped by the master key; cached here for a short while. Used by
// SessionKeyCodec (session-key-codec.ts) in every client, worker and the codec server.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Queryable } from '../postgres/snapshots';
import { query } from '../postgres/snapshots';
import { PayloadDecryptionError } from './aes-gcm-codec';
import type { KeyRing } from './keys';

/** A session's data key. */
export interface SessionKey {
  id: string;
  sessionId: string;
  key: Buffer;
  /**
   * Retired by the actor's delete (migrations/7_session_key_retire.sql): never used to seal again, shown as erased by
   * the codec server, still opened for the removing run's own replays until it is destroyed (destroyRetiredKeys).
   */
  retired?: boolean;
}

const DATA_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** How long a key stays in a process's cache: a deletion in another process is seen by this one at most this late. */
export const SESSION_KEY_CACHE_MS = 30_000;
const CACHE_MAX = 10_000;

/** Every store of this process, so that a deletion here drops the key from all of them at once. */
const stores = new Set<SessionKeyStore>();

/** Drops a session's key from every cache of this process (called right after the session is deleted). */
export function forgetSessionKey(sessionId: string): void {
  forgetSessionKeys([sessionId]);
}

/**
 * Drops these sessions' keys from every cache of this process: one pass over each cache for the whole set, so a
 * cleanup's batch of 2,000 costs one walk of a full cache (10,000 keys), not 2,000 of them.
 */
export function forgetSessionKeys(sessionIds: Iterable<string>): void {
  const ids = new Set(sessionIds);
  if (ids.size === 0) return;
  for (const s of stores) s.forget(ids);
}

interface Cached {
  key: SessionKey | null;
  until: number;
}

/**
 * Finds and creates session keys. `current(sessionId)` is the key new payloads of the session are encrypted with
 * (created on first use); `byId(keyId)` the key a payload names, or null when it was destroyed (the session was
 * deleted). Unwrapping uses whichever master key wrapped it, so master keys rotate like the ring (see rewrap).
 */
export class SessionKeyStore {
  private db?: Queryable;
  private readonly masters: Map<string, Buffer>;
  private readonly bySession = new Map<string, Cached>();
  private readonly byKeyId = new Map<string, Cached>();

  constructor(
    private readonly ring: KeyRing,
    options: {
      db?: Queryable;
      /** How long a key found in Postgres is reused without asking again. */
      cacheMs?: number;
      /**
       * How long `current` trusts a cached key (default: cacheMs). 0 for clients: a write asks Postgres which key
       * is live, so a session deleted by another process is never written with its destroyed key from a cache.
       */
      encodeCacheMs?: number;
      now?: () => number;
    } = {},
  ) {
    this.db = options.db;
    this.cacheMs = options.cacheMs ?? SESSION_KEY_CACHE_MS;
    this.encodeCacheMs = options.encodeCacheMs ?? this.cacheMs;
    this.now = options.now ?? Date.now;
    this.masters = new Map(ring.map((k) => [k.id, k.key]));
    stores.add(this);
  }
  private readonly cacheMs: number;
  private readonly encodeCacheMs: number;
  private readonly now: () => number;

  /** The Postgres the keys live in (when not given to the constructor: the harness creates it later). */
  usePool(db: Queryable): void {
    this.db = db;
  }

  /** Stops taking part in forgetSessionKey (a closed client or worker). */
  close(): void {
    stores.delete(this);
  }

  async current(sessionId: string): Promise<SessionKey> {
    const hit = this.bySession.get(sessionId);
    if (hit?.key && hit.until - this.cacheMs + this.encodeCacheMs > this.now()) return hit.key;
    if (this.encodeCacheMs === 0) {
      const { rows: live } = await query<{ key_id: string; wrapped: Buffer; master_key_id: string }>(
        this.database(),
        'session key',
        'SELECT key_id, wrapped, master_key_id FROM session_key WHERE session_id = $1::text AND retired_at IS NULL',
        [sessionId],
      );
      if (live[0]) {
        const r = live[0];
        const known = this.byKeyId.get(r.key_id)?.key;
        const key = known ?? {
          id: r.key_id,
          sessionId,
          key: this.unwrap(r.master_key_id, r.wrapped, r.key_id, sessionId),
        };
        this.remember(key);
        return key;
      }
    }
    const candidateId = `s${randomBytes(16).toString('hex')}`;
    const candidate = randomBytes(DATA_KEY_BYTES);
    const master = this.ring[0];
    const { rows } = await query<{ key_id: string; wrapped: Buffer; master_key_id: string }>(
      this.database(),
      'session key',
      'SELECT key_id, wrapped, master_key_id FROM ds_session_key($1::text, $2::text, $3::bytea, $4::text)',
      [sessionId, candidateId, wrap(master.key, candidate, candidateId, sessionId), master.id],
    );
    const row = rows[0];
    const key: SessionKey = {
      id: row.key_id,
      sessionId,
      key:
        row.key_id === candidateId
          ? candidate
          : this.unwrap(row.master_key_id, row.wrapped, row.key_id, sessionId),
    };
    this.remember(key);
    return key;
  }

  async byId(keyId: string): Promise<SessionKey | null> {
    const hit = this.byKeyId.get(keyId);
    if (hit && hit.until > this.now()) return hit.key;
    const { rows } = await query<{
      session_id: string;
      wrapped: Buffer;
      master_key_id: string;
      retired: boolean;
    }>(
      this.database(),
      'session key',
      'SELECT session_id, wrapped, master_key_id, retired_at IS NOT NULL AS retired FROM session_key WHERE key_id = $1::text',
      [keyId],
    );
    const row = rows[0];
    if (!row) {
      // Destroyed, and it stays destroyed: remembered as such.
      this.put(this.byKeyId, keyId, null);
      return null;
    }
    const key: SessionKey = {
      id: keyId,
      sessionId: row.session_id,
      key: this.unwrap(row.master_key_id, row.wrapped, keyId, row.session_id),
    };
    if (row.retired) {
      // Opened, never sealed with again: known by its id only, and no longer as the session's key here.
      if (this.bySession.get(row.session_id)?.key?.id === keyId) this.bySession.delete(row.session_id);
      this.put(this.byKeyId, keyId, { ...key, retired: true });
      return { ...key, retired: true };
    }
    this.remember(key);
    return key;
  }

  /** Whether the key is still the live key of its session (neither retired nor destroyed): asks Postgres. */
  async isLive(keyId: string): Promise<boolean> {
    const { rows } = await query(
      this.database(),
      'session key',
      'SELECT 1 FROM session_key WHERE key_id = $1::text AND retired_at IS NULL',
      [keyId],
    );
    return rows.length > 0;
  }

  /**
   * Drops what this store knows of a session's keys; the next use asks Postgres. Only a lookup that finds no row
   * remembers a key as destroyed: a key this store made or saw after the deletion belongs to the next incarnation.
   */
  forget(sessionIds: ReadonlySet<string>): void {
    for (const id of sessionIds) this.bySession.delete(id);
    for (const [id, c] of this.byKeyId) if (c.key && sessionIds.has(c.key.sessionId)) this.byKeyId.delete(id);
  }

  private remember(key: SessionKey): void {
    this.put(this.bySession, key.sessionId, key);
    this.put(this.byKeyId, key.id, key);
  }

  private put(map: Map<string, Cached>, id: string, key: SessionKey | null): void {
    map.delete(id);
    map.set(id, { key, until: this.now() + this.cacheMs });
    // Oldest first in a Map: drop from the front.
    if (map.size > CACHE_MAX) map.delete(map.keys().next().value as string);
  }

  private unwrap(masterId: string, wrapped: Buffer, keyId: string, sessionId: string): Buffer {
    const master = this.masters.get(masterId);
    if (!master)
      throw new PayloadDecryptionError(
        `session key ${keyId} is wrapped by master key ${JSON.stringify(masterId)}, which is not in the key ring ` +
          `(known: ${[...this.masters.keys()].join(', ')}); rewrap before dropping a master key`,
      );
    return unwrap(master, wrapped, keyId, sessionId);
  }

  private database(): Queryable {
    if (!this.db) throw new Error('SessionKeyStore: no Postgres (usePool was not called)');
    return this.db;
  }
}

/** The associated data binding a wrapped key to its id and session: a row copied onto another is refused. */
function aad(keyId: string, sessionId: string): Buffer {
  return Buffer.from(`durable-sessions session key\0${keyId}\0${sessionId}`, 'utf8');
}

function wrap(master: Buffer, key: Buffer, keyId: string, sessionId: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', master, iv);
  cipher.setAAD(aad(keyId, sessionId));
  return Buffer.concat([iv, cipher.update(key), cipher.final(), cipher.getAuthTag()]);
}

function unwrap(master: Buffer, wrapped: Buffer, keyId: string, sessionId: string): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', master, wrapped.subarray(0, IV_BYTES));
    decipher.setAAD(aad(keyId, sessionId));
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(wrapped.subarray(IV_BYTES, wrapped.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (err) {
    throw new PayloadDecryptionError(
      `session key ${keyId} does not unwrap: tampered or the wrong master key`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Master-key rotation for session keys: rewraps every key not wrapped by the ring's newest key with it, in batches,
 * each row only if nobody changed it meanwhile. Histories are not touched. Returns how many keys it rewrapped.
 */
export async function rewrapSessionKeys(db: Queryable, ring: KeyRing, batchSize = 1000): Promise<number> {
  const masters = new Map(ring.map((k) => [k.id, k.key]));
  const newest = ring[0];
  let total = 0;
  let after = '';
  for (;;) {
    const { rows } = await query<{
      key_id: string;
      session_id: string;
      wrapped: Buffer;
      master_key_id: string;
    }>(
      db,
      'rewrap session keys',
      `SELECT key_id, session_id, wrapped, master_key_id FROM session_key
       WHERE master_key_id <> $1::text AND key_id > $2::text ORDER BY key_id LIMIT $3::integer`,
      [newest.id, after, batchSize],
    );
    if (rows.length === 0) return total;
    for (const r of rows) {
      const master = masters.get(r.master_key_id);
      if (!master)
        throw new Error(
          `session key ${r.key_id}: master key ${r.master_key_id} is not in the ring; cannot rewrap`,
        );
      const key = unwrap(master, r.wrapped, r.key_id, r.session_id);
      const res = await query(
        db,
        'rewrap session keys',
        `UPDATE session_key SET wrapped = $2::bytea, master_key_id = $3::text
         WHERE key_id = $1::text AND master_key_id = $4::text`,
        [r.key_id, wrap(newest.key, key, r.key_id, r.session_id), newest.id, r.master_key_id],
      );
      total += res.rowCount ?? 0;
    }
    after = rows[rows.length - 1].key_id;
  }
}
