// Free TCP port discovery on the loopback interface.
// Used by the embedded dev server, the embedded Postgres and the test stack when a port is 0.
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
    throw new Error(`${what}: port ${port} on ${host} is already in use (choose another port, or 0 for a free one)`);
  }
}
