/**
 * A plain-TCP → TLS relay for peers that cannot speak TLS themselves
 * (Debian's SIPp is built without OpenSSL): it listens on 127.0.0.1, and for
 * every TCP connection accepted there opens one TLS connection to the target
 * and pipes bytes both ways, unchanged. One TCP connection is one TLS
 * connection, so a peer's connection reuse is preserved and the server sees
 * real TLS flows. The server's certificate is not verified (it is the
 * self-signed one the server makes for itself).
 */
import net from 'node:net';
import tls from 'node:tls';

export interface TlsRelayOptions {
  /** The TLS server to reach, e.g. { host: '127.0.0.1', port: server.tlsPort }. */
  target: { host: string; port: number };
  /** Port to listen on (127.0.0.1); a free one when omitted. */
  listenPort?: number;
}

export interface TlsRelayStats {
  /** Plain TCP connections accepted from the peer. */
  accepted: number;
  /** TLS handshakes completed with the target. */
  handshakes: number;
  /** TLS connections that failed (handshake error, reset). */
  errors: number;
  /** Relayed pairs open now. */
  open: number;
  /** Bytes from the peer to the TLS server, and back. */
  bytesUp: number;
  bytesDown: number;
  /** Protocols negotiated, e.g. { 'TLSv1.3': 3 }. */
  protocols: Record<string, number>;
}

export interface TlsRelay {
  /** Where the plain-TCP peer connects. */
  port: number;
  /** host:port of the plain side, for a SIPp target. */
  address: string;
  stats(): TlsRelayStats;
  /** Stops listening and drops every relayed connection. */
  close(): Promise<void>;
}

export async function startTlsRelay(opts: TlsRelayOptions): Promise<TlsRelay> {
  const stats: TlsRelayStats = { accepted: 0, handshakes: 0, errors: 0, open: 0, bytesUp: 0, bytesDown: 0, protocols: {} };
  const pairs = new Set<{ plain: net.Socket; secure: tls.TLSSocket }>();

  const server = net.createServer((plain) => {
    stats.accepted++;
    stats.open++;
    plain.setNoDelay(true);
    const secure = tls.connect({
      host: opts.target.host,
      port: opts.target.port,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    });
    secure.setNoDelay(true);
    const pair = { plain, secure };
    pairs.add(pair);

    let closed = false;
    // Either side ending or failing ends both: a half-relayed SIP flow is worse than none.
    const teardown = (): void => {
      if (closed) return;
      closed = true;
      stats.open--;
      pairs.delete(pair);
      plain.destroy();
      secure.destroy();
    };
    secure.once('secureConnect', () => {
      stats.handshakes++;
      const proto = secure.getProtocol() ?? 'unknown';
      stats.protocols[proto] = (stats.protocols[proto] ?? 0) + 1;
    });
    // pipe() keeps backpressure; bytes written before the handshake ends wait in the TLS socket.
    plain.on('data', (d: Buffer) => {
      stats.bytesUp += d.length;
    });
    secure.on('data', (d: Buffer) => {
      stats.bytesDown += d.length;
    });
    plain.pipe(secure);
    secure.pipe(plain);
    secure.on('error', () => {
      stats.errors++;
      teardown();
    });
    plain.on('error', teardown);
    plain.on('close', teardown);
    secure.on('close', teardown);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('TLS relay has no address');
  const port = addr.port;

  return {
    port,
    address: `127.0.0.1:${port}`,
    stats: () => ({ ...stats, protocols: { ...stats.protocols } }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of [...pairs]) {
          p.plain.destroy();
          p.secure.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
