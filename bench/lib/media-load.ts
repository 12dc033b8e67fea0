/**
 * The load generator of `npm run bench:media`, run as a child process so the
 * measured process's CPU is the bridge's alone: it sends real RTP over
 * 127.0.0.1 UDP to both legs of every bridge, receives what the bridge
 * forwards, and counts what is missing by sequence number. The harness
 * (bench/media.ts) drives it with the messages below.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { PacketTimer } from '../../src/media/bridge/leg.js';
import { encodeUlaw } from '../../src/media/codecs/g711.js';
import { OpusCodec } from '../../src/media/codecs/opus.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { writeRtp } from '../../src/media/rtp/packet.js';
import { sleep } from '../../test/helpers/process.js';

export type Mode = 'relay' | 'transcode';

/** Packets per second per stream, each way (20 ms ptime). */
export const PPS = 50;
const FRAME_MS = 1000 / PPS;
/** Sending is spread over this many sub-ticks per frame, so the load is not one burst every 20 ms. */
const GROUPS = 4;

export const PT_PCMU = 0;
export const PT_OPUS = 111;

/** Fixed 1 µs buckets up to 50 ms: recording is one increment, no allocation. */
export class Histogram implements PacketTimer {
  private readonly buckets = new Uint32Array(50_001);
  count = 0;
  maxNs = 0;

  record(ns: number): void {
    const us = Math.floor(ns / 1000);
    this.buckets[us < 50_000 ? us : 50_000]++;
    this.count++;
    if (ns > this.maxNs) this.maxNs = ns;
  }

  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.maxNs = 0;
  }

  /** The q-quantile in ms (upper edge of its 1 µs bucket); 0 when empty. */
  quantileMs(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= rank) return (i + 1) / 1000;
    }
    return this.maxNs / 1e6;
  }
}

// ---------------------------------------------------------------- messages between the two processes

export interface OpenMsg {
  type: 'open';
  mode: Mode;
  streams: number;
}
export interface RunMsg {
  type: 'run';
  /** Bridge ports: [legA, legB] per stream, flattened. */
  targets: number[];
  warmupMs: number;
  measureMs: number;
  drainMs: number;
}
export interface CloseMsg {
  type: 'close';
}
export type ToChild = OpenMsg | RunMsg | CloseMsg;

export interface GenResult {
  type: 'result';
  sent: number;
  received: number;
  /** sent − received over the whole step (warm-up included), after the drain. */
  missing: number;
  /** Holes in the received sequence numbers (a subset of `missing`: a lost tail leaves no hole). */
  seqGaps: number;
  /** Packets per second per stream per direction the generator reached in the measured window. */
  achievedPps: number;
  /** The generator's own CPU in the measured window, 100 = one core. */
  cpuPct: number;
  /** Most a send tick ran late, ms (a busy generator). */
  maxLateMs: number;
  /** Generator → bridge → generator transit, ms, in the measured window. */
  transitP50Ms: number;
  transitP99Ms: number;
}
export type FromChild = { type: 'opened'; ports: number[] } | { type: 'measure-start' } | { type: 'measure-end' } | GenResult | { type: 'closed' } | { type: 'error'; message: string };

// ---------------------------------------------------------------- the generator

/** One generator socket facing one bridge leg: sends a stream to it and receives the other leg's stream from it. */
interface GenSide {
  sock: Socket;
  /** RTP packets to send in rotation (header rewritten per send). */
  packets: Buffer[];
  lengths: number[];
  tsStep: number;
  seq: number;
  ts: number;
  sent: number;
  /** performance.now() of each of the last 128 packets sent, by index. */
  sendTimes: Float64Array;
  /** The side whose packets arrive here (for transit times). */
  peer: GenSide | undefined;
  rx: number;
  rxFirst: number;
  /** Highest extended sequence number received, relative to the first. */
  rxMax: number;
  rxLast: number;
}

/** What a side sends: the same 1 kHz tone the transcode test listens for. */
function payloadsFor(codec: 'pcmu' | 'opus'): Buffer[] {
  if (codec === 'pcmu') {
    const pcm = new Int16Array(160);
    new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, 8000).fill(pcm);
    const out = Buffer.alloc(160);
    encodeUlaw(pcm, out);
    return [out];
  }
  // One second of Opus, encoded once: the generator only replays it.
  const opus = new OpusCodec({ sampleRate: 48000 });
  const gen = new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, 48000);
  const pcm = new Int16Array(960);
  const scratch = Buffer.alloc(1500);
  const list: Buffer[] = [];
  for (let i = 0; i < PPS; i++) {
    gen.fill(pcm);
    list.push(Buffer.from(scratch.subarray(0, opus.encode(pcm, scratch))));
  }
  opus.close();
  return list;
}

async function openSide(payloads: Buffer[], pt: number, tsStep: number, ssrc: number): Promise<GenSide> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      sock.off('error', reject);
      resolve();
    });
  });
  const packets: Buffer[] = [];
  const lengths: number[] = [];
  for (const p of payloads) {
    const b = Buffer.alloc(12 + p.length);
    lengths.push(writeRtp(b, { payloadType: pt, sequence: 0, timestamp: 0, ssrc }, p));
    packets.push(b);
  }
  const side: GenSide = {
    sock, packets, lengths, tsStep, seq: 0, ts: 0, sent: 0, sendTimes: new Float64Array(128), peer: undefined, rx: 0, rxFirst: -1, rxMax: 0, rxLast: 0,
  };
  return side;
}

/** Runs the generator in this (child) process: it answers the parent's messages until the parent disconnects. */
export function loadGenerator(): void {
  let sides: GenSide[] = [];
  const transit = new Histogram();
  let measuring = false;
  const send = (m: FromChild): void => {
    process.send?.(m);
  };

  const onRtp = (side: GenSide, buf: Buffer): void => {
    if (buf.length < 12) return;
    const seq = buf.readUInt16BE(2);
    if (side.rxFirst < 0) {
      side.rxFirst = seq;
      side.rxLast = 0;
    }
    // Extend the 16-bit number around the last one seen: handles wrap and reordering.
    const rel = (side.rxLast + (((seq - side.rxFirst - side.rxLast) << 16) >> 16)) | 0;
    side.rx++;
    if (rel > side.rxMax) side.rxMax = rel;
    side.rxLast = rel;
    // The bridge keeps sequence differences, so the k-th number after the first is the peer's k-th packet.
    const peer = side.peer;
    if (measuring && peer && rel >= 0 && rel < peer.sent && peer.sent - rel <= 128) {
      transit.record((performance.now() - peer.sendTimes[rel & 127]) * 1e6);
    }
  };

  const open = async (m: OpenMsg): Promise<void> => {
    const pcmu = payloadsFor('pcmu');
    const bPayloads = m.mode === 'transcode' ? payloadsFor('opus') : pcmu;
    const bPt = m.mode === 'transcode' ? PT_OPUS : PT_PCMU;
    const bStep = m.mode === 'transcode' ? 960 : 160;
    sides = [];
    for (let i = 0; i < m.streams; i++) {
      const a = await openSide(pcmu, PT_PCMU, 160, 0x10000 + i);
      const b = await openSide(bPayloads, bPt, bStep, 0x20000 + i);
      a.peer = b;
      b.peer = a;
      a.sock.on('message', (buf: Buffer) => onRtp(a, buf));
      b.sock.on('message', (buf: Buffer) => onRtp(b, buf));
      sides.push(a, b);
    }
    send({ type: 'opened', ports: sides.map((s) => s.sock.address().port) });
  };

  const sendOne = (s: GenSide, now: number): void => {
    const k = s.sent % s.packets.length;
    const buf = s.packets[k];
    buf.writeUInt16BE(s.seq, 2);
    buf.writeUInt32BE(s.ts >>> 0, 4);
    s.sendTimes[s.sent & 127] = now;
    s.seq = (s.seq + 1) & 0xffff;
    s.ts = (s.ts + s.tsStep) >>> 0;
    s.sent++;
    s.sock.send(buf, 0, s.lengths[k]);
  };

  const run = async (m: RunMsg): Promise<void> => {
    for (let i = 0; i < sides.length; i++) {
      const s = sides[i];
      await new Promise<void>((resolve) => s.sock.connect(m.targets[i], '127.0.0.1', () => resolve()));
    }
    const streams = sides.length / 2;
    const t0 = performance.now();
    const measureAt = t0 + m.warmupMs;
    const endAt = measureAt + m.measureMs;
    let cpu0 = process.cpuUsage();
    let sentAtMeasure = 0;
    let maxLate = 0;
    let tick = 0;
    const subTick = FRAME_MS / GROUPS;
    // Every iteration sends one group and waits for the next one's due time: bounded by endAt.
    for (;;) {
      const due = t0 + tick * subTick;
      if (due >= endAt) break;
      let now = performance.now();
      // Yield every sub-tick, even when late: the bridged packets coming back are read in between.
      if (now < due) await sleep(due - now);
      else await new Promise<void>((resolve) => setImmediate(resolve));
      now = performance.now();
      if (!measuring && now >= measureAt) {
        measuring = true;
        cpu0 = process.cpuUsage();
        sentAtMeasure = sides.reduce((n, s) => n + s.sent, 0);
        send({ type: 'measure-start' });
      }
      if (measuring) maxLate = Math.max(maxLate, now - due);
      const g = tick % GROUPS;
      for (let i = g; i < streams; i += GROUPS) {
        sendOne(sides[2 * i], now);
        sendOne(sides[2 * i + 1], now);
      }
      tick++;
    }
    const cpu = process.cpuUsage(cpu0);
    const sentMeasured = sides.reduce((n, s) => n + s.sent, 0) - sentAtMeasure;
    const measuredS = (performance.now() - measureAt) / 1000;
    send({ type: 'measure-end' });
    measuring = false;
    await sleep(m.drainMs);
    let sent = 0;
    let received = 0;
    let gaps = 0;
    for (const s of sides) {
      sent += s.sent;
      received += s.rx;
      if (s.rxFirst >= 0) gaps += Math.max(0, s.rxMax + 1 - s.rx);
    }
    send({
      type: 'result',
      sent,
      received,
      missing: sent - received,
      seqGaps: gaps,
      achievedPps: measuredS > 0 ? sentMeasured / measuredS / (2 * streams) : 0,
      cpuPct: ((cpu.user + cpu.system) / 1e6 / Math.max(measuredS, 1e-3)) * 100,
      maxLateMs: maxLate,
      transitP50Ms: transit.quantileMs(0.5),
      transitP99Ms: transit.quantileMs(0.99),
    });
    transit.reset();
  };

  const close = async (): Promise<void> => {
    await Promise.all(sides.map((s) => new Promise<void>((resolve) => s.sock.close(() => resolve()))));
    sides = [];
    send({ type: 'closed' });
  };

  process.on('message', (m: ToChild) => {
    const job = m.type === 'open' ? open(m) : m.type === 'run' ? run(m) : close();
    job.catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? err.stack ?? err.message : String(err) }));
  });
  process.on('disconnect', () => process.exit(0));
}
