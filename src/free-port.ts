/**
 * A port nothing listens on right now (bound, then given back), for a child process that must be told its port up
 * front (the Temporal Web UI server, `temporal server start-dev`, PostgreSQL). Another process could take it in
 * between; on loopback, in practice, nothing does.
 */
import net from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
