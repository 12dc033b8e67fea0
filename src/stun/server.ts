/**
 * A STUN server for Binding requests (RFC 5389 §10.1 without credentials):
 * the answer carries the request's source as XOR-MAPPED-ADDRESS. It either
 * owns a socket (`StunServer.listen`) or shares one that also carries SIP or
 * RTP (`StunServer.attach`), answering only what `isStun` recognises.
 * `answerBinding` is the pure core, for relays and NATs that answer with an
 * address other than the source.
 */
import dgram, { type RemoteInfo } from 'node:dgram';
import type { StunAddress } from './address.js';
import { StunMethod, StunWriter, decodeStun, isStun, unknownRequiredAttributes, type StunMessage } from './message.js';

export interface StunAnswerOptions {
  software?: string;
}

/**
 * The response to one STUN datagram, or null when none is due (indications,
 * responses). Throws StunParseError for malformed input, which gets no answer.
 */
export function answerBinding(request: Buffer, mapped: StunAddress, opts: StunAnswerOptions = {}): Buffer | null {
  const req: StunMessage = decodeStun(request);
  if (req.cls !== 'request') return null;
  const w = new StunWriter(Buffer.allocUnsafe(256));
  const unknown = unknownRequiredAttributes(req);
  if (unknown.length > 0) {
    w.begin(req.method, 'error', req.transactionId).errorCode(420, 'Unknown Attribute').unknownAttributes(unknown.slice(0, 32));
  } else if (req.method !== StunMethod.Binding) {
    w.begin(req.method, 'error', req.transactionId).errorCode(400, 'Bad Request');
  } else {
    w.begin(StunMethod.Binding, 'success', req.transactionId).xorMappedAddress(mapped);
  }
  if (opts.software) w.software(opts.software);
  // Answer in kind: a client that fingerprints its requests may be demultiplexing on it.
  if (req.fingerprint) w.fingerprint();
  return w.finish();
}

export interface StunServerStats {
  /** Binding requests answered with a success response. */
  answered: number;
  /** Requests answered with an error response (400, 420). */
  rejected: number;
  /** STUN-looking datagrams that failed to parse. */
  malformed: number;
  /** Indications and responses, which get no answer. */
  ignored: number;
}

interface UdpLike {
  send(msg: Uint8Array, port: number, address: string): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): unknown;
  off(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): unknown;
}

export class StunServer {
  readonly stats: StunServerStats = { answered: 0, rejected: 0, malformed: 0, ignored: 0 };
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.handle(msg, rinfo);

  private constructor(
    private readonly socket: UdpLike,
    private readonly opts: StunAnswerOptions,
    private readonly owned: dgram.Socket | undefined,
  ) {
    socket.on('message', this.onMessage);
  }

  /** A server on its own socket (port 0 picks a free one). */
  static listen(opts: StunAnswerOptions & { address?: string; port?: number } = {}): Promise<StunServer> {
    const address = opts.address ?? '127.0.0.1';
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port ?? 0, address, () => {
        socket.off('error', reject);
        socket.on('error', () => undefined); // ICMP errors for one client must not stop the server
        resolve(new StunServer(socket, opts, socket));
      });
    });
  }

  /** Answers STUN on a socket that also carries other traffic; the socket stays the caller's. */
  static attach(socket: UdpLike, opts: StunAnswerOptions = {}): StunServer {
    return new StunServer(socket, opts, undefined);
  }

  address(): StunAddress {
    if (!this.owned) throw new Error('attached STUN server: ask the socket for its address');
    const a = this.owned.address();
    return { address: a.address, port: a.port };
  }

  private handle(msg: Buffer, rinfo: RemoteInfo): void {
    if (!isStun(msg)) return;
    let res: Buffer | null;
    try {
      res = answerBinding(msg, { address: rinfo.address, port: rinfo.port }, this.opts);
    } catch {
      this.stats.malformed++;
      return;
    }
    if (!res) {
      this.stats.ignored++;
      return;
    }
    // Class bits C1 C0 sit at 0x0100 and 0x0010 of the type; both set is an error response.
    if ((res.readUInt16BE(0) & 0x0110) === 0x0110) this.stats.rejected++;
    else this.stats.answered++;
    this.socket.send(res, rinfo.port, rinfo.address);
  }

  /** Stops answering; closes the socket only if this server opened it. */
  close(): Promise<void> {
    this.socket.off('message', this.onMessage);
    const owned = this.owned;
    if (!owned) return Promise.resolve();
    return new Promise((resolve) => owned.close(() => resolve()));
  }
}
