// Which keys a process encrypts payloads with (configured, or the embedded stack's key file) and the data converter.
// Apart from the codec routes, so clients such as the CLI load neither Fastify's schemas nor TypeBox.
import fs from 'node:fs';
import path from 'node:path';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import type { CodecConfig } from '../config';
import type { Queryable } from '../postgres/snapshots';
import { AesGcmCodec } from './aes-gcm-codec';
import { type KeyRing, loadOrCreateKeyFile, readKeyFile } from './keys';
import { SessionKeyCodec } from './session-key-codec';
import { SessionKeyStore } from './session-keys';

/** The key file the embedded stack generates when no key is given. */
export function embeddedKeyFile(dataDir: string): string {
  return path.join(dataDir, 'codec-keys.json');
}

export interface ResolvedKeys {
  ring: KeyRing;
  /** Where the keys came from, for the start-up log (never the keys). */
  source: 'DS_CODEC_KEYS' | 'DS_CODEC_KEY_FILE' | 'embedded key file' | 'generated embedded key file';
  file?: string;
}

/**
 * The keys of this process, or undefined when payloads stay unencrypted. Order: DS_CODEC_DISABLED, then
 * DS_CODEC_KEYS, then DS_CODEC_KEY_FILE, then (embedded stack only) `<dataDir>/codec-keys.json`, created when
 * `generate` is set. A configured Temporal (TEMPORAL_ADDRESS) never picks up the embedded file: every client and
 * worker of a cluster must be given the same keys explicitly.
 */
export function resolveCodecKeys(
  codec: CodecConfig,
  embedded: { dataDir: string; generate: boolean } | undefined,
): ResolvedKeys | undefined {
  if (codec.disabled) return undefined;
  if (codec.keys) return { ring: codec.keys, source: 'DS_CODEC_KEYS' };
  if (codec.keyFile)
    return { ring: readKeyFile(codec.keyFile), source: 'DS_CODEC_KEY_FILE', file: codec.keyFile };
  if (!embedded) return undefined;
  const file = embeddedKeyFile(embedded.dataDir);
  if (embedded.generate) {
    const { ring, created } = loadOrCreateKeyFile(file);
    return { ring, source: created ? 'generated embedded key file' : 'embedded key file', file };
  }
  return fs.existsSync(file) ? { ring: readKeyFile(file), source: 'embedded key file', file } : undefined;
}

/** The codec of a process: one master key for everything, or (DS_CODEC_SESSION_KEYS) a data key per session. */
export type RuntimeCodec = AesGcmCodec | SessionKeyCodec;

/**
 * `use: 'client'` for a Client's codec: with session keys, each write asks Postgres which key is live (never a
 * cached key of a session another process deleted); a worker's codec caches keys (see SessionKeyStore) and decodes
 * a payload of a destroyed key to a sentinel its workflows refuse or drop.
 */
export function createCodec(
  ring: KeyRing,
  sessionKeys: boolean,
  use: 'client' | 'worker' = 'client',
): RuntimeCodec {
  if (!sessionKeys) return new AesGcmCodec(ring);
  if (use === 'client') return new SessionKeyCodec(ring, new SessionKeyStore(ring, { encodeCacheMs: 0 }));
  // A worker hands its workflows a sentinel for a payload of a destroyed key (never a failing workflow task).
  return new SessionKeyCodec(ring, new SessionKeyStore(ring), { erased: 'sentinel' });
}

/** Gives a codec with session keys the Postgres they live in (a no-op for the master-key codec). */
export function attachCodecPool(codec: RuntimeCodec | undefined, pool: Queryable): void {
  if (codec instanceof SessionKeyCodec) codec.keys.usePool(pool);
}

/** The data converter of every client and worker: the default payload converter, then the AES-GCM codec. */
export function encryptingDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec] };
}
