/**
 * The SIP transport layer (RFC 3261 §18): listens on UDP, TCP, TLS and
 * WebSocket (RFC 7118), hands every datagram, framed stream message or
 * WebSocket message up as an Inbound, and sends bytes to a Peer — reusing
 * the connection a request came in on, so a phone behind NAT (or a browser,
 * which is reachable no other way) gets requests on the flow it registered
 * over (RFC 5626).
 *
 * It knows nothing of SIP beyond framing: parsing, Via `received`/`rport`
 * (RFC 3581) and answering framing errors are the caller's business; the
 * source address and port it needs for them arrive with every message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { RemoteInfo } from 'node:dgram';
import { realClock, type Clock } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { LogThrottle } from '../../util/log-throttle.js';
import { ensureSelfSignedCertificate, loadCertificateFiles, type CertificateFiles } from './cert.js';
import { canonicalAddress, formatEndpoint, isWildcard } from '../../util/listen.js';
import type { Connection, ConnectionHandlers } from './connection.js';
import { createTcpServer, dialTcp, StreamConnection, type StreamProto } from './tcp.js';
import { createTlsServer, TlsPolicy, type ClientCertMode } from './tls.js';
import { ListenError } from './errors.js';
import type { Inbound, LocalEndpoint, Peer } from './types.js';
import { isUdpKeepalive, UdpListener } from './udp.js';
import { DEFAULT_WS_MAX_MESSAGE_BYTES, DEFAULT_WS_PING_INTERVAL_MS, WsConnection, WsListener, type WsProto } from './ws.js';

export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60 * 1000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;

export interface TransportTlsOptions {
  /** PEM certificate and key to use; when absent a self-signed pair is made in dataDir. */
  certFile?: string;
  keyFile?: string;
  /** Where the generated certificate is kept and reused across restarts. */
  dataDir?: string;
  /** Extra host names / IPs for the generated certificate's subjectAltName. */
  hosts?: string[];
  /** PEM files of CAs trusted beside the system store (outbound peers, and client certificates). */
  caFiles?: string[];
  /** false: outbound TLS does not verify the peer's certificate (default true). */
  verify?: boolean;
  /** Whether inbound TLS asks for a client certificate (default none). */
  clientCerts?: ClientCertMode;
}

export interface TransportOptions {
  handlers: TransportHandlers;
  tls?: TransportTlsOptions;
  /** Stream connections with no traffic either way for this long are closed. */
  idleTimeoutMs?: number;
  /** Per stream listener; further connections are refused by the kernel backlog. */
  maxConnections?: number;
  clock?: Clock;
  /** Where the layer reports things nobody asked for: a handler that threw, a listener error. */
  log?: Logger;
  /**
   * Asked for every datagram, every framed stream message and every new
   * connection before anything is parsed; false drops it without an answer
   * (a banned or flooding source, as Kamailio's pike drops it).
   */
  admit?: (source: Peer) => boolean;
  /**
   * Plain HTTP requests (not WebSocket upgrades) on a ws/wss listener's port:
   * the composition root serves the browser phone with it. Without it they get 404.
   */
  http?: (req: IncomingMessage, res: ServerResponse) => void;
  webSocket?: {
    /** Largest SIP message in one WebSocket message (default 64 KiB); a bigger one closes the connection with 1009. */
    maxMessageBytes?: number;
    /** WebSocket ping interval (default 30 s); a connection that misses one pong is closed. */
    pingIntervalMs?: number;
  };
}

export interface TransportStats {
  /** Messages handed up (datagrams and framed stream messages). */
  received: number;
  /** Messages handed to a socket. */
  sent: number;
  sendErrors: number;
  framingErrors: number;
  /** Stream connections open now. */
  connections: number;
  /** Stream connections ever accepted / dialled. */
  connectionsAccepted: number;
  connectionsDialled: number;
  /** Keep-alives received: CRLF pings on streams and WebSockets (each answered) and CRLF datagrams. */
  keepalives: number;
  /** Datagrams, stream messages and connections dropped unread because `admit` said no. */
  refused: number;
}

/**
 * The one owner of what the layer hears (the SIP stack), given at construction.
 * A handler that throws is logged; it never tears down a socket.
 */
export interface TransportHandlers {
  /** A datagram or a framed stream message. */
  message(inb: Inbound): void;
  /** A stream message that cannot be framed; `status` is the SIP answer it deserves (0: none possible). */
  framingError(source: Peer, local: LocalEndpoint, status: number, reason: string, head: Buffer): void;
  /** A send that failed; without this handler the failure is logged. */
  sendError?(dest: Peer, err: Error): void;
  /** A stream connection is gone: a registrar drops the flows (RFC 5626) bound to it. */
  connectionClosed?(connectionId: number, peer: Peer): void;
}

interface StreamListener {
  endpoint: LocalEndpoint;
  server: Server;
  close(): Promise<void>;
}

export class TransportLayer {
  private readonly clock: Clock;
  private readonly idleTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly log: Logger;
  private readonly handshakeLogs: LogThrottle;
  /** Raw sockets refused before their TLS handshake: their handshake "failure" is ours, not worth a log line. */
  private readonly refusedSockets = new WeakSet<Socket>();
  private readonly tlsOptions: TransportTlsOptions | undefined;
  private tlsCreds: CertificateFiles | undefined;
  private readonly tls: TlsPolicy;

  private readonly udp: UdpListener[] = [];
  private readonly streams: StreamListener[] = [];
  private readonly connections = new Map<number, Connection>();
  /** proto|address|port → open connections to that peer, newest last. */
  private readonly byPeer = new Map<string, Connection[]>();
  private nextConnectionId = 1;
  private closed = false;

  private readonly handlers: TransportHandlers;
  private readonly counters: Omit<TransportStats, 'connections'> = {
    received: 0,
    sent: 0,
    sendErrors: 0,
    framingErrors: 0,
    connectionsAccepted: 0,
    connectionsDialled: 0,
    keepalives: 0,
    refused: 0,
  };
  private readonly admit: ((source: Peer) => boolean) | undefined;
  private readonly connHandlers: ConnectionHandlers;
  private readonly http: TransportOptions['http'];
  private readonly wsMaxMessageBytes: number;
  private readonly wsPingIntervalMs: number;

  constructor(opts: TransportOptions) {
    this.handlers = opts.handlers;
    this.clock = opts.clock ?? realClock;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.log = opts.log ?? silentLogger;
    this.handshakeLogs = new LogThrottle(this.clock);
    this.tlsOptions = opts.tls;
    this.tls = new TlsPolicy({ caFiles: opts.tls?.caFiles, verify: opts.tls?.verify, clientCerts: opts.tls?.clientCerts });
    this.admit = opts.admit;
    this.http = opts.http;
    this.wsMaxMessageBytes = opts.webSocket?.maxMessageBytes ?? DEFAULT_WS_MAX_MESSAGE_BYTES;
    this.wsPingIntervalMs = opts.webSocket?.pingIntervalMs ?? DEFAULT_WS_PING_INTERVAL_MS;
    this.connHandlers = {
      message: (conn, data) => {
        if (this.admit && !this.admit(conn.remote)) {
          this.counters.refused++;
          conn.destroy();
          return;
        }
        this.counters.received++;
        this.emitMessage({ data, source: conn.remote, local: conn.local });
      },
      keepalive: () => {
        this.counters.keepalives++;
      },
      framingError: (conn, status, reason, head) => {
        this.counters.framingErrors++;
        try {
          this.handlers.framingError(conn.remote, conn.local, status, reason, head);
        } catch (err) {
          this.handlerThrew(err, 'framing-error');
        }
      },
      sendError: (dest, err) => this.reportSendError(dest, err),
      closed: (conn) => this.forget(conn),
    };
  }

  /** Binds every endpoint; on any failure the ones bound by this call are closed again and it rejects. */
  async listen(endpoints: LocalEndpoint[]): Promise<void> {
    if (this.closed) throw new Error('SIP transport layer is closed');
    const udp: UdpListener[] = [];
    const streams: StreamListener[] = [];
    const tlsHosts = endpoints.filter((e) => e.proto === 'tls' || e.proto === 'wss').map((e) => e.address);
    await this.tls.load();
    try {
      for (const ep of endpoints) {
        if (ep.proto === 'udp') {
          udp.push(await UdpListener.open(ep, (d, r, l) => this.onDatagram(d, r, l), (err, l) =>
            this.log.warn({ err, listener: formatEndpoint(l.endpoint) }, 'UDP socket error')).catch((err: Error) => {
            throw listenError(err, ep);
          }));
        } else if (ep.proto === 'tcp' || ep.proto === 'tls') {
          streams.push(await this.listenStream(ep, tlsHosts));
        } else {
          streams.push(await this.listenWs(ep, tlsHosts));
        }
      }
    } catch (err) {
      await Promise.all([...udp.map((u) => u.close()), ...streams.map((s) => s.close())]);
      throw err;
    }
    this.udp.push(...udp);
    this.streams.push(...streams);
  }

  /** What is actually bound, with real port numbers. */
  endpoints(): LocalEndpoint[] {
    return [...this.udp.map((u) => ({ ...u.endpoint })), ...this.streams.map((s) => ({ ...s.endpoint }))];
  }

  stats(): TransportStats {
    return { ...this.counters, connections: this.connections.size };
  }

  /** Whether a stream connection (a flow, RFC 5626) is still open. */
  isConnectionOpen(connectionId: number): boolean {
    return this.connections.get(connectionId)?.isOpen ?? false;
  }

  /** The far end of an open connection (with its id), e.g. a browser's WebSocket named by a flow token. */
  connectionPeer(connectionId: number): Peer | undefined {
    const conn = this.connections.get(connectionId);
    return conn?.isOpen ? conn.remote : undefined;
  }

  /** Drops one stream connection now (e.g. a flow whose registration expired). */
  closeConnection(connectionId: number): void {
    this.connections.get(connectionId)?.destroy();
  }

  /**
   * Sends one message. Never throws: failures go to the sendError handler.
   * UDP leaves from the listener bound to `from` when given, else from one
   * of the destination's address family. Streams reuse `dest.connectionId`,
   * then any open connection to the same proto/address/port, else dial one.
   */
  send(dest: Peer, data: Buffer, from?: LocalEndpoint): void {
    try {
      if (this.closed) throw new Error('SIP transport layer is closed');
      if (!(dest.port > 0 && dest.port < 65536)) throw new Error(`bad destination port ${dest.port}`);
      switch (dest.proto) {
        case 'udp':
          this.sendUdp(dest, data, from);
          return;
        case 'tcp':
        case 'tls':
          if (this.connectionFor(dest).send(data)) this.counters.sent++;
          return;
        case 'ws':
        case 'wss':
          if (this.webSocketFor(dest).send(data)) this.counters.sent++;
          return;
        default:
          throw new Error(`${String(dest.proto)} is not carried by the SIP transport layer`);
      }
    } catch (err) {
      this.reportSendError(dest, err instanceof Error ? err : new Error(String(err)));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A datagram handed to send() in this turn leaves a tick later (Node looks up even a
    // literal address asynchronously): let it go before the sockets close, or the BYE of a
    // call that ended just before its phone quits is lost.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const conn of [...this.connections.values()]) conn.destroy();
    await Promise.all([...this.udp.map((u) => u.close()), ...this.streams.map((s) => s.close())]);
    this.udp.length = 0;
    this.streams.length = 0;
  }

  // ---- inbound --------------------------------------------------------------

  private onDatagram(data: Buffer, rinfo: RemoteInfo, listener: UdpListener): void {
    const source: Peer = { proto: 'udp', address: canonicalAddress(rinfo.address), port: rinfo.port };
    if (this.admit && !this.admit(source)) {
      this.counters.refused++;
      return;
    }
    if (isUdpKeepalive(data)) {
      this.counters.keepalives++;
      return;
    }
    this.counters.received++;
    this.emitMessage({ data, source, local: listener.endpoint });
  }


  private async listenStream(ep: LocalEndpoint, tlsHosts: string[]): Promise<StreamListener> {
    const proto = ep.proto as StreamProto;
    let server: Server;
    let endpoint: LocalEndpoint = ep;
    if (proto === 'tls') {
      const creds = await this.credentials(ep, tlsHosts);
      server = createTlsServer(this.tls.serverOptions(creds), (s) => this.acceptTls(s, endpoint), (err, socket) => {
        // Scanners and wrong-protocol clients fail handshakes all day: one line per source per minute.
        // The TLS socket wraps the raw one we refused; `_parent` is Node's (undocumented) link to it.
        // Should that change, the cost is one extra log line per source per minute.
        const raw = (socket as Socket & { _parent?: Socket })._parent;
        if (raw && this.refusedSockets.has(raw)) return;
        const source = socket.remoteAddress ?? 'unknown';
        const seen = this.handshakeLogs.admit(source);
        if (seen.log) this.log.info({ source, listener: formatEndpoint(endpoint), reason: err.message, suppressed: seen.suppressed || undefined }, 'TLS handshake failed');
      });
      // A banned or flooding source is refused before the handshake: no certificate, no key exchange.
      const admit = this.admit;
      if (admit) {
        server.prependListener('connection', (raw: Socket) => {
          if (raw.remoteAddress === undefined || admit({ proto, address: canonicalAddress(raw.remoteAddress), port: raw.remotePort ?? 0 })) return;
          this.counters.refused++;
          this.refusedSockets.add(raw);
          raw.destroy();
        });
      }
    } else {
      server = createTcpServer((s) => this.accept(s, proto, endpoint));
    }
    server.maxConnections = this.maxConnections;
    endpoint = await this.bind(server, ep);
    return { endpoint, server, close: () => closeServer(server) };
  }

  /** A ws/wss listener: an HTTP(S) server whose upgrades become WebSocket connections. */
  private async listenWs(ep: LocalEndpoint, tlsHosts: string[]): Promise<StreamListener> {
    const proto = ep.proto as WsProto;
    const creds = proto === 'wss' ? await this.credentials(ep, tlsHosts) : undefined;
    const listener: WsListener = new WsListener({
      endpoint: { ...ep, proto },
      tls: creds ? { cert: creds.cert, key: creds.key } : undefined,
      maxMessageBytes: this.wsMaxMessageBytes,
      http: this.http,
      admit: (source) => {
        if (this.closed) return false;
        if (!this.admit || this.admit(source)) return true;
        this.counters.refused++;
        return false;
      },
      accept: (ws, socket, local) => {
        if (this.closed) {
          ws.terminate();
          return;
        }
        this.counters.connectionsAccepted++;
        this.register(
          new WsConnection({
            id: this.nextConnectionId++,
            proto,
            ws,
            socket,
            listener: local,
            clock: this.clock,
            idleTimeoutMs: this.idleTimeoutMs,
            pingIntervalMs: this.wsPingIntervalMs,
            maxMessageBytes: this.wsMaxMessageBytes,
            handlers: this.connHandlers,
          }),
        );
      },
      log: this.log,
    });
    listener.server.maxConnections = this.maxConnections;
    listener.endpoint = await this.bind(listener.server, ep);
    return { endpoint: listener.endpoint, server: listener.server, close: () => listener.close() };
  }

  /** Listens on `ep`; resolves with the endpoint as bound (the real port for port 0). */
  private async bind(server: Server, ep: LocalEndpoint): Promise<LocalEndpoint> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(listenError(err, ep));
      server.once('error', onError);
      server.listen({ host: ep.address, port: ep.port, ipv6Only: isIP(ep.address) === 6, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const addr = server.address();
    const endpoint: LocalEndpoint = { proto: ep.proto, address: ep.address, port: typeof addr === 'object' && addr ? addr.port : ep.port };
    server.on('error', (err) => this.log.warn({ err, listener: formatEndpoint(endpoint) }, 'listener error'));
    return endpoint;
  }

  private async credentials(ep: LocalEndpoint, listenHosts: string[]): Promise<CertificateFiles> {
    if (this.tlsCreds) return this.tlsCreds;
    const o = this.tlsOptions;
    if (o?.certFile && o.keyFile) {
      this.tlsCreds = await loadCertificateFiles(o.certFile, o.keyFile);
    } else if (o?.dataDir) {
      const hosts = [...(o.hosts ?? []), ...listenHosts];
      this.tlsCreds = await ensureSelfSignedCertificate({ dataDir: o.dataDir, hosts });
    } else {
      throw new Error(
        `SIP listen address ${formatEndpoint(ep)} needs a certificate: set tls.certFile and tls.keyFile, ` +
          'or a data directory where a self-signed one can be generated',
      );
    }
    this.tls.useCredentials(this.tlsCreds);
    return this.tlsCreds;
  }

  /** Inbound TLS: with client certificates asked for, says what was presented and refuses what must be. */
  private acceptTls(socket: TLSSocket, listener: LocalEndpoint): void {
    const report = this.tls.checkClient(socket);
    if (report) {
      const source = socket.remoteAddress ?? 'unknown';
      const seen = this.handshakeLogs.admit(`cert|${source}`);
      if (seen.log) {
        const { refused, ...presented } = report;
        this.log.info({ source, listener: formatEndpoint(listener), ...presented, suppressed: seen.suppressed || undefined }, refused ? `TLS client refused: ${refused}` : 'TLS client certificate');
      }
      if (report.refused) {
        socket.destroy();
        return;
      }
    }
    this.accept(socket, 'tls', listener);
  }

  private accept(socket: Socket, proto: StreamProto, listener: LocalEndpoint): void {
    if (this.closed || socket.remoteAddress === undefined) {
      socket.destroy();
      return;
    }
    // TLS sources were asked before their handshake (listenStream).
    if (proto === 'tcp' && this.admit && !this.admit({ proto, address: canonicalAddress(socket.remoteAddress), port: socket.remotePort ?? 0 })) {
      this.counters.refused++;
      socket.destroy();
      return;
    }
    this.counters.connectionsAccepted++;
    this.register(
      new StreamConnection({
        id: this.nextConnectionId++,
        proto,
        socket,
        outbound: false,
        listener,
        clock: this.clock,
        idleTimeoutMs: this.idleTimeoutMs,
        handlers: this.connHandlers,
      }),
    );
  }

  // ---- outbound -------------------------------------------------------------

  private sendUdp(dest: Peer, data: Buffer, from?: LocalEndpoint): void {
    const listener = this.pickUdp(dest, from);
    if (!listener) {
      throw new Error(`no UDP listener for IPv${isIP(dest.address) === 6 ? 6 : 4} to send to ${dest.address}:${dest.port}`);
    }
    this.counters.sent++;
    listener.send(data, dest.port, dest.address, (err) => {
      if (err) this.reportSendError(dest, err);
    });
  }

  private pickUdp(dest: Peer, from?: LocalEndpoint): UdpListener | undefined {
    if (from) {
      const exact = this.udp.find((u) => u.endpoint.port === from.port && u.endpoint.address === canonicalAddress(from.address));
      if (exact) return exact;
    }
    // A host name (no IP) is resolved by the socket; IPv4 is the safer guess.
    const family = isIP(dest.address) === 6 ? 6 : 4;
    let fallback: UdpListener | undefined;
    for (const u of this.udp) {
      if (u.family !== family) continue;
      if (from && u.endpoint.address === canonicalAddress(from.address)) return u;
      // A wildcard socket lets the kernel pick the right source address for the route.
      if (!fallback || (isWildcard(u.endpoint.address) && !isWildcard(fallback.endpoint.address))) fallback = u;
    }
    return fallback;
  }

  private connectionFor(dest: Peer): Connection {
    if (dest.connectionId !== undefined) {
      const conn = this.connections.get(dest.connectionId);
      if (conn?.isOpen && conn.proto === dest.proto) return conn;
      // The flow is gone: RFC 3261 §18.2.2 says to try the address itself next.
    }
    const list = this.byPeer.get(peerKey(dest.proto, dest.address, dest.port));
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        const c = list[i];
        if (!c.isOpen) continue;
        // A TLS connection checked for one name proves nothing of another, and one the peer opened to
        // us was checked for none: reuse by address only what we dialled and verified for this name.
        if (dest.proto === 'tls' && (!c.outbound || c.serverName !== dest.serverName)) continue;
        return c;
      }
    }
    return this.dial(dest);
  }

  /**
   * The browser's own connection: `dest.connectionId`, else an open one from
   * that address and port. JsSIP and SIP.js write `WSS` in Via even over ws,
   * so a destination taken from a Via matches either kind. Never dialled.
   */
  private webSocketFor(dest: Peer): Connection {
    if (dest.connectionId !== undefined) {
      const conn = this.connections.get(dest.connectionId);
      if (conn?.isOpen && (conn.proto === 'ws' || conn.proto === 'wss')) return conn;
    }
    for (const proto of dest.proto === 'ws' ? ['ws', 'wss'] : ['wss', 'ws']) {
      const list = this.byPeer.get(peerKey(proto, dest.address, dest.port));
      const open = list?.filter((c) => c.isOpen);
      if (open?.length) return open[open.length - 1];
    }
    throw new Error(
      `no open WebSocket connection from ${formatEndpoint(dest)}: a browser is reachable only on the connection it opened, and that one is closed`,
    );
  }

  private dial(dest: Peer): StreamConnection {
    const proto = dest.proto as StreamProto;
    const id = this.nextConnectionId++;
    const target: Peer = { proto, address: canonicalAddress(dest.address), port: dest.port };
    // The callback only runs after connecting, long after `conn` is initialised.
    const onConnected = (): void => conn.connected();
    const conn: StreamConnection = new StreamConnection({
      id,
      proto,
      socket: proto === 'tls' ? this.tls.dial({ ...target, serverName: dest.serverName }, onConnected) : dialTcp(target, onConnected),
      outbound: true,
      dest: { ...target, serverName: dest.serverName },
      clock: this.clock,
      idleTimeoutMs: this.idleTimeoutMs,
      handlers: this.connHandlers,
    });
    this.counters.connectionsDialled++;
    this.register(conn);
    return conn;
  }

  // ---- bookkeeping ----------------------------------------------------------

  private register(conn: Connection): void {
    this.connections.set(conn.id, conn);
    const key = peerKey(conn.proto, conn.remote.address, conn.remote.port);
    const list = this.byPeer.get(key);
    if (list) list.push(conn);
    else this.byPeer.set(key, [conn]);
  }

  private forget(conn: Connection): void {
    this.connections.delete(conn.id);
    const key = peerKey(conn.proto, conn.remote.address, conn.remote.port);
    const list = this.byPeer.get(key);
    if (list) {
      const rest = list.filter((c) => c !== conn);
      if (rest.length) this.byPeer.set(key, rest);
      else this.byPeer.delete(key);
    }
    if (!this.handlers.connectionClosed) return;
    try {
      this.handlers.connectionClosed(conn.id, conn.remote);
    } catch (err) {
      this.handlerThrew(err, 'connection-closed');
    }
  }

  private emitMessage(inb: Inbound): void {
    try {
      this.handlers.message(inb);
    } catch (err) {
      this.handlerThrew(err, 'message');
    }
  }

  private reportSendError(dest: Peer, err: Error): void {
    this.counters.sendErrors++;
    if (!this.handlers.sendError) {
      this.log.warn({ dest: formatEndpoint(dest), reason: err.message }, 'send failed');
      return;
    }
    try {
      this.handlers.sendError(dest, err);
    } catch (e) {
      this.handlerThrew(e, 'send-error');
    }
  }

  /** A bug in a layer above must not tear down a socket or the process; it is logged instead. */
  private handlerThrew(err: unknown, what: string): void {
    this.log.error({ err }, `${what} handler threw`);
  }
}

function peerKey(proto: string, address: string, port: number): string {
  return `${proto}|${canonicalAddress(address)}|${port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function listenError(err: Error, ep: LocalEndpoint): ListenError {
  return new ListenError((err as NodeJS.ErrnoException).code ?? 'UNKNOWN', ep, err);
}
