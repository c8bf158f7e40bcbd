/** A local HTTP server's start and stop for pages that headless Chromium opens (navigator.gpu
 * needs an http:// origin, not about:blank or file://): tests, the peer benchmark. */
import type { Server } from 'node:http';

/** Listens on an ephemeral port of 127.0.0.1; resolves once it is listening. */
export function listenOnLoopback(server: Server): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** Closes the server without waiting for keep-alive connections to time out. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
