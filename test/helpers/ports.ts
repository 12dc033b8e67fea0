/**
 * Free 127.0.0.1 ports for real peers (SIPp, baresip) started by tests.
 * The port is released before it is returned, so another process could take
 * it first; the retry budget below keeps that race rare enough for tests.
 */
import dgram from 'node:dgram';
import net from 'node:net';

export type PortProto = 'udp' | 'tcp' | 'both';

function bindUdp(port: number, address = '127.0.0.1'): Promise<number | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', () => {
      sock.close();
      resolve(null);
    });
    sock.bind(port, address, () => {
      const got = sock.address().port;
      sock.close(() => resolve(got));
    });
  });
}

function bindTcp(port: number, address = '127.0.0.1'): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, address, () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : null;
      srv.close(() => resolve(got));
    });
  });
}

/** True when nothing listens on address:port (127.0.0.1 by default) for `proto` (both = UDP and TCP). */
export async function isPortFree(port: number, proto: PortProto, address = '127.0.0.1'): Promise<boolean> {
  if (proto !== 'tcp' && (await bindUdp(port, address)) === null) return false;
  if (proto !== 'udp' && (await bindTcp(port, address)) === null) return false;
  return true;
}

/**
 * A port that is free on 127.0.0.1 for `proto`. With `even`, an even one
 * (RTP convention: RTCP takes the next). Ports come from the kernel's
 * ephemeral range, which SIPp and baresip never pick for their own listeners.
 */
export async function freePort(proto: PortProto = 'udp', opts: { even?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = proto === 'tcp' ? await bindTcp(0) : await bindUdp(0);
    if (port === null) continue;
    if (opts.even && port % 2 !== 0) continue;
    if (proto === 'both' && (await bindTcp(port)) === null) continue;
    return port;
  }
  throw new Error(`no free ${proto} port on 127.0.0.1 after 50 attempts`);
}
