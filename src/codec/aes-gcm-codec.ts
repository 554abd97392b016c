// The payload codec: every Temporal payload (turns, queries, activity inputs and results, markers) is encrypted
// with AES-256-GCM before it leaves the process. Used by every client and worker of the runtime and the codec server.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { KeyRing } from './keys';

/** `encoding` of an encrypted payload (the value Temporal's samples use, so their tools recognise it). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata entry naming the key that encrypted the payload. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const ProtoPayload = temporal.api.common.v1.Payload;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A payload the codec cannot decrypt: unknown key id, tampered or truncated ciphertext, malformed metadata. */
export class PayloadDecryptionError extends Error {
  override readonly name: string = 'PayloadDecryptionError';
}

/**
 * Encrypts with the newest key of the ring, decrypts with whichever key the payload names, so keys rotate by
 * putting a new key first and keeping the old ones until no history needs them.
 * Data layout: IV (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes); the plaintext is the whole original Payload
 * (metadata included) serialised as protobuf, so the encoding of the original is hidden too.
 */
export class AesGcmCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;
  private readonly current: { id: string; key: Buffer; idBytes: Uint8Array };

  constructor(ring: KeyRing) {
    if (ring.length === 0) throw new Error('AesGcmCodec needs at least one key');
    this.keys = new Map(ring.map((k) => [k.id, k.key]));
    this.current = { id: ring[0].id, key: ring[0].key, idBytes: utf8.encode(ring[0].id) };
  }

  /** Id of the key new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => (isEncrypted(p) ? p : this.encrypt(p)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    // Payloads written before the codec was turned on pass through, so old histories stay readable.
    return payloads.map((p) => (isEncrypted(p) ? this.decrypt(p) : p));
  }

  private encrypt(payload: Payload): Payload {
    return {
      metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: this.current.idBytes },
      data: sealPayload(this.current.key, payload),
    };
  }

  private decrypt(payload: Payload): Payload {
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    if (!idBytes) throw new PayloadDecryptionError(`encrypted payload without ${KEY_ID_METADATA} metadata`);
    const keyId = fromUtf8.decode(idBytes);
    const key = this.keys.get(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload encrypted with key ${JSON.stringify(keyId)}, which is not in the key ring ` +
          `(known: ${[...this.keys.keys()].join(', ')}); add it to DS_CODEC_KEYS or the key file`,
      );
    }
    return openPayload(key, payload.data ?? new Uint8Array(), `key ${JSON.stringify(keyId)}`);
  }
}

/** IV (12 bytes) ‖ AES-256-GCM ciphertext of the protobuf-serialised payload ‖ tag (16 bytes). */
export function sealPayload(key: Buffer, payload: Payload): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const plaintext = ProtoPayload.encode(payload).finish();
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The payload `sealPayload` sealed; `label` names the key in errors. Throws PayloadDecryptionError. */
export function openPayload(key: Buffer, data: Uint8Array, label: string): Payload {
  if (data.length < IV_BYTES + TAG_BYTES)
    throw new PayloadDecryptionError(`encrypted payload too short (${data.length} bytes)`);
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([
      decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch (err) {
    throw new PayloadDecryptionError(
      `payload failed authentication with ${label}: tampered, truncated or the wrong key`,
      { cause: err },
    );
  }
  const decoded = ProtoPayload.decode(plaintext);
  return { metadata: decoded.metadata, data: decoded.data };
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && fromUtf8.decode(encoding) === ENCRYPTED_ENCODING;
}
