/**
 * The driver's side of server fuzzing: forks the harness, sends cases over
 * UDP and TCP, and checks liveness: a valid OPTIONS over UDP and over a new
 * TCP connection must each get a 200 within a second, the harness must
 * answer over IPC, and no error may have been logged or escaped.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildAuthorization } from '../../../src/sip/auth/client.js';
import { crc32 } from '../../../src/stun/message.js';
import { Rng } from '../rng.js';
import type { HarnessReply, HarnessRequest, HarnessStats } from './protocol.js';

export const PROBE_TIMEOUT_MS = 1000;
/** A user of the harness's config: mutated requests carrying credentials get valid ones for it. */
export const FUZZ_USER = { user: 'alice', password: 'Al1ce-long-pass-77' };
const START_TIMEOUT_MS = 30_000;
const IPC_TIMEOUT_MS = 5000;
/** How long a fuzz TCP connection is given to be closed by the server before we close it. */
const TCP_LINGER_MS = 150;

function timeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]).finally(() => clearTimeout(timer));
}

function options(port: number, transport: 'UDP' | 'TCP', local: string): { text: string; callId: string } {
  const callId = `probe-${randomBytes(6).toString('hex')}`;
  const text = [
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${local};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@127.0.0.1>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return { text, callId };
}

function isOkFor(data: Buffer, callId: string): boolean {
  const text = data.toString('latin1');
  return text.startsWith('SIP/2.0 200 ') && text.includes(callId);
}

export class FuzzedServer {
  private exited: string | undefined;
  private readonly waiting: ((m: HarnessReply) => void)[] = [];
  private probeWaiter: ((data: Buffer) => void) | undefined;
  /** The server's latest Digest challenge, and how often its nonce was used. */
  private challenge?: { value: string; nc: number };

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    /** The socket fuzz datagrams go out from; its port is in their Via and Contact. */
    private readonly udp: dgram.Socket,
    private readonly probeSock: dgram.Socket,
  ) {
    child.on('message', (m: HarnessReply) => this.waiting.shift()?.(m));
    child.on('exit', (code, signal) => {
      this.exited = `server process exited (${signal ?? `code ${code}`})`;
      for (const w of this.waiting.splice(0)) w({ type: 'allowed' });
    });
    udp.on('message', () => undefined);
    probeSock.on('message', (data) => this.probeWaiter?.(data));
  }

  get localPort(): number {
    return this.udp.address().port;
  }

  get dead(): string | undefined {
    return this.exited;
  }

  static async start(): Promise<FuzzedServer> {
    const entry = fileURLToPath(new URL('./harness.js', import.meta.url));
    const child = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const ready = await timeout(
      new Promise<HarnessReply | undefined>((resolve) => {
        child.once('message', (m: HarnessReply) => resolve(m));
        child.once('exit', () => resolve(undefined));
      }),
      START_TIMEOUT_MS,
      undefined,
    );
    if (!ready || ready.type !== 'ready') {
      child.kill('SIGKILL');
      throw new Error('the fuzzed server did not start');
    }
    const bind = async (): Promise<dgram.Socket> => {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
      return s;
    };
    const server = new FuzzedServer(child, ready.port, await bind(), await bind());
    await server.request({ type: 'allow', address: '127.0.0.1', port: server.localPort });
    await server.request({ type: 'allow', address: '127.0.0.1', port: server.probeSock.address().port });
    return server;
  }

  private request(m: HarnessRequest): Promise<HarnessReply | undefined> {
    if (this.exited) return Promise.resolve(undefined);
    return timeout(
      new Promise<HarnessReply>((resolve) => {
        this.waiting.push(resolve);
        this.child.send(m);
      }),
      IPC_TIMEOUT_MS,
      undefined,
    );
  }

  /** The harness's counters, or undefined when it does not answer (dead or stuck). */
  async stats(): Promise<HarnessStats | undefined> {
    const r = await this.request({ type: 'stats' });
    return r?.type === 'stats' ? r.stats : undefined;
  }

  sendUdp(data: Buffer): Promise<void> {
    return new Promise((resolve) => this.udp.send(data, this.port, '127.0.0.1', () => resolve()));
  }

  /**
   * One connection carrying `data`, written in pieces whose sizes come from
   * the data itself (so a case replays the same way), with a pause now and
   * then so the server sees separate reads.
   */
  async sendTcp(data: Buffer): Promise<void> {
    const sock = net.connect({ port: this.port, host: '127.0.0.1' });
    sock.on('data', () => undefined);
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => undefined);
    const connected = await timeout(new Promise<boolean>((resolve) => {
      sock.once('connect', () => resolve(true));
      sock.once('error', () => resolve(false));
    }), PROBE_TIMEOUT_MS, false);
    if (!connected) {
      sock.destroy();
      return;
    }
    const rng = new Rng(crc32(data));
    let pos = 0;
    while (pos < data.length && !sock.destroyed) {
      const n = rng.chance(0.5) ? data.length - pos : rng.range(1, 2000);
      sock.write(data.subarray(pos, pos + n));
      pos += n;
      if (rng.chance(0.2)) await new Promise((r) => setTimeout(r, 1));
    }
    sock.end();
    await timeout(closed, TCP_LINGER_MS, undefined);
    sock.destroy();
  }

  /**
   * Asks the server for a Digest challenge (an unauthenticated REGISTER for
   * the fuzz user), so that the credentials in mutated requests can be made
   * valid and the requests get past authentication into the registrar and
   * the proxy's forwarding.
   */
  async refreshChallenge(): Promise<void> {
    if (this.exited) return;
    const local = `127.0.0.1:${this.probeSock.address().port}`;
    const callId = `auth-${randomBytes(6).toString('hex')}`;
    const text = [
      `REGISTER sip:127.0.0.1:${this.port} SIP/2.0`,
      `Via: SIP/2.0/UDP ${local};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
      'Max-Forwards: 70',
      `From: <sip:${FUZZ_USER.user}@127.0.0.1:${this.port}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:${FUZZ_USER.user}@127.0.0.1:${this.port}>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 REGISTER',
      `Contact: <sip:${FUZZ_USER.user}@${local}>`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    const got = await timeout(
      new Promise<string | undefined>((resolve) => {
        this.probeWaiter = (data) => {
          const t = data.toString('latin1');
          if (!t.startsWith('SIP/2.0 401 ') || !t.includes(callId)) return;
          resolve(/\r\nWWW-Authenticate: *([^\r\n]+)/i.exec(t)?.[1]);
        };
        this.probeSock.send(text, this.port, '127.0.0.1');
      }),
      PROBE_TIMEOUT_MS,
      undefined,
    );
    this.probeWaiter = undefined;
    if (got) this.challenge = { value: got, nc: 0 };
  }

  /**
   * The request with the value of its (first) Authorization or
   * Proxy-Authorization line replaced by valid credentials for its method and
   * Request-URI. What else the mutations did is left alone.
   */
  authorize(data: Buffer): Buffer {
    const c = this.challenge;
    if (!c) return data;
    const text = data.toString('latin1');
    const line = /\r\n((?:Proxy-)?Authorization): Digest [^\r\n]*/.exec(text);
    const start = /^([A-Za-z]+) (\S+) SIP\/2\.0\r\n/.exec(text);
    if (!line || !start) return data;
    let value: string;
    try {
      value = buildAuthorization(c.value, FUZZ_USER, start[1], start[2], ++c.nc, 'fuzzcnonce');
    } catch {
      return data;
    }
    const replaced = text.slice(0, line.index) + `\r\n${line[1]}: ${value}` + text.slice(line.index + line[0].length);
    return Buffer.from(replaced, 'latin1');
  }

  /** Undefined when the server answered both probes; otherwise what went wrong. */
  async probe(): Promise<string | undefined> {
    if (this.exited) return this.exited;
    const udp = options(this.port, 'UDP', `127.0.0.1:${this.probeSock.address().port}`);
    const gotUdp = await timeout(
      new Promise<boolean>((resolve) => {
        this.probeWaiter = (data) => {
          if (isOkFor(data, udp.callId)) resolve(true);
        };
        this.probeSock.send(udp.text, this.port, '127.0.0.1');
      }),
      PROBE_TIMEOUT_MS,
      false,
    );
    this.probeWaiter = undefined;
    if (!gotUdp) return this.exited ?? `no 200 to OPTIONS over UDP within ${PROBE_TIMEOUT_MS} ms`;
    const gotTcp = await timeout(
      new Promise<boolean>((resolve) => {
        const sock = net.connect({ port: this.port, host: '127.0.0.1' }, () => {
          const p = options(this.port, 'TCP', `127.0.0.1:${sock.localPort ?? 0}`);
          let got = Buffer.alloc(0);
          sock.on('data', (d) => {
            got = Buffer.concat([got, d]);
            if (isOkFor(got, p.callId)) {
              sock.destroy();
              resolve(true);
            }
          });
          sock.write(p.text);
        });
        sock.on('error', () => resolve(false));
        sock.setTimeout(PROBE_TIMEOUT_MS, () => sock.destroy());
      }),
      PROBE_TIMEOUT_MS,
      false,
    );
    if (!gotTcp) return this.exited ?? `no 200 to OPTIONS over TCP within ${PROBE_TIMEOUT_MS} ms`;
    return undefined;
  }

  async stop(): Promise<void> {
    this.udp.close();
    this.probeSock.close();
    if (!this.exited) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.send({ type: 'stop' } satisfies HarnessRequest);
      const done = await timeout(exited.then(() => true), 5000, false);
      if (!done) this.child.kill('SIGKILL');
    }
  }
}
