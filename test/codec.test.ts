// The payload codec without a server: AES-GCM round trip, tampering, key rotation, the key ring sources, and the
// codec routes (remote codec protocol, admin key, the UI's session cookie, CORS) through app.inject().
import { apiConfig, KEYS } from './support/http-harness';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  AesGcmCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  generateKey,
  loadOrCreateKeyFile,
  parseKeyRing,
  readKeyFile,
  resolveCodecKeys,
  UiSessions,
  type CodecKey,
} from '../src/codec';
import { loadConfig } from '../src/config';
import { type AppDeps, buildApp } from '../src/http/app';
import { silentLogger } from '../src/logger';

const k1: CodecKey = { id: 'k1', key: Buffer.alloc(32, 1) };
const k2: CodecKey = { id: 'k2', key: Buffer.alloc(32, 2) };
const text = (p: Payload): string => Buffer.from(p.data ?? []).toString('utf8');
const meta = (p: Payload, key: string): string | undefined => {
  const v = p.metadata?.[key];
  return v ? Buffer.from(v).toString('utf8') : undefined;
};
const turn = (content: string): Payload =>
  defaultPayloadConverter.toPayload({ turn_id: 't1', user: content, assistant: 'ok' });

describe('AesGcmCodec', () => {
  const codec = new AesGcmCodec([k1]);

  test('round trip: the original payloads, metadata included, come back', async () => {
    const originals = [
      turn('hello secret'),
      defaultPayloadConverter.toPayload(null),
      defaultPayloadConverter.toPayload(new Uint8Array([0, 1, 2])),
    ];
    const encoded = await codec.encode(originals);
    expect(encoded).toHaveLength(3);
    for (const p of encoded) {
      expect(meta(p, 'encoding')).toBe(ENCRYPTED_ENCODING);
      expect(meta(p, KEY_ID_METADATA)).toBe('k1');
      expect(Object.keys(p.metadata ?? {}).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
    }
    expect(text(encoded[0])).not.toContain('secret');
    const decoded = await codec.decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual(
      originals.map((p) => defaultPayloadConverter.fromPayload(p)),
    );
    expect(await codec.encode([])).toEqual([]);
  });

  test('a fresh IV per payload: the same payload never encrypts to the same bytes', async () => {
    const [a, b] = await codec.encode([turn('same'), turn('same')]);
    expect(
      Buffer.from(a.data ?? [])
        .subarray(0, 12)
        .equals(Buffer.from(b.data ?? []).subarray(0, 12)),
    ).toBe(false);
    expect(Buffer.from(a.data ?? []).equals(Buffer.from(b.data ?? []))).toBe(false);
  });

  test('tampered ciphertext, tag or IV, and truncation, are rejected', async () => {
    const [good] = await codec.encode([turn('do not touch')]);
    const data = Buffer.from(good.data ?? []);
    for (const index of [0, 12, 20, data.length - 1]) {
      const bad = Buffer.from(data);
      bad[index] ^= 0x01;
      await expect(codec.decode([{ ...good, data: bad }])).rejects.toThrow(
        /failed authentication with key "k1"/,
      );
    }
    await expect(codec.decode([{ ...good, data: data.subarray(0, 20) }])).rejects.toThrow(
      PayloadDecryptionError,
    );
  });

  test('an unknown key id is a clear error naming the key and the ring', async () => {
    const [byK2] = await new AesGcmCodec([k2]).encode([turn('x')]);
    await expect(codec.decode([byK2])).rejects.toThrow(
      /key "k2", which is not in the key ring \(known: k1\)/,
    );
    const noId = { metadata: { encoding: byK2.metadata?.encoding as Uint8Array }, data: byK2.data };
    await expect(codec.decode([noId])).rejects.toThrow(/without encryption-key-id/);
  });

  test('rotation: old payloads decode with the old key, new ones carry the newest key id', async () => {
    const old = await new AesGcmCodec([k1]).encode([turn('before rotation')]);
    const rotated = new AesGcmCodec([k2, k1]);
    expect(rotated.currentKeyId).toBe('k2');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode(old))[0])).toMatchObject({
      user: 'before rotation',
    });
    const fresh = await rotated.encode([turn('after rotation')]);
    expect(meta(fresh[0], KEY_ID_METADATA)).toBe('k2');
    // Dropping k1 too early makes old histories unreadable, loudly.
    await expect(new AesGcmCodec([k2]).decode(old)).rejects.toThrow(/"k1"/);
  });

  test('no double encryption; unencrypted payloads pass through decode', async () => {
    const once = await codec.encode([turn('x')]);
    expect(await codec.encode(once)).toEqual(once);
    const plain = [turn('written before the codec was on')];
    expect(await codec.decode(plain)).toEqual(plain);
  });
});

describe('key ring sources', () => {
  const b64 = (k: CodecKey): string => k.key.toString('base64');
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-codec-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('DS_CODEC_KEYS: newest first, strict about ids, lengths and base64', () => {
    const ring = parseKeyRing(` k2:${b64(k2)} , k1:${k1.key.toString('base64url')} `);
    expect(ring?.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(ring?.[1].key.equals(k1.key)).toBe(true);
    expect(parseKeyRing('')).toBeUndefined();
    expect(() => parseKeyRing(`k1:${Buffer.alloc(16).toString('base64')}`)).toThrow(/32 bytes/);
    expect(() => parseKeyRing(`k1:${b64(k1)},k1:${b64(k2)}`)).toThrow(/twice/);
    expect(() => parseKeyRing(`bad id:${b64(k1)}`)).toThrow(/key id/);
    expect(() => parseKeyRing(`k1:not base64!`)).toThrow(/not base64/);
    expect(() => parseKeyRing(b64(k1))).toThrow(/id:<base64 key>/);
  });

  test('loadConfig reads the codec section', () => {
    const c = loadConfig({
      DS_CODEC_KEYS: `k2:${b64(k2)},k1:${b64(k1)}`,
      DS_CODEC_UI_ORIGINS: 'http://ui.example:8080/, http://localhost:8233',
      // Gone (a forgeable Origin never decodes): set or not, nothing changes.
      DS_CODEC_TRUST_LOOPBACK_UI: '1',
    }).codec;
    expect(c.keys?.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(c.uiOrigins).toEqual(['http://ui.example:8080', 'http://localhost:8233']);
    expect(c).not.toHaveProperty('trustLoopbackUi');
    expect(loadConfig({ DS_CODEC_DISABLED: '1' }).codec.disabled).toBe(true);
    expect(loadConfig({}).codec).toMatchObject({ disabled: false, keys: undefined, uiOrigins: [] });
  });

  test('the embedded key file is generated once, 0600, and kept', () => {
    const file = path.join(dir, 'codec-keys.json');
    const first = loadOrCreateKeyFile(file);
    expect(first.created).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first.ring[0].id).toMatch(/^k\d{8}-[0-9a-f]{6}$/);
    const again = loadOrCreateKeyFile(file);
    expect(again.created).toBe(false);
    expect(again.ring[0].key.equals(first.ring[0].key)).toBe(true);
    expect(generateKey().key.equals(generateKey().key)).toBe(false);
  });

  test('resolveCodecKeys: disabled, env, key file, embedded file; a configured Temporal never guesses', () => {
    const config = loadConfig({}).codec;
    const keyFile = path.join(dir, 'keys.json');
    fs.writeFileSync(
      keyFile,
      JSON.stringify({
        keys: [
          { id: 'f2', key: b64(k2) },
          { id: 'f1', key: b64(k1) },
        ],
      }),
    );
    expect(readKeyFile(keyFile).map((k) => k.id)).toEqual(['f2', 'f1']);
    const embedded = { dataDir: dir, generate: false };
    expect(resolveCodecKeys({ ...config, disabled: true, keys: [k1] }, embedded)).toBeUndefined();
    expect(resolveCodecKeys({ ...config, keys: [k2, k1], keyFile }, embedded)?.source).toBe('DS_CODEC_KEYS');
    expect(resolveCodecKeys({ ...config, keyFile }, undefined)?.ring[0].id).toBe('f2');
    expect(resolveCodecKeys(config, embedded)).toBeUndefined(); // connecting: no file yet, nothing to guess
    expect(resolveCodecKeys(config, { dataDir: dir, generate: true })?.source).toBe(
      'generated embedded key file',
    );
    expect(resolveCodecKeys(config, embedded)?.source).toBe('embedded key file');
    expect(resolveCodecKeys(config, undefined)).toBeUndefined();
    expect(() => resolveCodecKeys({ ...config, keyFile: path.join(dir, 'missing.json') }, undefined)).toThrow(
      /codec key file/,
    );
  });
});

describe('UI session tokens', () => {
  // Every spelling of a signature other than the one issued is refused. A base64url signature of 32 bytes has
  // 43 characters, the last one carrying 2 unused bits: A, B, C and D there decode to the same bytes, so a check
  // of decoded bytes took a changed token (a CI run failed on exactly that in the routes test below).
  test('a token changed in any character, the unused bits of the last one included, is refused', () => {
    let clock = 1_000;
    const sessions = new UiSessions(60_000, () => clock);
    const token = sessions.issue();
    expect(sessions.valid(token)).toBe(true);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < token.length; i++) {
      const others = token[i] === '.' ? ['x'] : [...alphabet, '.', '='].filter((c) => c !== token[i]);
      for (const c of others) expect(sessions.valid(token.slice(0, i) + c + token.slice(i + 1))).toBe(false);
    }
    // Padding or characters base64url decoding ignores, appended: refused as well.
    for (const tail of ['=', '==', ' ', '!', '\n']) expect(sessions.valid(token + tail)).toBe(false);
    expect(sessions.valid(token.slice(0, -1))).toBe(false);
    expect(sessions.valid('')).toBe(false);
    expect(sessions.valid(undefined)).toBe(false);
    // Expired: refused; another instance's token: refused.
    clock += 60_001;
    expect(sessions.valid(token)).toBe(false);
    expect(new UiSessions(60_000, () => 1_000).valid(token)).toBe(false);
  });
});

describe('codec routes', () => {
  const UI = 'http://127.0.0.1:8233';
  const codec = new AesGcmCodec([k2, k1]);
  const build = () =>
    buildApp({
      service: {} as AppDeps['service'],
      pool: { query: async () => ({ rows: [] }) } as unknown as AppDeps['pool'],
      client: {} as AppDeps['client'],
      config: apiConfig(),
      logger: silentLogger,
      codec: { codec, uiOrigins: [UI] },
    });
  const asJson = (ps: Payload[]) => ({
    payloads: ps.map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      data: Buffer.from(p.data ?? []).toString('base64'),
    })),
  });
  const admin = { authorization: `Bearer ${KEYS.admin}`, 'x-namespace': 'default' };

  test('encode then decode over the remote codec protocol; errors are 4xx', async () => {
    const app = await build();
    try {
      const original = asJson([turn('over http')]);
      let res = await app.inject({ method: 'POST', url: '/codec/encode', headers: admin, payload: original });
      expect(res.statusCode).toBe(200);
      const encoded = res.json<ReturnType<typeof asJson>>();
      expect(Buffer.from(encoded.payloads[0].metadata?.[KEY_ID_METADATA] ?? '', 'base64').toString()).toBe(
        'k2',
      );
      expect(Buffer.from(encoded.payloads[0].data, 'base64').toString()).not.toContain('over http');
      res = await app.inject({ method: 'POST', url: '/codec/decode', headers: admin, payload: encoded });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(original);

      // A payload from a k1-era history, and one from an unknown key or tampered: 400 with the reason.
      const old = asJson(await new AesGcmCodec([k1]).encode([turn('old')]));
      res = await app.inject({ method: 'POST', url: '/codec/decode', headers: admin, payload: old });
      expect(res.json()).toEqual(asJson([turn('old')]));
      const foreign = asJson(
        await new AesGcmCodec([{ id: 'k9', key: Buffer.alloc(32, 9) }]).encode([turn('x')]),
      );
      res = await app.inject({ method: 'POST', url: '/codec/decode', headers: admin, payload: foreign });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'invalid_argument',
        message: expect.stringContaining('"k9"'),
      });
      res = await app.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: admin,
        payload: { payloads: 'x' },
      });
      expect(res.statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });

  test('auth: admin key, or a UI session cookie with the UI origin; a forged Origin alone is refused', async () => {
    const encoded = asJson(await codec.encode([turn('who may read this')]));
    const app = await build();
    const post = (headers: Record<string, string>, remoteAddress = '127.0.0.1') =>
      app.inject({ method: 'POST', url: '/codec/decode', headers, payload: encoded, remoteAddress });
    const login = (key: string) =>
      app.inject({
        method: 'POST',
        url: '/codec/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://127.0.0.1:8080' },
        payload: new URLSearchParams({ key }).toString(),
      });
    try {
      expect((await post({})).statusCode).toBe(401);
      expect((await post({ authorization: `Bearer ${KEYS.alice}` })).statusCode).toBe(403);
      expect((await post({ authorization: `Bearer ${KEYS.service}` })).statusCode).toBe(403);
      expect((await post({ authorization: 'Bearer not-a-key-at-all-xx' })).statusCode).toBe(401);
      const byKey = await post({ authorization: `Bearer ${KEYS.admin}` });
      expect(byKey.statusCode).toBe(200);

      // What any local process can send: the UI's Origin over loopback, no credential. Refused.
      const forged = await post({ origin: UI, 'x-namespace': 'default' });
      expect(forged.statusCode).toBe(401);
      expect(forged.json<{ message: string }>().message).toContain('/codec/login');

      // The login page, and a login with the admin key: an HttpOnly, SameSite=Strict cookie for /codec only.
      const page = await app.inject({ method: 'GET', url: '/codec/login' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('name="key"');
      expect((await login(KEYS.service)).statusCode).toBe(403);
      expect((await login('not-a-key-at-all-xx')).statusCode).toBe(401);
      const ok = await login(KEYS.admin);
      expect(ok.statusCode).toBe(200);
      const setCookie = String(ok.headers['set-cookie']);
      expect(setCookie).toMatch(/^ds_codec_ui=[^;]+; /);
      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Strict');
      expect(setCookie).toContain('Path=/codec');
      expect(setCookie).not.toContain(KEYS.admin);
      const cookie = setCookie.split(';')[0];

      // The UI (its Origin, the cookie the browser adds with "include cross-origin credentials"): decoded.
      const fromUi = await post({ origin: UI, cookie, 'x-namespace': 'default' });
      expect(fromUi.statusCode).toBe(200);
      expect(fromUi.json()).toEqual(asJson([turn('who may read this')]));
      expect(fromUi.headers['access-control-allow-origin']).toBe(UI);
      expect(fromUi.headers['access-control-allow-credentials']).toBe('true');
      // The cookie from another origin (a page on another local port), or with no Origin: refused.
      expect((await post({ origin: 'http://127.0.0.1:9999', cookie })).statusCode).toBe(401);
      expect((await post({ cookie })).statusCode).toBe(401);
      // A cookie not issued by this server, or changed by one character: refused.
      const [, value] = cookie.split('=');
      const mid = Math.floor(value.length / 2);
      const flipped = `ds_codec_ui=${value.slice(0, mid)}${value[mid] === 'A' ? 'B' : 'A'}${value.slice(mid + 1)}`;
      expect((await post({ origin: UI, cookie: flipped })).statusCode).toBe(401);
      expect((await post({ origin: UI, cookie: 'ds_codec_ui=1.2.3' })).statusCode).toBe(401);
      // Another API instance (another secret) does not take this one's cookie.
      const other = await build();
      try {
        const res = await other.inject({
          method: 'POST',
          url: '/codec/decode',
          headers: { origin: UI, cookie },
          payload: encoded,
        });
        expect(res.statusCode).toBe(401);
      } finally {
        await other.close();
      }
      // Logout clears it.
      const out = await app.inject({ method: 'POST', url: '/codec/logout', headers: { origin: UI, cookie } });
      expect(out.statusCode).toBe(200);
      expect(String(out.headers['set-cookie'])).toMatch(/^ds_codec_ui=; .*Max-Age=0/);

      // Another origin (a web page the operator happens to visit) gets neither the data nor CORS.
      const evil = await post({ origin: 'http://evil.example' });
      expect(evil.statusCode).toBe(401);
      expect(evil.headers['access-control-allow-origin']).toBeUndefined();

      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/codec/decode',
        headers: {
          origin: UI,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe(UI);
      expect(preflight.headers['access-control-allow-headers']).toContain('x-namespace');
      const evilPreflight = await app.inject({
        method: 'OPTIONS',
        url: '/codec/encode',
        headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(evilPreflight.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  test('without a codec the routes do not exist', async () => {
    const app = await buildApp({
      service: {} as AppDeps['service'],
      pool: {} as AppDeps['pool'],
      client: {} as AppDeps['client'],
      config: apiConfig(),
      logger: silentLogger,
    });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: admin,
        payload: { payloads: [] },
      });
      expect(res.statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});
