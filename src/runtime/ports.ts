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
