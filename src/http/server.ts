// Runs the API on a socket: resolves its keys (a generated one on loopback when none are configured), listens.
// Used by the CLI's `start` and `api` commands.
import type { AddressInfo } from 'node:net';
import { type Api, type AppDeps, buildApp } from './app';
import { resolveApiKeys } from './auth';

export interface RunningApi {
  app: Api;
  /** http://host:port the API listens on. */
  url: string;
  /** The admin key generated for this run when none were configured (print it: it is the only way in). */
  generatedKey?: string;
  close(): Promise<void>;
}

/** Throws before anything listens when the host is not loopback and no keys are configured. */
export async function startApi(deps: AppDeps): Promise<RunningApi> {
  const { keys, generated } = resolveApiKeys(deps.config);
  const app = await buildApp({ ...deps, config: { ...deps.config, keys } });
  try {
    await app.listen({ host: deps.config.host, port: deps.config.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { app, url: `http://${host}:${address.port}`, generatedKey: generated, close: () => app.close() };
}
