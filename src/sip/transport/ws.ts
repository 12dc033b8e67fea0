/**
 * SIP over WebSocket (RFC 7118): the listener (an HTTP or HTTPS server whose
 * Upgrade requests become WebSocket connections with the `sip` subprotocol,
 * and whose plain requests go to an optional handler: the browser phone) and
 * one connection, which looks to the transport layer like a TCP connection.
 *
 * A WebSocket message is one SIP message (RFC 7118 §5.1): no stream framing.
 * Browsers dial us; we never dial out over WebSocket.
 */
import { isUtf8 } from 'node:buffer';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { canonicalAddress, formatEndpoint } from '../../util/listen.js';
import type { Logger } from '../../util/log.js';
import { IdleWatch, type Connection, type ConnectionHandlers } from './connection.js';
import { MAX_QUEUED_WRITE_BYTES } from './tcp.js';
import type { LocalEndpoint, Peer } from './types.js';

export type WsProto = 'ws' | 'wss';

/** Largest SIP message a browser may send in one WebSocket message; a bigger one closes the connection with 1009. */
export const DEFAULT_WS_MAX_MESSAGE_BYTES = 64 * 1024;
/** A WebSocket ping goes out this often; a connection that has not answered the previous one is closed. */
export const DEFAULT_WS_PING_INTERVAL_MS = 30_000;
/** The WebSocket subprotocol RFC 7118 registers. */
export const SIP_SUBPROTOCOL = 'sip';
/** RFC 6455 close code for a message too big to process. */
export const CLOSE_TOO_BIG = 1009;

/** Serves plain HTTP requests on a WebSocket listener's port (the browser phone's page). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface WsListenerOptions {
  endpoint: LocalEndpoint & { proto: WsProto };
  /** Certificate and key for wss. */
  tls?: { cert: string; key: string };
  maxMessageBytes: number;
  http: HttpHandler | undefined;
  /** Asked before the upgrade; false destroys the socket unanswered. */
  admit(source: Peer): boolean;
  /** A WebSocket connection with the `sip` subprotocol is up. */
  accept(ws: WebSocket, socket: Socket, listener: LocalEndpoint): void;
  log: Logger;
}

/** The HTTP(S) server of one ws/wss listen address; `endpoint` holds the real port once bound. */
export class WsListener {
  readonly server: HttpServer;
  endpoint: LocalEndpoint;
  private readonly wss: WebSocketServer;

  constructor(private readonly opts: WsListenerOptions) {
    this.endpoint = opts.endpoint;
    this.server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }) : createHttpServer();
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxMessageBytes,
      // Checked before the upgrade too; this makes the 101 name the subprotocol.
      handleProtocols: (protocols) => (protocols.has(SIP_SUBPROTOCOL) ? SIP_SUBPROTOCOL : false),
      // No compression: SIP messages are small and permessage-deflate costs memory per connection.
      perMessageDeflate: false,
    });
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket as Socket, head));
    // A browser that drops a half-sent request or handshake is nobody's business but its own.
    this.server.on('clientError', (_err, socket: Duplex) => socket.destroy());
  }

  /** Stops listening and drops HTTP keep-alive connections (WebSocket ones are the layer's to close). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const handler = this.opts.http;
    if (handler) {
      try {
        handler(req, res);
      } catch (err) {
        this.opts.log.error({ err, url: req.url, listener: formatEndpoint(this.endpoint) }, 'HTTP handler threw');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Internal server error\n');
      }
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`Not found: ${formatEndpoint(this.endpoint)} serves SIP over WebSocket (subprotocol "sip") only\n`);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // A reset during the handshake must not become an unhandled 'error' event.
    socket.on('error', () => socket.destroy());
    const source: Peer = { proto: this.endpoint.proto, address: canonicalAddress(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    if (!this.opts.admit(source)) {
      socket.destroy();
      return;
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim().toLowerCase());
    if (!offered.includes(SIP_SUBPROTOCOL)) {
      // RFC 7118 §4: the client must ask for "sip"; a server not agreeing on it fails the handshake (RFC 6455 §4.2.2).
      refuseUpgrade(socket, 400, 'Bad Request', 'SIP over WebSocket needs the subprotocol "sip" (Sec-WebSocket-Protocol: sip, RFC 7118)');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.opts.accept(ws, socket, this.endpoint));
  }
}

function refuseUpgrade(socket: Socket, status: number, reason: string, text: string): void {
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export interface WsConnectionOptions {
  id: number;
  proto: WsProto;
  ws: WebSocket;
  /** The TCP (or TLS) socket under the WebSocket: where the browser is. */
  socket: Socket;
  listener: LocalEndpoint;
  clock: Clock;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  maxMessageBytes: number;
  handlers: ConnectionHandlers;
}

const PONG = Buffer.from('\r\n');

/** One browser's WebSocket, carrying one SIP message per WebSocket message. */
export class WsConnection implements Connection {
  readonly id: number;
  readonly proto: WsProto;
  readonly outbound = false;
  readonly serverName = undefined;
  readonly remote: Peer;
  readonly local: LocalEndpoint;
  private readonly ws: WebSocket;
  private readonly handlers: ConnectionHandlers;
  private readonly clock: Clock;
  private readonly pingIntervalMs: number;
  private readonly maxMessageBytes: number;
  private readonly idle: IdleWatch;
  private pingTimer: TimerHandle | undefined;
  private awaitingPong = false;
  private closing = false;
  private closedFlag = false;

  constructor(opts: WsConnectionOptions) {
    this.id = opts.id;
    this.proto = opts.proto;
    this.ws = opts.ws;
    this.handlers = opts.handlers;
    this.clock = opts.clock;
    this.pingIntervalMs = opts.pingIntervalMs;
    this.maxMessageBytes = opts.maxMessageBytes;
    const s = opts.socket;
    this.remote = { proto: opts.proto, address: canonicalAddress(s.remoteAddress ?? ''), port: s.remotePort ?? 0, connectionId: opts.id };
    // A wildcard listener's connections know the real local address; that is what Via and Record-Route name.
    this.local = { proto: opts.proto, address: canonicalAddress(s.localAddress ?? opts.listener.address), port: opts.listener.port };

    this.ws.on('message', (data: RawData) => this.onMessage(data));
    this.ws.on('pong', () => {
      this.awaitingPong = false;
    });
    this.ws.on('error', (err: Error & { code?: string }) => this.onError(err));
    this.ws.on('close', () => this.finish());
    this.idle = new IdleWatch(opts.clock, opts.idleTimeoutMs, () => this.destroy());
    this.armPing();
  }

  get isOpen(): boolean {
    return !this.closing && !this.closedFlag;
  }

  send(data: Buffer): boolean {
    if (!this.isOpen) {
      this.handlers.sendError(this.remote, new Error(`${this.proto} connection ${this.id} to ${this.remote.address}:${this.remote.port} is closed`));
      return false;
    }
    if (this.ws.bufferedAmount + data.length > MAX_QUEUED_WRITE_BYTES) {
      const err = new Error(`browser ${this.remote.address}:${this.remote.port} is not reading; over ${MAX_QUEUED_WRITE_BYTES} bytes queued`);
      this.handlers.sendError(this.remote, err);
      this.destroy();
      return false;
    }
    this.idle.touch();
    // RFC 7118 §5.1: text frames carry UTF-8; a message with a binary body goes as a binary frame.
    this.ws.send(data, { binary: !isUtf8(data) }, (err) => {
      if (err) this.handlers.sendError(this.remote, err);
    });
    return true;
  }

  destroy(): void {
    this.closing = true;
    this.ws.terminate();
    // Forget it now rather than on the 'close' event a tick later, so counts and lookups are exact.
    this.finish();
  }

  private onMessage(raw: RawData): void {
    if (!this.isOpen) return;
    this.idle.touch();
    const data = Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
    if (isCrlfOnly(data)) {
      // RFC 5626 §3.5.1 keep-alive as JsSIP sends it, one ping per message: answer CRLF.
      if (data.length >= 4) this.send(PONG);
      this.handlers.keepalive(this);
      return;
    }
    this.handlers.message(this, data);
  }

  private onError(err: Error & { code?: string }): void {
    // The ws library reports a frame it refuses (too big: it closes with 1009; bad UTF-8, bad opcode,
    // unmasked frame: other 1xxx codes) here; socket failures just close. Nothing can be answered.
    if (!err.code?.startsWith('WS_ERR_')) return;
    const reason = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? `WebSocket message over the ${this.maxMessageBytes}-byte limit` : `WebSocket protocol error: ${err.message}`;
    this.handlers.framingError(this, 0, reason, Buffer.alloc(0));
  }

  private finish(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.idle.stop();
    this.pingTimer?.cancel();
    this.handlers.closed(this);
  }

  private armPing(): void {
    this.pingTimer = this.clock.setTimer(this.pingIntervalMs, () => {
      if (this.closedFlag) return;
      if (this.awaitingPong) {
        // The browser (tab closed, network gone) did not answer the last ping within a whole interval.
        this.destroy();
        return;
      }
      this.awaitingPong = true;
      this.ws.ping();
      this.armPing();
    });
  }

}

/** A message of CR and LF only, in pairs: a keep-alive (CRLFCRLF ping or CRLF pong), never SIP. */
function isCrlfOnly(data: Buffer): boolean {
  const n = data.length;
  if (n === 0 || n % 2 !== 0 || n > 8) return false;
  for (let i = 0; i < n; i += 2) if (data[i] !== 13 || data[i + 1] !== 10) return false;
  return true;
}
