/**
 * The latency probe of bench/pbx.ts: one call among the load whose media
 * ends are two UDP sockets of this probe (the caller's and the callee's, as
 * written in that call's SDP), run in a child process so nothing the bench
 * itself does (reading /proc, spawning SIPp) delays a packet's reception.
 *
 * It sends G.711-sized RTP (160-byte payload, PCMU) to the relay's
 * caller-side port and receives it on the callee side; each payload carries
 * the time it was sent, so the transit through the relay is read from
 * outside, as a phone would see it. It sends every 5 ms, four times a
 * phone's rate: a relay forwards packets as they come, and 4,000 samples a
 * step make its p99 less a matter of luck than 1,000 would. The same packets go over a second pair
 * of sockets straight from one to the other at the same moments: the
 * difference is what the relay adds (the kernel's loopback hop and this
 * process's own wake-up are in both).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { ChildInbox } from './child-inbox.js';
import { createSocket, type Socket } from 'node:dgram';
import { Histogram } from './media-load.js';

/** Probe packets per second (a 20 ms G.711 stream has 50). */
const PPS = 200;
const PAYLOAD = 160;
const HEADER = 12;
/** Marks our payloads (RTCP and strays are ignored). */
const MAGIC = 0x5b0be5c0;
/** A packet not back this long after the sender stopped counts as lost. */
const DRAIN_MS = 300;
const SOCKET_BUFFER = 1 << 20;

export interface PathResult {
  /** Packets sent while measuring, and how many of them arrived. */
  sent: number;
  received: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ProbeResult {
  /** Through the system under test. */
  relay: PathResult;
  /** Socket to socket, no relay: the floor. */
  direct: PathResult;
}

type ToProbe =
  | { type: 'open' }
  | { type: 'start'; address: string; port: number }
  | { type: 'measure'; on: boolean }
  | { type: 'stop' };

type FromProbe =
  | { type: 'opened'; caller: number; callee: number }
  | { type: 'started' }
  | { type: 'measuring'; on: boolean }
  | ({ type: 'result' } & ProbeResult)
  | { type: 'error'; message: string };

// ---------------------------------------------------------------- the child

interface Path {
  from: Socket;
  to: Socket;
  hist: Histogram;
  sent: number;
  received: number;
  seq: number;
}

/** A UDP socket on 127.0.0.1 with room for bursts (1 MiB buffers). */
export async function bindLoopback(): Promise<Socket> {
  const s = createSocket({ type: 'udp4', recvBufferSize: SOCKET_BUFFER, sendBufferSize: SOCKET_BUFFER });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      s.off('error', reject);
      resolve();
    });
  });
  return s;
}

/** Runs the probe in this (child) process until the parent disconnects. */
export function probeChild(): void {
  let relay: Path | undefined;
  let direct: Path | undefined;
  let step = 0;
  let measuring = false;
  let timer: NodeJS.Timeout | undefined;
  let target: { address: string; port: number } | undefined;
  const send = (m: FromProbe): void => {
    process.send?.(m);
  };

  const packet = Buffer.alloc(HEADER + PAYLOAD);
  // V=2, PT 0 (PCMU); the rest is rewritten per packet.
  packet[0] = 0x80;
  packet[1] = 0;

  const onMessage = (path: Path, buf: Buffer): void => {
    if (buf.length < HEADER + 16 || (buf[0] & 0xc0) !== 0x80 || (buf[1] & 0x7f) !== 0) return;
    const cc = buf[0] & 0x0f;
    let off = HEADER + 4 * cc;
    if (buf[0] & 0x10) off += 4 + 4 * buf.readUInt16BE(off + 2);
    if (buf.length < off + 16 || buf.readUInt32BE(off) !== MAGIC) return;
    if (buf.readUInt16BE(off + 4) !== step || buf[off + 6] !== 1) return;
    const sentAt = buf.readDoubleBE(off + 8);
    path.received++;
    path.hist.record((performance.now() - sentAt) * 1e6);
  };

  const newPath = (from: Socket, to: Socket): Path => {
    const p: Path = { from, to, hist: new Histogram(), sent: 0, received: 0, seq: 0 };
    to.on('message', (buf: Buffer) => onMessage(p, buf));
    return p;
  };

  const emit = (p: Path, address: string, port: number, ssrc: number): void => {
    packet.writeUInt16BE(p.seq, 2);
    packet.writeUInt32BE((p.seq * 160) >>> 0, 4);
    packet.writeUInt32BE(ssrc, 8);
    p.seq = (p.seq + 1) & 0xffff;
    packet.writeUInt32BE(MAGIC, HEADER);
    packet.writeUInt16BE(step, HEADER + 4);
    packet[HEADER + 6] = measuring ? 1 : 0;
    if (measuring) p.sent++;
    packet.writeDoubleBE(performance.now(), HEADER + 8);
    p.from.send(packet, port, address);
  };

  const tick = (): void => {
    if (!relay || !direct || !target) return;
    emit(relay, target.address, target.port, 0x5b0b0001);
    emit(direct, '127.0.0.1', direct.to.address().port, 0x5b0b0002);
  };

  const result = (p: Path): PathResult => ({
    sent: p.sent,
    received: p.received,
    lost: Math.max(0, p.sent - p.received),
    p50Ms: p.hist.quantileMs(0.5),
    p99Ms: p.hist.quantileMs(0.99),
    maxMs: p.hist.maxNs / 1e6,
  });

  const handle = async (m: ToProbe): Promise<void> => {
    switch (m.type) {
      case 'open': {
        relay = newPath(await bindLoopback(), await bindLoopback());
        direct = newPath(await bindLoopback(), await bindLoopback());
        send({ type: 'opened', caller: relay.from.address().port, callee: relay.to.address().port });
        return;
      }
      case 'start': {
        if (!relay || !direct) throw new Error('start before open');
        step = (step + 1) & 0xffff;
        for (const p of [relay, direct]) {
          p.hist.reset();
          p.sent = 0;
          p.received = 0;
        }
        target = { address: m.address, port: m.port };
        clearInterval(timer);
        timer = setInterval(tick, 1000 / PPS);
        send({ type: 'started' });
        return;
      }
      case 'measure':
        measuring = m.on;
        send({ type: 'measuring', on: m.on });
        return;
      case 'stop': {
        clearInterval(timer);
        timer = undefined;
        measuring = false;
        await new Promise<void>((resolve) => setTimeout(resolve, DRAIN_MS));
        if (!relay || !direct) throw new Error('stop before open');
        send({ type: 'result', relay: result(relay), direct: result(direct) });
        return;
      }
    }
  };

  process.on('message', (m: ToProbe) => {
    handle(m).catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------- the parent's handle

/** The probe child seen from the bench: one request, one answer, each with a deadline. */
export class RtpProbe {
  private readonly inbox: ChildInbox<FromProbe>;
  private ports = { caller: 0, callee: 0 };

  private constructor(private readonly child: ChildProcess) {
    this.inbox = new ChildInbox<FromProbe>(child, 'RTP probe');
  }

  private next<T extends FromProbe['type']>(type: T, timeoutMs: number): Promise<Extract<FromProbe, { type: T }>> {
    return this.inbox.next(type, timeoutMs);
  }

  /** Forks `entry` with `arg` (a script that calls probeChild() when it sees it) and opens the sockets. */
  static async start(entry: string, arg: string): Promise<RtpProbe> {
    const probe = new RtpProbe(fork(entry, [arg], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    probe.child.send({ type: 'open' } satisfies ToProbe);
    const opened = await probe.next('opened', 10_000);
    probe.ports = { caller: opened.caller, callee: opened.callee };
    return probe;
  }

  /** The caller's RTP port, for the probe call's SDP offer. */
  get callerPort(): number {
    return this.ports.caller;
  }

  /** The callee's RTP port, for the probe callee's SDP answer. */
  get calleePort(): number {
    return this.ports.callee;
  }

  /** Starts sending toward the relay's caller-side `address:port` (measuring off). */
  async begin(address: string, port: number): Promise<void> {
    this.child.send({ type: 'start', address, port } satisfies ToProbe);
    await this.next('started', 5000);
  }

  async measure(on: boolean): Promise<void> {
    this.child.send({ type: 'measure', on } satisfies ToProbe);
    await this.next('measuring', 5000);
  }

  /** Stops sending and returns what was measured since begin(). */
  async end(): Promise<ProbeResult> {
    this.child.send({ type: 'stop' } satisfies ToProbe);
    const r = await this.next('result', 5000);
    return { relay: r.relay, direct: r.direct };
  }

  close(): void {
    if (this.child.connected) this.child.disconnect();
  }
}
