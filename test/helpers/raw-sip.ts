/**
 * A bare SIP endpoint on a UDP socket for tests that need to send exact
 * messages (loops, wrong credentials, in-dialog routing) and read exactly what
 * comes back. Everything stays on loopback; every wait has a deadline.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { buildAuthorization } from '../../src/sip/auth/index.js';
import { parseMessage, SipMessage } from '../../src/sip/message.js';

export interface Received {
  msg: SipMessage;
  from: { address: string; port: number };
}

export class RawSipClient {
  readonly received: Received[] = [];
  private waiters: { pred: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];

  private constructor(
    private readonly sock: dgram.Socket,
    readonly address: string,
    readonly port: number,
  ) {
    sock.on('message', (data, rinfo) => {
      let msg: SipMessage;
      try {
        msg = parseMessage(data);
      } catch {
        return;
      }
      const r = { msg, from: { address: rinfo.address, port: rinfo.port } };
      const w = this.waiters.find((x) => x.pred(r));
      if (w) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(r);
      } else this.received.push(r);
    });
  }

  static async open(address = '127.0.0.1'): Promise<RawSipClient> {
    const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => sock.bind(0, address, resolve));
    return new RawSipClient(sock, address, sock.address().port);
  }

  get hostPort(): string {
    return this.address.includes(':') ? `[${this.address}]:${this.port}` : `${this.address}:${this.port}`;
  }

  send(msg: SipMessage | Buffer | string, target: string): void {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    if (!m) throw new Error(`target must be host:port, got ${target}`);
    const data = msg instanceof SipMessage ? msg.toBuffer() : Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
    this.sock.send(data, Number(m[2]), m[1]);
  }

  /** The next message (already queued or arriving within timeoutMs) that satisfies `pred`. */
  waitFor(pred: (r: Received) => boolean, timeoutMs = 3000): Promise<Received> {
    const idx = this.received.findIndex(pred);
    if (idx >= 0) return Promise.resolve(this.received.splice(idx, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== waiter);
        reject(new Error(`no matching SIP message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Final response to a request with this Call-ID and CSeq method. */
  finalFor(req: SipMessage, timeoutMs = 3000): Promise<Received> {
    return this.waitFor((r) => !r.msg.isRequest && r.msg.callId === req.callId && r.msg.status >= 200 && r.msg.cseq.method === req.method, timeoutMs);
  }

  /** Builds a request from this endpoint: fresh branch, From tag and (unless given) Call-ID. */
  request(method: string, uri: string, opts: RequestOptions = {}): SipMessage {
    const headers: [string, string][] = [
      ['Via', `SIP/2.0/UDP ${this.hostPort};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`],
      ['Max-Forwards', String(opts.maxForwards ?? 70)],
      ['From', opts.from ?? `<sip:tester@${this.hostPort}>;tag=${randomBytes(4).toString('hex')}`],
      ['To', opts.to ?? `<${uri}>`],
      ['Call-ID', opts.callId ?? `${randomBytes(8).toString('hex')}@test`],
      ['CSeq', `${opts.cseq ?? 1} ${method}`],
    ];
    if (opts.contact !== false) headers.push(['Contact', `<sip:tester@${this.hostPort}>`]);
    headers.push(...(opts.headers ?? []));
    return SipMessage.request(method, uri, headers, opts.body ?? '');
  }

  /**
   * Sends `req`; on a 401/407 answers the first challenge with `cred` (new
   * branch, CSeq + 1) and returns the final response to the retry.
   */
  async withAuth(req: SipMessage, target: string, cred: { user: string; password: string }): Promise<SipMessage> {
    this.send(req, target);
    const first = (await this.finalFor(req)).msg;
    if (first.status !== 401 && first.status !== 407) return first;
    const header = first.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
    const challenge = first.get(header);
    if (!challenge) throw new Error(`${first.status} without ${header}`);
    if (req.method === 'INVITE') {
      // ACK the challenge as a UAC must (same branch).
      const ack = SipMessage.request('ACK', req.uri, [
        ['Via', req.getAll('via')[0]], ['Max-Forwards', '70'], ['From', req.get('from') ?? ''], ['To', first.get('to') ?? ''],
        ['Call-ID', req.callId], ['CSeq', `${req.cseq.seq} ACK`],
      ]);
      this.send(ack, target);
    }
    const retry = req.clone();
    retry.set('Via', req.getAll('via')[0].replace(/branch=[^;,\s]+/, `branch=z9hG4bK${randomBytes(6).toString('hex')}`));
    retry.set('CSeq', `${req.cseq.seq + 1} ${req.method}`);
    retry.set(first.status === 401 ? 'Authorization' : 'Proxy-Authorization', buildAuthorization(challenge, cred, req.method, req.uri, 1));
    this.send(retry, target);
    return (await this.finalFor(retry)).msg;
  }

  close(): void {
    this.sock.close();
  }
}

export interface RequestOptions {
  from?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  maxForwards?: number;
  contact?: false;
  headers?: [string, string][];
  body?: string;
}
