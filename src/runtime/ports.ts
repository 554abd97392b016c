// Free TCP port discovery on the loopback interface.
// Used by the embedded dev server, the embedded Postgres, the Temporal cluster and the test stack when a port is 0.
import net from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago (bind to :0, read the port, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not read the port of a listening socket'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** True when `port` can be bound on `host` right now. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws a clear error when an explicitly configured port is taken (so we never probe someone else's server). */
export async function assertPortFree(port: number, host: string, what: string): Promise<void> {
  if (!(await portIsFree(port, host))) {
    throw new Error(
      `${what}: port ${port} on ${host} is already in use (choose another port, or 0 for a free one)`,
    );
  }
}

/** The lowest port Linux hands out as an ephemeral (outgoing) port by default (net.ipv4.ip_local_port_range). */
const EPHEMERAL_START = 32768;

/**
 * A port free on `host` below the ephemeral range (20000-32767). Temporal stores membership ports as a smallint, so
 * they must be at most 32767; and a port there is never taken by some outgoing connection's source port, so a
 * service killed and restarted can bind its port again. `avoid` holds ports already chosen for other services.
 */
export async function freeLowPort(
  host = '127.0.0.1',
  avoid: ReadonlySet<number> = new Set(),
): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * (EPHEMERAL_START - 20_000));
    if (!avoid.has(port) && (await portIsFree(port, host))) return port;
  }
  throw new Error(`no free port between 20000 and ${EPHEMERAL_START - 1} on ${host}`);
}
