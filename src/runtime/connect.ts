// Connects to a running stack without starting anything: the CLI's client commands and `durable-sessions api`.
// TEMPORAL_ADDRESS / DATABASE_URL when set, otherwise what the embedded stack advertises in .data/stack.json.
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { attachCodecPool, createCodec, encryptingDataConverter, resolveCodecKeys } from '../codec/resolve';
import type { Config } from '../config';
import { createPool } from '../postgres/pool';
import { TemporalSessionService } from '../temporal/service';
import type { StackCodec } from './stack';
import { type AdvertisedStack, readStackFile, runningStackPid, uiOrigins } from './stack-file';

export interface StackConnection {
  client: Client;
  pool: pg.Pool;
  service: TemporalSessionService;
  temporalAddress: string;
  uiUrl?: string;
  /** The codec (same keys as the stack's) and the UI settings, for an API started on this connection. */
  codec?: StackCodec;
  close(): Promise<void>;
}

/**
 * Connects to a stack without starting one: TEMPORAL_ADDRESS / DATABASE_URL when set, otherwise the embedded
 * stack that `durable-sessions start` advertises in .data/stack.json. Used by the CLI's client commands.
 */
export async function connectToStack(config: Config): Promise<StackConnection> {
  let advertised: AdvertisedStack = {};
  if (!config.temporal.address || !config.databaseUrl) {
    const found = readStackFile(config);
    // A stack that crashed leaves its file behind; its addresses would only time out.
    if (!found || (found.pid !== undefined && runningStackPid(config) === undefined))
      throw new Error(
        'no running stack found: start one with `npm start` (or set TEMPORAL_ADDRESS and DATABASE_URL)',
      );
    advertised = found;
  }
  const temporalAddress = config.temporal.address ?? (advertised.temporalAddress as string);
  const databaseUrl = config.databaseUrl ?? (advertised.databaseUrl as string);
  // The embedded stack's key file when connecting to it; explicit keys for a configured Temporal.
  const keys = resolveCodecKeys(
    config.codec,
    config.temporal.address ? undefined : { dataDir: config.dataDir, generate: false },
  );
  const codec = keys ? createCodec(keys.ring, config.codec.sessionKeys) : undefined;
  const pool = createPool(databaseUrl, 4);
  attachCodecPool(codec, pool);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: codec ? encryptingDataConverter(codec) : undefined,
  });
  const service = new TemporalSessionService({
    client,
    pool,
    taskQueue: config.temporal.taskQueue,
    actor: config.actor,
  });
  return {
    client,
    pool,
    service,
    temporalAddress,
    uiUrl: advertised.uiUrl,
    codec: codec && {
      codec,
      uiOrigins: uiOrigins(config, advertised.uiUrl),
      endpoint: advertised.codecEndpoint,
    },
    close: async () => {
      await connection.close();
      await pool.end();
    },
  };
}
