// A TCP echo service (RFC 862 over TCP): every byte a client sends comes
// back on the same connection, until the client closes. Used by `nicring
// respond --tcp`; its figures are the stack's tcp* counters.

import type { Interface } from '../iface/interface';
import { type TcpServer, createServer } from '../socket/tcp';

/** Echo servers on `ports` of `iface`; resolves once all listen, rejects on the first error (EADDRINUSE). */
export function startTcpEcho(iface: Interface, ports: number[]): Promise<TcpServer[]> {
  const servers = ports.map((port) => {
    const server = createServer(iface, { noDelay: true }, (socket) => {
      // A reset or a timeout ends that connection only; the stack counts it.
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    return { server, port };
  });
  return Promise.all(servers.map(({ server, port }) => new Promise<TcpServer>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  })));
}
