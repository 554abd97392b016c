// Every default of durable-sessions, resolved once from the environment.
// Deeper modules receive the resolved Config and never read process.env themselves.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type KeyRing, parseKeyRing } from './codec/keys';
import { DEFAULT_CLEANUP_INTERVAL_MS, DEFAULT_RETENTION_DAYS } from './types';

export interface ActorConfig {
  /** An actor with no work for this long flushes its snapshot and completes. */
  idleTimeoutMs: number;
  /** Continue-as-new after this many commands in one run (Temporal caps a run at 2,000 updates). */
  continueAsNewAfter: number;
  /** How many recent turn ids an actor remembers (and carries across continue-as-new) to dedupe retries. */
  rememberTurnIds: number;
  /** How long a change may wait, coalescing with others, before the actor writes its snapshot (the Postgres lag). */
  persistDelayMs: number;
  /** The actor writes at once when this many versions are unwritten. */
  persistEvery: number;
  /**
   * false: every write waits `persistDelayMs`, also after a quiet window (the default writes such a change at once:
   * one timer and one workflow task fewer per turn when turns are further apart than the window).
   */
  persistLeadingEdge?: boolean;
  /** Keys per session: the actor removes a session in a local activity (SessionActorInput.remove_locally). */
  removeLocally?: boolean;
}

export interface Config {
  /** Project root: where migrations/ lives and where .data/ and .cache/ default to. */
  rootDir: string;
  /** Embedded state: Temporal's SQLite file and the embedded Postgres cluster. */
  dataDir: string;
  /** Downloaded tools (the temporal CLI). */
  cacheDir: string;
  temporal: {
    /** host:port of an existing Temporal frontend; undefined starts the embedded dev server. */
    address?: string;
    namespace: string;
    taskQueue: string;
    /** Path to a `temporal` binary to use for the embedded dev server. */
    cliPath?: string;
    /** Embedded dev server ports (0 = pick a free one). */
    port: number;
    uiPort: number;
    /** SQLite `synchronous` pragma of the embedded dev server: full (default, no durability given up) or normal. */
    sqliteSynchronous: 'full' | 'normal';
    /** Retention of closed workflow runs in the embedded namespace. */
    namespaceRetentionDays: number;
  };
  /** Postgres connection string; undefined starts the embedded Postgres. */
  databaseUrl?: string;
  postgresPort: number;
  cluster: ClusterConfig;
  actor: ActorConfig;
  cleanup: { retentionDays: number; intervalMs: number };
  api: ApiConfig;
  codec: CodecConfig;
  worker: WorkerConfig;
  /** pino level of the long-running commands (LOG_LEVEL). */
  logLevel: string;
}

/** `durable-sessions cluster start`: the real Temporal server as separate services (src/runtime/cluster.ts). */
export interface ClusterConfig {
  /** Its private Postgres, chosen ports and logs; kept across restarts. */
  dataDir: string;
  /** Session worker processes it runs. */
  workers: number;
  /** A `temporal-server` binary (TEMPORAL_SERVER_PATH); else PATH, the tool cache, else `go install`. */
  serverPath?: string;
  /** A `temporal-sql-tool` binary (TEMPORAL_SQL_TOOL_PATH); found like the server. */
  sqlToolPath?: string;
  /**
   * Where built server binaries are kept, outside any checkout (a build takes ~11 minutes on 2 cores, so every
   * clone on the machine shares it): DURABLE_SESSIONS_TOOL_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache, /durable-sessions.
   */
  toolCacheDir: string;
}

/** What a worker process offers operators. */
export interface WorkerConfig {
  /**
   * Where `durable-sessions worker` serves Prometheus metrics: the snapshot metrics and the Temporal SDK's worker
   * metrics. Port 0 picks a free one (logged). `npm start` does not use it: its API's /metrics serves the same.
   */
  metricsHost: string;
  metricsPort: number;
  /** While snapshot writes fail, at most one warning per this many milliseconds (with the count since the last). */
  snapshotWarnIntervalMs: number;
  /** A prebuilt workflow bundle (`bundleWorkflowCode` output); unset, the worker bundles workflows/ at start. */
  workflowBundlePath?: string;
}

/** Encryption of payloads inside Temporal (docs/encryption.md); src/codec/index.ts resolves the keys. */
export interface CodecConfig {
  /** DS_CODEC_DISABLED=1: payloads go to Temporal unencrypted. */
  disabled: boolean;
  /** DS_CODEC_KEYS=`id:<base64 32 bytes>,…`, newest first. */
  keys?: KeyRing;
  /** DS_CODEC_KEY_FILE: a JSON key file (`{"keys":[{"id","key"}]}`, newest first). */
  keyFile?: string;
  /** DS_CODEC_UI_ORIGINS: browser origins that may use a UI session at /codec/*; empty = the embedded Temporal UI's. */
  uiOrigins: string[];
  /**
   * DS_CODEC_SESSION_KEYS (on unless `0` or `false`): a data key per session, destroyed when the session is deleted
   * (crypto-shredding, docs/encryption.md). Every process of a deployment must agree.
   */
  sessionKeys: boolean;
}

/** Who an API key acts for: one user, a service that names the user per request, or an operator. */
export type ApiKeyRole = { kind: 'user'; userId: number } | { kind: 'service' } | { kind: 'admin' };

export interface ApiKey {
  /** The bearer token itself (kept in memory only; the API compares SHA-256 digests). */
  key: string;
  role: ApiKeyRole;
}

export interface ApiConfig {
  host: string;
  port: number;
  /** From DS_API_KEYS; empty means none configured (see src/http/keys.ts for what start does then). */
  keys: ApiKey[];
  /** Largest request body accepted, in bytes. */
  bodyLimitBytes: number;
  /** Writes one API process lets wait on one session before answering 429. */
  maxInFlightWritesPerSession: number;
  /** Retry-After (seconds) sent with 429 and 503. */
  retryAfterSeconds: number;
  /** host:port where the Temporal SDK's Prometheus exporter listens; /metrics appends what it serves. */
  temporalMetricsAddress?: string;
  /** How long one event stream (GET /v1/sessions/{id}/events) lasts before the client reconnects. */
  sseMaxSeconds?: number;
}

/** Event streams end after this long by default; EventSource reconnects with Last-Event-ID. */
export const DEFAULT_SSE_MAX_SECONDS = 300;

/** Default port of a worker's Prometheus endpoint (the usual Prometheus exporter port). */
export const DEFAULT_WORKER_METRICS_PORT = 9464;

/** Shortest API key accepted: a short key is a guessable key. */
export const MIN_API_KEY_LENGTH = 16;

export const DEFAULT_TASK_QUEUE = 'durable-sessions';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const rootDir = path.resolve(env.DURABLE_SESSIONS_ROOT ?? findRoot());
  const dataDir = path.resolve(rootDir, env.DURABLE_SESSIONS_DATA_DIR ?? '.data');
  return {
    rootDir,
    dataDir,
    cacheDir: path.resolve(rootDir, env.DURABLE_SESSIONS_CACHE_DIR ?? '.cache'),
    temporal: {
      address: env.TEMPORAL_ADDRESS || undefined,
      namespace: env.TEMPORAL_NAMESPACE || 'default',
      taskQueue: env.TEMPORAL_TASK_QUEUE || DEFAULT_TASK_QUEUE,
      cliPath: env.TEMPORAL_CLI_PATH || undefined,
      port: int(env.TEMPORAL_PORT, 7233),
      uiPort: int(env.TEMPORAL_UI_PORT, 8233),
      sqliteSynchronous: env.TEMPORAL_SQLITE_SYNCHRONOUS === 'normal' ? 'normal' : 'full',
      namespaceRetentionDays: int(env.TEMPORAL_RETENTION_DAYS, 3),
    },
    databaseUrl: env.DATABASE_URL || undefined,
    postgresPort: int(env.POSTGRES_PORT, 5433),
    cluster: {
      dataDir: path.join(dataDir, 'cluster'),
      workers: int(env.DS_CLUSTER_WORKERS, 2),
      serverPath: env.TEMPORAL_SERVER_PATH || undefined,
      sqlToolPath: env.TEMPORAL_SQL_TOOL_PATH || undefined,
      toolCacheDir: toolCacheDir(env),
    },
    actor: {
      idleTimeoutMs: int(env.SESSION_IDLE_TIMEOUT_MS, 10 * 60 * 1000),
      continueAsNewAfter: int(env.SESSION_CONTINUE_AS_NEW_AFTER, 500),
      rememberTurnIds: int(env.SESSION_REMEMBER_TURN_IDS, 256),
      persistDelayMs: int(env.SESSION_PERSIST_DELAY_MS, 1000),
      persistEvery: int(env.SESSION_PERSIST_EVERY, 16),
      // With keys per session the removal retires the key in the task that answers it (its worker's caches drop it
      // at once); see SessionActorInput.remove_locally.
      ...(sessionKeysOn(env) ? { removeLocally: true } : {}),
    },
    cleanup: {
      retentionDays: int(env.SESSION_RETENTION_DAYS, DEFAULT_RETENTION_DAYS),
      intervalMs: int(env.SESSION_CLEANUP_INTERVAL_MS, DEFAULT_CLEANUP_INTERVAL_MS),
    },
    api: {
      host: env.DS_API_HOST || '127.0.0.1',
      port: int(env.DS_API_PORT, 8080),
      keys: parseApiKeys(env.DS_API_KEYS ?? ''),
      bodyLimitBytes: int(env.DS_API_BODY_LIMIT_BYTES, 1024 * 1024),
      maxInFlightWritesPerSession: int(env.DS_API_MAX_IN_FLIGHT_WRITES, 32),
      retryAfterSeconds: int(env.DS_API_RETRY_AFTER_SECONDS, 1),
      sseMaxSeconds: int(env.DS_API_SSE_MAX_SECONDS, DEFAULT_SSE_MAX_SECONDS),
      temporalMetricsAddress: env.DS_TEMPORAL_METRICS_ADDRESS || undefined,
    },
    codec: {
      disabled: env.DS_CODEC_DISABLED === '1' || env.DS_CODEC_DISABLED === 'true',
      keys: parseKeyRing(env.DS_CODEC_KEYS ?? ''),
      keyFile: env.DS_CODEC_KEY_FILE ? path.resolve(rootDir, env.DS_CODEC_KEY_FILE) : undefined,
      uiOrigins: (env.DS_CODEC_UI_ORIGINS ?? '')
        .split(',')
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter((o) => o !== ''),
      sessionKeys: sessionKeysOn(env),
    },
    worker: {
      metricsHost: env.DS_WORKER_METRICS_HOST || '127.0.0.1',
      metricsPort: int(env.DS_WORKER_METRICS_PORT, DEFAULT_WORKER_METRICS_PORT),
      snapshotWarnIntervalMs: int(env.DS_SNAPSHOT_WARN_INTERVAL_MS, 30_000),
      workflowBundlePath: env.DS_WORKFLOW_BUNDLE ? path.resolve(rootDir, env.DS_WORKFLOW_BUNDLE) : undefined,
    },
    logLevel: env.LOG_LEVEL || 'info',
  };
}

/**
 * DS_API_KEYS: comma-separated `key:user:<id>` (acts for that user), `key:service` (names the user in
 * X-User-Id) or `key:admin` (cleanup; may act for any user with X-User-Id). Keys may not contain ':' or ','.
 */
export function parseApiKeys(raw: string): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const [key, kind, id, ...rest] = entry.split(':');
    const where = `DS_API_KEYS entry ${keys.length + 1}`;
    if (!key || key.length < MIN_API_KEY_LENGTH)
      throw new Error(`${where}: the key must be at least ${MIN_API_KEY_LENGTH} characters`);
    if (rest.length > 0) throw new Error(`${where}: expected key:user:<id>, key:service or key:admin`);
    if (kind === 'user') {
      const userId = Number(id);
      if (!id || !Number.isInteger(userId) || userId < -2147483648 || userId > 2147483647)
        throw new Error(`${where}: key:user:<id> needs a 32-bit integer user id`);
      keys.push({ key, role: { kind: 'user', userId } });
    } else if ((kind === 'service' || kind === 'admin') && id === undefined) {
      keys.push({ key, role: { kind } });
    } else {
      throw new Error(`${where}: expected key:user:<id>, key:service or key:admin`);
    }
  }
  if (new Set(keys.map((k) => k.key)).size !== keys.length)
    throw new Error('DS_API_KEYS: a key is listed twice');
  return keys;
}

/** The per-user cache of built tools (see ClusterConfig.toolCacheDir). */
export function toolCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.DURABLE_SESSIONS_TOOL_CACHE_DIR) return path.resolve(env.DURABLE_SESSIONS_TOOL_CACHE_DIR);
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'durable-sessions');
}

function int(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`expected an integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** The nearest folder above this file that holds package.json (works from src/ and from dist/src/). */
export function findRoot(start: string = __dirname): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

function sessionKeysOn(env: NodeJS.ProcessEnv): boolean {
  const raw = (env.DS_CODEC_SESSION_KEYS ?? '').trim().toLowerCase();
  return raw !== '0' && raw !== 'false';
}
