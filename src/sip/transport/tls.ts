/** TLS sockets for SIP (RFC 3261 §26.2); the connection logic itself lives in tcp.ts. */
import type { Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsCreateServer, type Server, type TLSSocket } from 'node:tls';
import type { Peer } from './types.js';

export interface TlsCredentials {
  cert: string;
  key: string;
}

export function createTlsServer(
  creds: TlsCredentials,
  onSocket: (socket: TLSSocket) => void,
  onHandshakeError: (err: Error, socket: Socket) => void,
): Server {
  const server = tlsCreateServer({ cert: creds.cert, key: creds.key, minVersion: 'TLSv1.2' }, onSocket);
  // A client that fails the handshake (port scanner, wrong protocol) only loses its own socket.
  server.on('tlsClientError', onHandshakeError);
  return server;
}

/**
 * Dials a TLS peer. The certificate is NOT verified yet (rejectUnauthorized:
 * false): phones and test peers mostly present self-signed certificates and
 * there is no trust-store setting yet. RFC 5922 checking of the SIP domain
 * against the certificate belongs here once that setting exists.
 */
export function dialTls(dest: Peer, onConnected: () => void): TLSSocket {
  const socket = tlsConnect({
    host: dest.address,
    port: dest.port,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    // Node sends SNI only for host names, never for IP literals (RFC 6066 §3).
  });
  socket.setNoDelay(true);
  socket.once('secureConnect', onConnected);
  return socket;
}
