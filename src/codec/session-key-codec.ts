// The payload codec with a data key per session (crypto-shredding): a payload of a session's workflow is sealed with
// that session's key, named in its metadata; anything else with the master key (AesGcmCodec). Used instead of
// AesGcmCodec when DS_CODEC_SESSION_KEYS=1 (src/runtime/stack.ts) and by the codec server; see docs/encryption.md.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  AesGcmCodec,
  ENCRYPTED_ENCODING,
  PayloadDecryptionError,
  isEncrypted,
  openPayload,
  sealPayload,
} from './aes-gcm-codec';
import type { KeyRing } from './keys';
import { type SessionKey, type SessionKeyStore } from './session-keys';
import { ERASED_PAYLOAD_FIELD, WORKFLOW_ID_PREFIX } from '../../workflows/messages';

/** Metadata entry naming the session key that sealed the payload (instead of `encryption-key-id`). */
export const SESSION_KEY_METADATA = 'encryption-session-key';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A payload whose session was deleted: its data key is destroyed, so it can never be decoded again. */
export class PayloadErasedError extends PayloadDecryptionError {
  override readonly name: string = 'PayloadErasedError';
  constructor(readonly keyId: string) {
    super(`payload of a deleted session: its data key ${keyId} is destroyed (erased)`);
  }
}

/** What the codec server answers for an erased payload: JSON text saying so, readable in the UI and the CLI. */
export function erasedPayload(keyId: string): Payload {
  const p = defaultPayloadConverter.toPayload({
    erased: `this payload belonged to a deleted session; its data key ${keyId} is destroyed`,
  });
  return { metadata: { ...p.metadata, erased: utf8.encode('true') }, data: p.data };
}

/**
 * What a worker's workflows get for a payload whose session key is destroyed: `{ erased_payload: <key id> }`, which
 * the actor refuses or drops (workflows/messages.ts isErasedPayload), instead of a decoding error that would fail
 * the workflow task on every attempt.
 */
export function erasedSentinel(keyId: string): Payload {
  return defaultPayloadConverter.toPayload({ [ERASED_PAYLOAD_FIELD]: keyId });
}

/** Per call of sealedKeysOf: the key each session's payloads are sealed with, by session id. */
const sealing = new AsyncLocalStorage<Map<string, SessionKey>>();

/**
 * Runs one client call (`call`, its retries included) with each session's payloads sealed with one key: the live
 * key the call's first payload of the session found (one Postgres lookup per call, not one per payload list the SDK
 * encodes). Returns, with its result, the id of that key by session: what a client checks once Temporal has taken a
 * write (service.submitTurn).
 */
export async function sealedKeysOf<T>(
  call: () => Promise<T>,
): Promise<{ result: T; sealed: Map<string, string> }> {
  const keys = new Map<string, SessionKey>();
  const result = await sealing.run(keys, call);
  return { result, sealed: new Map([...keys].map(([sessionId, key]) => [sessionId, key.id])) };
}

export class SessionKeyCodec implements PayloadCodec {
  private readonly master: AesGcmCodec;

  /** `erased: 'sentinel'` for a worker (see erasedSentinel); clients and the codec server throw (the default). */
  constructor(
    ring: KeyRing,
    readonly keys: SessionKeyStore,
    private readonly options: { erased?: 'throw' | 'sentinel' } = {},
  ) {
    this.master = new AesGcmCodec(ring);
  }

  get currentKeyId(): string {
    return this.master.currentKeyId;
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const sessionId = sessionOf(context);
    if (sessionId === undefined) return this.master.encode(payloads);
    if (payloads.every(isEncrypted)) return payloads;
    const call = sealing.getStore();
    let key = call?.get(sessionId);
    if (!key) {
      key = await this.keys.current(sessionId);
      call?.set(sessionId, key);
    }
    const idBytes = utf8.encode(key.id);
    return payloads.map((p) =>
      isEncrypted(p)
        ? p
        : {
            metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [SESSION_KEY_METADATA]: idBytes },
            data: sealPayload(key.key, p),
          },
    );
  }

  /**
   * Throws PayloadErasedError for a payload of a deleted session, PayloadDecryptionError for any other failure. A
   * key the delete retired still opens here (the removing run may replay its history until the key is destroyed).
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.decodeOne(p, false)));
  }

  /**
   * Like decode, but an erased payload becomes `erasedPayload` (the codec server's answer): a retired key's too, since
   * its session is deleted for everyone but the run that deleted it.
   */
  async decodeForDisplay(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(
      payloads.map((p) =>
        this.decodeOne(p, true).catch((err: unknown) => {
          if (err instanceof PayloadErasedError) return erasedPayload(err.keyId);
          throw err;
        }),
      ),
    );
  }

  private async decodeOne(p: Payload, retiredIsErased: boolean): Promise<Payload> {
    const idBytes = p.metadata?.[SESSION_KEY_METADATA];
    if (!isEncrypted(p) || !idBytes) return (await this.master.decode([p]))[0];
    const keyId = fromUtf8.decode(idBytes);
    const key = await this.keys.byId(keyId);
    if (!key || (key.retired && retiredIsErased)) {
      if (this.options.erased === 'sentinel' && !retiredIsErased) return erasedSentinel(keyId);
      throw new PayloadErasedError(keyId);
    }
    return openPayload(key.key, p.data ?? new Uint8Array(), `session key ${keyId}`);
  }
}

/** The session a payload belongs to: its workflow's, or the workflow's that scheduled its activity. */
function sessionOf(context: SerializationContext | undefined): string | undefined {
  const workflowId = context?.workflowId;
  return workflowId?.startsWith(WORKFLOW_ID_PREFIX) ? workflowId.slice(WORKFLOW_ID_PREFIX.length) : undefined;
}
