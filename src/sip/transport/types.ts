/** What the transport layer tells the layers above about where bytes came from and go to. */
export type Proto = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface Peer {
  proto: Proto;
  /** Bare IP address (IPv6 without brackets). */
  address: string;
  port: number;
  /**
   * The stream connection a message arrived on. Responses and requests to a
   * phone behind NAT must go back on that same connection (RFC 3261 §18.2.2,
   * RFC 5626), so it travels with the peer.
   */
  connectionId?: number;
  /**
   * The host name we meant to reach when `address` came from DNS: TLS sends
   * it as SNI and checks the certificate against it (RFC 5922), not against
   * the address. Absent for IP literals, which are checked as they are.
   */
  serverName?: string;
}

export interface LocalEndpoint {
  proto: Proto;
  address: string;
  port: number;
}

export interface Inbound {
  data: Buffer;
  source: Peer;
  local: LocalEndpoint;
}

export function isReliable(proto: Proto): boolean {
  return proto !== 'udp';
}

/** SIP over WebSocket (RFC 7118): the peer is a browser, reachable only on the connection it opened. */
export function isWebSocket(proto: Proto): boolean {
  return proto === 'ws' || proto === 'wss';
}
