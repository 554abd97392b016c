// examples/python against the stack as `npm start` builds it (embedded dev server, the key file it generates under
// the data dir, a worker and client with the codec), and the payload codec checked byte for byte in TS and Python.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  AesGcmCodec,
  embeddedKeyFile,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  SESSION_KEY_METADATA,
  parseKeyRing,
  readKeyFile,
  type KeyRing,
} from '../src/codec';
import { loadConfig } from '../src/config';
import { silentLogger } from '../src/logger';
import { freePort } from '../src/runtime/ports';
import { type Stack, startStack } from '../src/runtime/stack';
import { sessionWorkflowId } from '../workflows/messages';
import { uniqueIds } from './support/contract';
import { createTestDatabase, requireTool, testStack, type TestDatabase } from './support/stack';

const exec = promisify(execFile);
const ROOT = path.join(__dirname, '..');
const EXAMPLE = path.join(ROOT, 'examples', 'python');
const VECTORS_FILE = path.join(__dirname, 'fixtures', 'codec-vectors.json');

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}
interface CodecVectors {
  key_file: { keys: { id: string; key: string }[] };
  ds_codec_keys: string;
  vectors: {
    name: string;
    key_id: string;
    payload: JsonPayload;
    payload_proto: string;
    encrypted: JsonPayload;
  }[];
  must_fail: { name: string; error: string; encrypted: JsonPayload }[];
}
const VECTORS = JSON.parse(fs.readFileSync(VECTORS_FILE, 'utf8')) as CodecVectors;

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  ),
  data: new Uint8Array(Buffer.from(p.data, 'base64')),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const text = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? []).toString('utf8');

/** The environment of a Python process: ours without anything that would point it elsewhere. */
function pythonEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env))
    if (/^(TEMPORAL_|DS_CODEC_|DURABLE_SESSIONS_|DATABASE_URL$|PYTHONPATH$)/.test(k)) delete env[k];
  // No __pycache__ left in examples/python by the tests.
  return { ...env, PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

describe('payload codec: TypeScript and Python agree byte for byte (test/fixtures/codec-vectors.json)', () => {
  let python: string;
  const ring = readKeyFileFromVectors();
  beforeAll(() => {
    python = requireTool('python');
  });

  /** session_codec.py encode|decode with the vectors' keys, on remote-codec JSON. */
  const pythonCodec = async (op: 'encode' | 'decode', payloads: Payload[]): Promise<Payload[]> => {
    const child = execFile(python, [path.join(EXAMPLE, 'session_codec.py'), op], {
      env: pythonEnv({ DS_CODEC_KEYS: VECTORS.ds_codec_keys }),
      timeout: 60_000,
    });
    child.stdin?.end(JSON.stringify({ payloads: payloads.map(toJson) }));
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) throw new Error(`session_codec.py ${op} exited ${code}: ${err}`);
    return (JSON.parse(out) as { payloads: JsonPayload[] }).payloads.map(fromJson);
  };

  test('the TypeScript codec decodes every vector, reads the same keys, and refuses the broken ones', async () => {
    const codec = new AesGcmCodec(ring);
    expect(parseKeyRing(VECTORS.ds_codec_keys)).toEqual(ring); // standard and url-safe base64, unpadded
    for (const v of VECTORS.vectors) {
      const plain = fromJson(v.payload);
      expect(Buffer.from(temporal.api.common.v1.Payload.encode(plain).finish()).toString('hex')).toBe(
        v.payload_proto,
      );
      expect((await codec.decode([fromJson(v.encrypted)])).map(toJson)).toEqual([v.payload]);
    }
    for (const bad of VECTORS.must_fail)
      await expect(codec.decode([fromJson(bad.encrypted)])).rejects.toThrow(bad.error);
  });

  test('the Python codec passes the same vectors (examples/python/test_session_codec.py)', async () => {
    const { stderr } = await exec(python, ['-m', 'unittest', '-v', 'test_session_codec'], {
      cwd: EXAMPLE,
      env: pythonEnv({ CODEC_VECTORS: VECTORS_FILE }),
      timeout: 60_000,
    });
    expect(stderr).toMatch(/\nOK\s*$/);
  });

  test('a payload encrypted in TypeScript decodes in Python, and one encrypted in Python decodes in TypeScript', async () => {
    const codec = new AesGcmCodec(ring);
    const plain: Payload[] = [
      {
        metadata: { encoding: new TextEncoder().encode('json/plain') },
        data: Buffer.from('{"user":"Grüße 🙂"}'),
      },
      { metadata: { encoding: new TextEncoder().encode('binary/null') }, data: new Uint8Array() },
    ];
    const normal = (ps: Payload[]): JsonPayload[] => ps.map(toJson);

    const fromTs = await codec.encode(plain);
    expect(normal(await pythonCodec('decode', fromTs))).toEqual(normal(plain));

    const fromPython = await pythonCodec('encode', plain);
    for (const p of fromPython) {
      expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata?.[KEY_ID_METADATA])).toBe(ring[0].id);
    }
    expect(normal(await codec.decode(fromPython))).toEqual(normal(plain));
  });
});

function readKeyFileFromVectors(): KeyRing {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'codec-vectors-')), 'keys.json');
  fs.writeFileSync(file, JSON.stringify(VECTORS.key_file));
  try {
    return readKeyFile(file);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

interface AgentOutput {
  session_id: string;
  turn_id: string;
  turn_status?: { status: string; version?: number };
  version?: number;
  error?: { type: string; message: string; details: unknown[] };
  messages?: {
    role: string;
    content: string;
    tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
    tool_call_id?: string;
  }[];
}

describe('examples/python/agent.py against the stack as `npm start` builds it (payloads encrypted)', () => {
  let python: string;
  let db: TestDatabase;
  let dataDir: string;
  let stack: Stack;

  beforeAll(async () => {
    python = requireTool('python');
    db = await createTestDatabase('pyexample');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-pyexample-'));
    // `npm start` with no configuration, except: Postgres is a test database on the shared server, the ports are
    // free ones, and the data dir is ours. Temporal is embedded, so the codec key file is generated in the data dir.
    const config = loadConfig({
      DURABLE_SESSIONS_ROOT: ROOT,
      DURABLE_SESSIONS_DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      TEMPORAL_CLI_PATH: testStack().temporalCliPath ?? '',
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      DS_API_PORT: String(await freePort()),
    });
    stack = await startStack(config, { logger: silentLogger, worker: true });
  }, 300_000);
  afterAll(async () => {
    await stack?.stop();
    await db?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Runs agent.py as a user would after `npm start`: no address, no keys; both come from the data dir. */
  const agent = async (args: string[]): Promise<{ code: number; out: AgentOutput }> => {
    try {
      const { stdout } = await exec(python, [path.join(EXAMPLE, 'agent.py'), ...args], {
        env: pythonEnv({ DURABLE_SESSIONS_ROOT: ROOT, DURABLE_SESSIONS_DATA_DIR: dataDir }),
        timeout: 60_000,
      });
      return { code: 0, out: JSON.parse(stdout) as AgentOutput };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      if (e.code === 2 && e.stdout) return { code: 2, out: JSON.parse(e.stdout) as AgentOutput };
      throw new Error(`agent.py ${args.join(' ')} failed (${e.code}): ${e.stderr ?? String(err)}`);
    }
  };

  test('a durable turn from Python lands once, sealed with the session’s own key (wrapped by the generated key), and reads back', async () => {
    const keyFile = embeddedKeyFile(dataDir);
    expect(fs.existsSync(keyFile)).toBe(true);
    const keyId = readKeyFile(keyFile)[0].id;
    expect(stack.codec?.codec.currentKeyId).toBe(keyId);

    const ids = uniqueIds();
    const sessionId = ids.sessionId();
    const userId = ids.userId();
    const turn = [sessionId, 'What is on my calendar?', 'Two meetings.', '--user-id', String(userId)];
    const first = await agent([...turn, '--agent-type', 'schedule']);
    expect(first.code).toBe(0);
    expect(first.out.turn_status?.status).toBe('applied');
    expect(first.out.messages).toEqual([
      { role: 'user', content: 'What is on my calendar?' },
      { role: 'assistant', content: 'Two meetings.' },
    ]);

    // The same turn id again (a client retry) is applied once.
    const retry = await agent([...turn, '--turn-id', first.out.turn_id]);
    expect(retry.out.turn_status).toEqual(first.out.turn_status);
    expect(retry.out.messages).toHaveLength(2);

    const ctx = await stack.service.loadContext(sessionId);
    expect(ctx).toMatchObject({ sessionId, userId, agentType: 'schedule' });
    expect(ctx?.messages.map((m) => m.content)).toEqual(['What is on my calendar?', 'Two meetings.']);

    // What Temporal stored of the signals Python sent: ciphertext under the session's data key (keys per session, the
    // default), which Python found in the stack's Postgres wrapped by the generated key; no text.
    const { rows } = await db.pool.query<{ key_id: string; master_key_id: string }>(
      'SELECT key_id, master_key_id FROM session_key WHERE session_id = $1 AND retired_at IS NULL',
      [sessionId],
    );
    expect(rows).toEqual([{ key_id: expect.stringMatching(/^s[0-9a-f]{32}$/), master_key_id: keyId }]);
    const history = await stack.client.workflow.getHandle(sessionWorkflowId(sessionId)).fetchHistory();
    const signals = (history.events ?? []).flatMap((e) =>
      e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes] : [],
    );
    expect(signals).toHaveLength(2);
    for (const s of signals) {
      for (const p of s.input?.payloads ?? []) {
        expect(text(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
        expect(text(p.metadata?.[SESSION_KEY_METADATA])).toBe(rows[0].key_id);
        expect(p.metadata?.[KEY_ID_METADATA]).toBeUndefined();
        expect(text(p.data)).not.toContain('calendar');
      }
    }
  });

  test('an applied turn from Python answers with the version; a rejected one carries its decrypted details', async () => {
    const ids = uniqueIds();
    const sessionId = ids.sessionId();
    await agent([sessionId, 'Hi', 'Hello!', '--user-id', String(ids.userId())]);

    const applied = await agent([sessionId, 'And now?', 'Nothing else.', '--applied']);
    expect(applied.code).toBe(0);
    expect(applied.out.version).toEqual(expect.any(Number));
    expect(applied.out.messages?.map((m) => m.content)).toEqual([
      'Hi',
      'Hello!',
      'And now?',
      'Nothing else.',
    ]);

    // The actor's ValidationError names the field in its details: an encrypted payload the client must decode.
    const rejected = await agent([sessionId, '', 'an empty question', '--applied']);
    expect(rejected.code).toBe(2);
    expect(rejected.out.error).toMatchObject({ type: 'ValidationError', details: [{ field: 'user' }] });
    expect((await stack.service.loadContext(sessionId))?.messages).toHaveLength(4);
  });

  test('a step with a tool call from Python is one appendMessages update, one version; an orphan result is refused', async () => {
    const ids = uniqueIds();
    const sessionId = ids.sessionId();
    const created = await agent([sessionId, 'Hi', 'Hello!', '--user-id', String(ids.userId())]);
    const step = [
      sessionId,
      'Weather in Paris?',
      'It is 18 °C.',
      '--tool',
      'get_weather',
      '{"city":"Paris"}',
    ];
    const applied = await agent([...step, '{"temp_c":18}', '--agent-type', 'weather']);
    expect(applied.code).toBe(0);
    expect(applied.out.version).toBe((created.out.turn_status?.version ?? 0) + 1);
    const [, , question, calling, result, answer] = applied.out.messages ?? [];
    expect(question).toEqual({ role: 'user', content: 'Weather in Paris?' });
    expect(calling).toMatchObject({
      role: 'assistant',
      content: '',
      tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
    expect(result).toEqual({
      role: 'tool',
      content: '{"temp_c":18}',
      tool_call_id: calling.tool_calls?.[0].id,
    });
    expect(answer).toEqual({ role: 'assistant', content: 'It is 18 °C.' });

    const orphan = await agent([...step, '{}', '--result-for', 'call_unknown']);
    expect(orphan.code).toBe(2);
    expect(orphan.out.error).toMatchObject({
      type: 'ValidationError',
      details: [{ field: 'messages[2].tool_call_id' }],
    });
    expect((await stack.service.loadContext(sessionId))?.messages).toHaveLength(6);
  });
});
