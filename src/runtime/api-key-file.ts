// The embedded stack's API key, kept in <dataDir>/api-key (mode 0600) so it survives restarts, and its rotation.
// Used by `durable-sessions start`/`api` when DS_API_KEYS is not set and the API is on loopback, and by `api-key`.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MIN_API_KEY_LENGTH } from '../config';

export interface StoredApiKey {
  key: string;
  file: string;
  /** True when this call wrote the file (first start, or a rotation). */
  created: boolean;
}

export function apiKeyFile(dataDir: string): string {
  return path.join(dataDir, 'api-key');
}

/** A fresh admin key: 24 random bytes, prefixed so it is recognisable in a shell history or a secret scanner. */
export function generateApiKey(): string {
  return `dsk_${randomBytes(24).toString('base64url')}`;
}

/** The stored key, or undefined when there is none yet. Throws when the file exists but holds no usable key. */
export function readApiKey(dataDir: string): StoredApiKey | undefined {
  const file = apiKeyFile(dataDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const key = text.trim();
  if (key.length < MIN_API_KEY_LENGTH || /[\s:,]/.test(key))
    throw new Error(
      `${file} does not hold a usable API key (one line, at least ${MIN_API_KEY_LENGTH} characters, no ':' or ','): ` +
        'fix it, delete it, or run `durable-sessions api-key rotate`',
    );
  return { key, file, created: false };
}

/**
 * The stored key, creating it on first use. Two processes starting at once agree on one key: the file appears
 * whole (written aside, then hard-linked into place, which fails when it already exists) and the loser reads it.
 */
export function loadOrCreateApiKey(dataDir: string): StoredApiKey {
  const existing = readApiKey(dataDir);
  if (existing) return existing;
  const file = apiKeyFile(dataDir);
  const key = generateApiKey();
  const tmp = writeAside(file, key);
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readApiKey(dataDir) as StoredApiKey;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return { key, file, created: true };
}

/** Replaces the stored key with a new one (atomically: a reader sees the old key or the new one). */
export function rotateApiKey(dataDir: string): StoredApiKey {
  const file = apiKeyFile(dataDir);
  const key = generateApiKey();
  fs.renameSync(writeAside(file, key), file);
  return { key, file, created: true };
}

function writeAside(file: string, key: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  // Readable by its owner only (the umask can only take bits away from 0600).
  fs.writeFileSync(tmp, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return tmp;
}
