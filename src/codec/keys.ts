// Encryption keys of the payload codec: the key ring (newest first), read from DS_CODEC_KEYS or a JSON key file,
// and the key file the embedded stack generates under .data/. Used by config.ts, the runtime stack and the tests.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** One AES-256 key and the id written next to every payload it encrypts. */
export interface CodecKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** The keys a codec knows, newest first: the first encrypts, any of them decrypts. Never empty. */
export type KeyRing = readonly [CodecKey, ...CodecKey[]];

/** The key file's shape: `{ "keys": [{ "id": "k2", "key": "<base64 of 32 bytes>" }, …] }`, newest first. */
export interface KeyFile {
  keys: { id: string; key: string; createdAt?: string }[];
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const KEY_BYTES = 32;

/** Checks ids and lengths and returns the ring; `where` names the source in error messages. */
export function keyRing(keys: CodecKey[], where: string): KeyRing {
  if (keys.length === 0) throw new Error(`${where}: no keys`);
  const seen = new Set<string>();
  for (const k of keys) {
    if (!KEY_ID.test(k.id))
      throw new Error(`${where}: key id ${JSON.stringify(k.id)} must match ${KEY_ID.source}`);
    if (k.key.length !== KEY_BYTES)
      throw new Error(`${where}: key ${k.id} must be ${KEY_BYTES} bytes (base64), got ${k.key.length}`);
    if (seen.has(k.id)) throw new Error(`${where}: key id ${k.id} is listed twice`);
    seen.add(k.id);
  }
  return keys as unknown as KeyRing;
}

/** DS_CODEC_KEYS: comma-separated `id:<base64 of 32 bytes>`, newest first. Empty → undefined. */
export function parseKeyRing(raw: string, where = 'DS_CODEC_KEYS'): KeyRing | undefined {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return undefined;
  const keys = entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new Error(`${where} entry ${i + 1}: expected id:<base64 key>`);
    return {
      id: entry.slice(0, colon),
      key: decodeBase64(entry.slice(colon + 1), `${where} entry ${i + 1}`),
    };
  });
  return keyRing(keys, where);
}

/** Reads a key file (see KeyFile). */
export function readKeyFile(file: string): KeyRing {
  let parsed: KeyFile;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as KeyFile;
  } catch (err) {
    throw new Error(`codec key file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!parsed || !Array.isArray(parsed.keys))
    throw new Error(`codec key file ${file}: expected {"keys": [...]}`);
  return keyRing(
    parsed.keys.map((k, i) => ({
      id: String(k.id),
      key: decodeBase64(String(k.key), `${file} key ${i + 1}`),
    })),
    `codec key file ${file}`,
  );
}

/** Writes a key file readable by its owner only (0600), atomically. */
export function writeKeyFile(file: string, ring: KeyRing): void {
  const body: KeyFile = { keys: ring.map((k) => ({ id: k.id, key: k.key.toString('base64') })) };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** A fresh random key; its id is `k<UTC date>-<random>` so ids sort by creation and never collide. */
export function generateKey(now: Date = new Date()): CodecKey {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  return { id: `k${day}-${randomBytes(3).toString('hex')}`, key: randomBytes(KEY_BYTES) };
}

/** The key file's ring, creating the file with one generated key when it does not exist yet. */
export function loadOrCreateKeyFile(file: string): { ring: KeyRing; created: boolean } {
  if (fs.existsSync(file)) return { ring: readKeyFile(file), created: false };
  const ring: KeyRing = [generateKey()];
  writeKeyFile(file, ring);
  return { ring, created: true };
}

/** Strict base64 (standard or url alphabet): a typo must not become a different key. */
function decodeBase64(text: string, where: string): Buffer {
  const clean = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(clean)) throw new Error(`${where}: the key is not base64`);
  return Buffer.from(clean, clean.includes('-') || clean.includes('_') ? 'base64url' : 'base64');
}
