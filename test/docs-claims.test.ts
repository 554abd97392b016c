// What the docs promise a client team in another language and an operator, checked against the code: the codec
// spec of docs/encryption.md and docs/actor-protocol.md, and how far lists trail writes (measured on a real actor).
import { createDecipheriv } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { AesGcmCodec, embeddedKeyFile, ENCRYPTED_ENCODING, generateKey, KEY_ID_METADATA } from '../src/codec';
import { loadConfig } from '../src/config';
import { SessionRecovery } from '../src/recovery';
import { eventually, uniqueIds } from './support/contract';
import { startTemporalHarness, type TemporalHarness } from './support/temporal-harness';

const ROOT = path.join(__dirname, '..');
const doc = (file: string): string => fs.readFileSync(path.join(ROOT, file), 'utf8');
/** The text of one `## ` section of a markdown file. */
const section = (text: string, title: string): string => {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section "## ${title}"`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
};
/** Markdown prose as one line, so a phrase may be wrapped anywhere. */
const flat = (text: string): string => text.replace(/\s+/g, ' ');

describe('docs/actor-protocol.md and docs/encryption.md specify the codec the stack uses', () => {
  const protocol = doc('docs/actor-protocol.md');
  const encryption = doc('docs/encryption.md');

  test('the protocol says payloads are encrypted, in an Encryption section right after Addressing', () => {
    const headings = [...protocol.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(headings[headings.indexOf('Addressing') + 1]).toBe('Encryption');
    expect(section(protocol, 'Addressing')).toMatch(/\| payloads .*encrypted.*\(#encryption\)/);
    const spec = flat(section(protocol, 'Encryption'));
    expect(spec).toContain(ENCRYPTED_ENCODING);
    expect(spec).toContain('(encryption.md#the-codec-byte-by-byte)');
    expect(spec).toContain('temporal.NewDefaultFailureConverter');
    expect(spec).toContain('EncodeCommonAttributes');
    expect(spec).toContain('DURABLE_SESSIONS_DATA_DIR');
  });

  test('the byte-level spec matches what AesGcmCodec writes: layout, metadata, no associated data', async () => {
    const spec = flat(section(encryption, 'The codec, byte by byte'));
    const key = generateKey();
    const plain = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"user":"hi"}') };
    const [sealed] = await new AesGcmCodec([key]).encode([plain]);
    const data = Buffer.from(sealed.data ?? []);
    const proto = Buffer.from(temporal.api.common.v1.Payload.encode(plain).finish());

    // Exactly two metadata entries, UTF-8 strings, named as the doc names them.
    expect(Object.keys(sealed.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA]);
    expect(Buffer.from(sealed.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed.metadata?.[KEY_ID_METADATA] ?? []).toString()).toBe(key.id);
    expect(spec).toContain(`\`encoding\` = \`${ENCRYPTED_ENCODING}\``);
    expect(spec).toContain(`\`${KEY_ID_METADATA}\` = the key's id`);
    // nonce (12) ‖ ciphertext (as long as the serialised Payload) ‖ tag (16), opened with no associated data.
    expect(data.length).toBe(12 + proto.length + 16);
    expect(spec).toContain('nonce (12 bytes) ‖ ciphertext (as long as the plaintext) ‖ tag (16 bytes)');
    expect(spec).toContain('**no associated data**');
    const decipher = createDecipheriv('aes-256-gcm', key.key, data.subarray(0, 12));
    decipher.setAuthTag(data.subarray(data.length - 16));
    const opened = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
    expect(opened.equals(proto)).toBe(true);
    expect(spec).toContain('temporal.api.common.v1.Payload');
    expect(fs.existsSync(path.join(ROOT, 'test', 'fixtures', 'codec-vectors.json'))).toBe(true);
    expect(spec).toContain('test/fixtures/codec-vectors.json');
  });

  test('keys: base64 variants, where the key files are, and the failure converter per SDK', () => {
    const keys = flat(section(encryption, 'Keys'));
    const spec = flat(section(encryption, 'The codec, byte by byte'));
    expect(spec).toContain('standard alphabet (`+/`) or the URL-safe one (`-_`), `=` padding optional');
    // The embedded key file is in the data dir, wherever that is; DS_CODEC_KEY_FILE is relative to the root.
    const config = loadConfig({
      DURABLE_SESSIONS_ROOT: '/srv/ds',
      DURABLE_SESSIONS_DATA_DIR: 'state',
      DS_CODEC_KEY_FILE: 'k.json',
    });
    expect(embeddedKeyFile(config.dataDir)).toBe('/srv/ds/state/codec-keys.json');
    expect(config.codec.keyFile).toBe('/srv/ds/k.json');
    expect(keys).toContain('`codec-keys.json` in the data directory');
    expect(keys).toContain(
      '`DURABLE_SESSIONS_DATA_DIR` (default `.data`; a relative one is resolved against the project root)',
    );
    expect(keys).toMatch(/`DS_CODEC_KEY_FILE` \| .*a relative path is resolved against the project root/);
    expect(spec).toMatch(
      /\| Go .*\*\*required\*\*: `FailureConverter: temporal\.NewDefaultFailureConverter\(.*DataConverter: dc/,
    );
  });
});

describe('lists trail writes by the persist delay, and the docs say so', () => {
  let h: TemporalHarness;
  beforeAll(async () => {
    h = await startTemporalHarness('listlag');
  });
  afterAll(async () => {
    await h?.close();
  });

  test('no doc promises milliseconds; the HTTP doc names the delay and its default', () => {
    const docs = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`)];
    expect(docs.filter((file) => /milliseconds normally/i.test(flat(doc(file))))).toEqual([]);
    const { persistDelayMs } = loadConfig({}).actor;
    expect(flat(doc('docs/http-api.md'))).toContain(
      `Lists read the Postgres snapshots, which trail acknowledged writes by up to about a second: the actor writes its snapshot at once after a change that follows a quiet \`SESSION_PERSIST_DELAY_MS\` (default ${persistDelayMs} ms), up to that long after a change within it`,
    );
  });

  test('with the defaults, a turn after a quiet second is listed at once; one right after it, about a second later', async () => {
    const ids = uniqueIds();
    const sessionId = ids.sessionId();
    const userId = ids.userId();
    const { persistDelayMs } = loadConfig({}).actor;
    const recovery = new SessionRecovery(h.service);
    await recovery.recoverSession(sessionId, userId, 'assistant');
    await eventually(async () => expect(await h.service.listSessions(userId, 5)).toHaveLength(1));
    await new Promise((r) => setTimeout(r, persistDelayMs + 200));

    // After a quiet window: written by the task that applied it.
    await recovery.appendTurn(sessionId, 'question', 'the first answer', '');
    await eventually(async () =>
      expect((await h.service.listSessions(userId, 5))[0].lastMessage).toBe('the first answer'),
    );
    // Right after that write: it waits for the window's end.
    await recovery.appendTurn(sessionId, 'again', 'a fresh answer', '');
    const acknowledged = Date.now();
    expect((await h.service.listSessions(userId, 5))[0].lastMessage).toBe('the first answer');
    await eventually(
      async () => expect((await h.service.listSessions(userId, 5))[0].lastMessage).toBe('a fresh answer'),
      15_000,
    );
    const lagMs = Date.now() - acknowledged;
    expect(lagMs).toBeLessThan(10_000);
  });
});
