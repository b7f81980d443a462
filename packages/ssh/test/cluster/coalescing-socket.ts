/**
 * A TCP socket to the SSH server that hands the client everything the server sent as ONE chunk,
 * once the server has been quiet for `quietMs`. It reproduces, on demand, what a busy machine does
 * by accident: several SSH packets (CHANNEL_SUCCESS, data, EOF, exit-status, CHANNEL_CLOSE) arrive
 * in a single read and ssh2 dispatches them in one synchronous loop.
 */
import { connect } from 'node:net';
import { Duplex } from 'node:stream';

export function coalescingSocket(host: string, port: number, quietMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const tcp = connect(port, host);
    let held: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      if (held.length === 0) return;
      const chunk = Buffer.concat(held);
      held = [];
      duplex.push(chunk);
    };
    const duplex = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        tcp.write(chunk, cb);
      },
      final(cb) {
        tcp.end(cb);
      },
      destroy(err, cb) {
        clearTimeout(timer);
        tcp.destroy();
        cb(err);
      },
    });
    tcp.on('data', (chunk: Buffer) => {
      held.push(chunk);
      clearTimeout(timer);
      timer = setTimeout(flush, quietMs);
    });
    tcp.on('end', () => {
      clearTimeout(timer);
      flush();
      duplex.push(null);
    });
    tcp.on('close', () => duplex.destroy());
    tcp.on('error', (e) => duplex.destroy(e));
    tcp.once('connect', () => resolve(duplex));
    tcp.once('error', reject);
  });
}
