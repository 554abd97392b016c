// The Prometheus endpoint of a standalone worker (`durable-sessions worker`): this process's metrics (snapshot
// writes, failures, lag) followed by the Temporal SDK's worker metrics, which the SDK serves on a loopback port.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionMetrics } from '../metrics';

export interface WorkerMetricsServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  metrics: SessionMetrics;
  /** host:port of the SDK's own Prometheus exporter, appended to every scrape. */
  temporalMetricsAddress?: string;
  logger: { warn(fields: object, message: string): void };
}

export interface WorkerMetricsServer {
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

/** How long a scrape waits for the SDK's exporter (Prometheus' own scrape timeout is 10 s by default). */
const SDK_SCRAPE_TIMEOUT_MS = 2_000;

export async function startWorkerMetricsServer(
  options: WorkerMetricsServerOptions,
): Promise<WorkerMetricsServer> {
  const server = http.createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'GET' || path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    void scrape(options).then(
      (text) => response.writeHead(200, { 'content-type': options.metrics.contentType }).end(text),
      (err: unknown) => {
        options.logger.warn({ err }, 'metrics scrape failed');
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `worker metrics: ${options.host}:${options.port} is in use; set DS_WORKER_METRICS_PORT to another port (0 = any free port)`,
              { cause: err },
            )
          : err,
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}/metrics`,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection must not hold the worker's shutdown.
        server.closeAllConnections();
      })),
  };
}

async function scrape(options: WorkerMetricsServerOptions): Promise<string> {
  const own = await options.metrics.text();
  if (!options.temporalMetricsAddress) return own;
  try {
    const res = await fetch(`http://${options.temporalMetricsAddress}/metrics`, {
      signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS),
    });
    return res.ok ? `${own}\n${await res.text()}` : own;
  } catch (err) {
    // Our own metrics are still worth serving; the warning says which half is missing.
    options.logger.warn({ err, address: options.temporalMetricsAddress }, 'temporal SDK metrics unavailable');
    return own;
  }
}
