/**
 * What the transport layer's bookkeeping needs of a connection-oriented
 * transport (TCP, TLS, WebSocket): one shape, so the connection table, the
 * lookup by peer and the flow-closed report cover every kind alike.
 */
import type { LocalEndpoint, Peer, Proto } from './types.js';

export interface Connection {
  readonly id: number;
  readonly proto: Proto;
  /** Whether we dialled it (WebSocket connections never are: browsers dial us). */
  readonly outbound: boolean;
  /** Outbound TLS: the name the peer's certificate was checked against (undefined: its address). */
  readonly serverName: string | undefined;
  /** The far end, carrying this connection's id so replies can come back on it. */
  readonly remote: Peer;
  readonly local: LocalEndpoint;
  readonly isOpen: boolean;
  /** Returns false when the data was refused (the failure already went to sendError). */
  send(data: Buffer): boolean;
  /** Closes at once, dropping anything not yet written; `closed` is reported before this returns. */
  destroy(): void;
}

/** What a connection tells its owner (the transport layer), given at construction. */
export interface ConnectionHandlers {
  message(conn: Connection, data: Buffer): void;
  keepalive(conn: Connection): void;
  framingError(conn: Connection, status: number, reason: string, head: Buffer): void;
  sendError(dest: Peer, err: Error): void;
  closed(conn: Connection): void;
}
