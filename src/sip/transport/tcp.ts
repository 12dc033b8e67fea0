/**
 * One TCP or TLS connection carrying SIP (RFC 3261 §18.3), inbound or
 * outbound. TLS only differs in how the socket is made (tls.ts); framing,
 * keep-alive answers, idle closing and write queueing are the same.
 */
import { connect as netConnect, createServer as netCreateServer, type Server, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { canonicalAddress } from '../../util/listen.js';
import { IdleWatch, type Connection, type ConnectionHandlers } from './connection.js';
import { StreamFramer } from './framer.js';
import type { LocalEndpoint, Peer } from './types.js';

export type StreamProto = 'tcp' | 'tls';

/** A peer that stops reading must not make us buffer without bound. */
export const MAX_QUEUED_WRITE_BYTES = 8 * 1024 * 1024;
/** An outbound connection not up by then fails, so its messages are reported rather than held. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** After a framing error the answer gets this long to leave before the socket is destroyed. */
export const CLOSE_GRACE_MS = 2000;

const PONG = Buffer.from('\r\n');

export interface ConnectionOptions {
  id: number;
  proto: StreamProto;
  socket: Socket;
  /** Outbound connections are still connecting and queue what is sent until then. */
  outbound: boolean;
  /** Where we dialled (outbound) — the socket does not know its remote address before connecting. */
  dest?: Peer;
  /** The listener an inbound connection arrived on. */
  listener?: LocalEndpoint;
  clock: Clock;
  idleTimeoutMs: number;
  handlers: ConnectionHandlers;
}

export type { ConnectionHandlers } from './connection.js';

export class StreamConnection implements Connection {
  readonly id: number;
  readonly proto: StreamProto;
  readonly outbound: boolean;
  /** Outbound TLS: the name the peer's certificate was checked against (undefined: its address). */
  readonly serverName: string | undefined;
  /** The far end, carrying this connection's id so replies can come back on it. */
  readonly remote: Peer;
  local: LocalEndpoint;
  private readonly socket: Socket;
  private readonly framer: StreamFramer;
  private readonly handlers: ConnectionHandlers;
  private readonly clock: Clock;
  private readonly idle: IdleWatch;
  private graceTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private queuedBytes = 0;
  /** Data sent before an outbound connection is up; undefined once connected. */
  private queue: Buffer[] | undefined;
  private closing = false;
  private closedFlag = false;

  constructor(opts: ConnectionOptions) {
    this.id = opts.id;
    this.proto = opts.proto;
    this.outbound = opts.outbound;
    this.serverName = opts.dest?.serverName;
    this.socket = opts.socket;
    this.handlers = opts.handlers;
    this.clock = opts.clock;
    const s = opts.socket;
    this.remote = {
      proto: opts.proto,
      address: canonicalAddress(opts.dest?.address ?? s.remoteAddress ?? ''),
      port: opts.dest?.port ?? s.remotePort ?? 0,
      connectionId: opts.id,
    };
    this.local = opts.outbound ? { proto: opts.proto, address: '', port: 0 } : this.localOf(opts.listener);
    if (opts.outbound) {
      this.queue = [];
      this.connectTimer = this.clock.setTimer(CONNECT_TIMEOUT_MS, () => {
        if (this.queue) this.fail(new Error(`${this.proto} connect to ${this.remote.address}:${this.remote.port} timed out`));
      });
    }

    this.framer = new StreamFramer({
      message: (data) => this.handlers.message(this, data),
      ping: () => {
        // RFC 5626 §3.5.1: answer a double-CRLF ping with a single CRLF pong.
        this.write(PONG);
        this.handlers.keepalive(this);
      },
      error: (status, reason, head) => {
        this.handlers.framingError(this, status, reason, head);
        this.endAfterFlush();
      },
    });

    s.setNoDelay(true);
    s.on('data', (chunk: Buffer) => {
      if (this.framer.failed) return;
      this.idle.touch();
      this.framer.push(chunk);
    });
    s.on('error', (err) => this.fail(err));
    s.on('close', () => this.finish());
    this.idle = new IdleWatch(opts.clock, opts.idleTimeoutMs, () => this.destroy());
  }

  get isOpen(): boolean {
    return !this.closing && !this.closedFlag;
  }

  /** Called by the socket factory once the outbound TCP (or TLS) handshake is done. */
  connected(): void {
    if (this.closedFlag) return;
    this.connectTimer?.cancel();
    this.local = this.localOf(undefined);
    const queued = this.queue ?? [];
    this.queue = undefined;
    this.queuedBytes = 0;
    for (const data of queued) this.write(data);
  }

  /** Returns false when the data was refused (the failure already went to sendError). */
  send(data: Buffer): boolean {
    if (!this.isOpen) {
      this.handlers.sendError(this.remote, new Error(`${this.proto} connection ${this.id} to ${this.remote.address}:${this.remote.port} is closed`));
      return false;
    }
    this.idle.touch();
    const backlog = this.queue ? this.queuedBytes : this.socket.writableLength;
    if (backlog + data.length > MAX_QUEUED_WRITE_BYTES) {
      const err = new Error(`peer ${this.remote.address}:${this.remote.port} is not reading; over ${MAX_QUEUED_WRITE_BYTES} bytes queued`);
      // This message and any still waiting for the connection are lost: report each.
      this.handlers.sendError(this.remote, err);
      this.fail(err);
      return false;
    }
    if (this.queue) {
      this.queue.push(data);
      this.queuedBytes += data.length;
      return true;
    }
    this.write(data);
    return true;
  }

  /** Closes at once, dropping anything not yet written. */
  destroy(): void {
    this.closing = true;
    this.socket.destroy();
    // Forget it now rather than on the 'close' event a tick later, so counts and lookups are exact.
    this.finish();
  }

  private write(data: Buffer): void {
    this.socket.write(data, (err) => {
      if (err) this.handlers.sendError(this.remote, err);
    });
  }

  /** Sends FIN after pending writes (e.g. the answer to a framing error), then gives up after a grace period. */
  private endAfterFlush(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.end();
    this.graceTimer = this.clock.setTimer(CLOSE_GRACE_MS, () => this.socket.destroy());
  }

  private fail(err: Error): void {
    // Messages still queued for a connection that never came up will not be sent: say so.
    const queued = this.queue ?? [];
    this.queue = undefined;
    for (let i = 0; i < queued.length; i++) this.handlers.sendError(this.remote, err);
    this.destroy();
  }

  private finish(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.framer.pending > 0 && !this.framer.failed) {
      // A message cut off by the close: nothing can be answered, but it is counted (status 0 = no reply).
      this.handlers.framingError(this, 0, 'connection closed in the middle of a message', Buffer.alloc(0));
    }
    this.idle.stop();
    this.graceTimer?.cancel();
    this.connectTimer?.cancel();
    this.handlers.closed(this);
  }


  private localOf(listener: LocalEndpoint | undefined): LocalEndpoint {
    // A wildcard listener's connections know the real local address; that is what Via should name.
    return {
      proto: this.proto,
      address: canonicalAddress(this.socket.localAddress ?? listener?.address ?? ''),
      port: listener?.port ?? this.socket.localPort ?? 0,
    };
  }
}

export function createTcpServer(onSocket: (socket: Socket) => void): Server {
  return netCreateServer({ noDelay: true }, onSocket);
}

/** Dials a TCP peer; `onConnected` runs once the connection is up. */
export function dialTcp(dest: Peer, onConnected: () => void): Socket {
  const socket = netConnect({ host: dest.address, port: dest.port, noDelay: true });
  socket.once('connect', onConnected);
  return socket;
}
