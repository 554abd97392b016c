// Encryption of payloads inside Temporal: the codec, its keys, the data converter and the codec server routes.
// Used by the runtime stack (clients, workers, the API's codec routes) and the tests; see docs/encryption.md.
export { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, PayloadDecryptionError } from './aes-gcm-codec';
export type { CodecKey, KeyFile, KeyRing } from './keys';
export { generateKey, keyRing, loadOrCreateKeyFile, parseKeyRing, readKeyFile, writeKeyFile } from './keys';
export {
  attachCodecPool,
  createCodec,
  embeddedKeyFile,
  encryptingDataConverter,
  resolveCodecKeys,
} from './resolve';
export type { ResolvedKeys, RuntimeCodec } from './resolve';
export { adminKeyOnly, codecRoutes } from './routes';
export type { CodecRouteOptions } from './routes';
export { UI_SESSION_COOKIE, UiSessions } from './ui-session';
export {
  PayloadErasedError,
  SESSION_KEY_METADATA,
  SessionKeyCodec,
  erasedPayload,
  erasedSentinel,
} from './session-key-codec';
export { SESSION_KEY_CACHE_MS, SessionKeyStore, forgetSessionKey, forgetSessionKeys, rewrapSessionKeys } from './session-keys';
export type { SessionKey } from './session-keys';
