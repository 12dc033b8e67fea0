/**
 * Processes the impairment rig starts inside its namespaces, talking JSON
 * lines on stdin/stdout (and exiting when stdin closes, so nothing outlives
 * the test):
 *
 *   relay '<UserspaceNatConfig>'   the NAT in ns W. In: {id,cmd:'counters'|'set'|'close'}. Out: {event:'ready'}, replies with the id.
 *   probe '{"stun":"h:p"}'         an RTP-like endpoint in ns A or B: learns its mapped address with STUN,
 *                                  then on {cmd:'send', peer, count, intervalMs, sipEvery} paces RTP-like
 *                                  datagrams (and a SIP-looking one every sipEvery) to the peer, and on
 *                                  {id, cmd:'report', expected} reports what it received (ProbeReport).
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { stunBinding } from '../../src/stun/index.js';
import { UserspaceNat, type ProbeReport, type UserspaceNatConfig } from './impair-nat.js';

const print = (msg: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(msg) + '\n');
const wallMs = (): number => performance.timeOrigin + performance.now();

function commands(handle: (msg: Record<string, unknown>) => Promise<void>, onEnd: () => void): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      process.stderr.write(`bad command line: ${line.slice(0, 200)}\n`);
      return;
    }
    handle(msg).catch((e: unknown) => print({ id: msg.id, event: 'error', message: String(e) }));
  });
  rl.on('close', onEnd);
}

async function relay(config: UserspaceNatConfig): Promise<void> {
  const nat = new UserspaceNat(config);
  await nat.start();
  const stop = async (): Promise<void> => {
    await nat.close();
    process.exit(0);
  };
  const stopNow = (): void => {
    stop().catch((e: unknown) => {
      process.stderr.write(`closing the relay failed: ${String(e)}\n`);
      process.exit(1);
    });
  };
  process.once('SIGTERM', stopNow);
  commands(async (msg) => {
    if (msg.cmd === 'counters') print({ id: msg.id, event: 'counters', counters: nat.counters() });
    else if (msg.cmd === 'set') {
      nat.setImpairment(msg.impairment as UserspaceNatConfig['impairment'] & object);
      print({ id: msg.id, event: 'set' });
    } else if (msg.cmd === 'close') {
      print({ id: msg.id, event: 'closed', counters: nat.counters() });
      await stop();
    }
  }, stopNow);
  print({ event: 'ready', stunPort: config.stunPort ?? 3478 });
}

const RTP_BYTES = 12 + 160;

interface Arrival {
  seq: number;
  sentAt: number;
  at: number;
}

function stats(xs: number[]): { mean: number; std: number } {
  if (xs.length === 0) return { mean: 0, std: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, std: Math.sqrt(v) };
}

function report(arrivals: Arrival[], sipReceived: number, expected: number): ProbeReport {
  const bySeq = new Map<number, Arrival>();
  let duplicates = 0;
  let reordered = 0;
  let highest = -1;
  let jitter = 0;
  let prevTransit: number | undefined;
  for (const a of arrivals) {
    if (bySeq.has(a.seq)) {
      duplicates++;
      continue;
    }
    bySeq.set(a.seq, a);
    if (a.seq < highest) reordered++;
    else highest = a.seq;
    // RFC 3550 §6.4.1 interarrival jitter, in arrival order as a receiver computes it.
    const transit = a.at - a.sentAt;
    if (prevTransit !== undefined) jitter += (Math.abs(transit - prevTransit) - jitter) / 16;
    prevTransit = transit;
  }
  const missing: number[] = [];
  for (let s = 0; s < expected; s++) if (!bySeq.has(s)) missing.push(s);
  const transit = stats([...bySeq.values()].map((a) => a.at - a.sentAt));
  const d: number[] = [];
  for (let s = 0; s + 1 < expected; s++) {
    const x = bySeq.get(s);
    const y = bySeq.get(s + 1);
    if (x && y) d.push(y.at - x.at - (y.sentAt - x.sentAt));
  }
  return {
    received: bySeq.size,
    missing,
    duplicates,
    reordered,
    sipReceived,
    transitMeanMs: transit.mean,
    transitStdMs: transit.std,
    interarrivalStdMs: stats(d).std,
    rfc3550JitterMs: jitter,
  };
}

async function probe(config: { stun: string; bind?: string }): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, config.bind ?? '0.0.0.0', resolve));
  const arrivals: Arrival[] = [];
  let sipReceived = 0;
  sock.on('message', (m) => {
    const at = wallMs();
    if (m.length === RTP_BYTES && m[0] === 0x80) arrivals.push({ seq: m.readUInt16BE(2), sentAt: m.readDoubleBE(12), at });
    else if (m.toString('latin1', 0, 8) === 'OPTIONS ') sipReceived++;
  });
  const [host, port] = config.stun.split(':');
  const mapped = await stunBinding(sock, { address: host, port: Number(port) }, { rto: 200, maxTransmits: 5 });
  print({ event: 'mapped', address: mapped.address, port: mapped.port, local: sock.address().port });

  const send = async (peer: { address: string; port: number }, count: number, intervalMs: number, sipEvery: number): Promise<void> => {
    const start = performance.now();
    let sip = 0;
    for (let i = 0; i < count; i++) {
      // Absolute schedule: a late timer does not push every later packet back.
      const wait = start + i * intervalMs - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const b = Buffer.alloc(RTP_BYTES, 0xff);
      b[0] = 0x80;
      b[1] = 0;
      b.writeUInt16BE(i, 2);
      b.writeUInt32BE(i * 160, 4);
      b.writeUInt32BE(0x5b5b0000 + (mapped.port & 0xffff), 8);
      b.writeDoubleBE(wallMs(), 12);
      sock.send(b, peer.port, peer.address);
      if (sipEvery > 0 && i % sipEvery === 0) {
        sip++;
        sock.send(`OPTIONS sip:probe@${peer.address} SIP/2.0\r\nCSeq: ${sip} OPTIONS\r\nContent-Length: 0\r\n\r\n`, peer.port, peer.address);
      }
    }
    print({ event: 'sent', rtp: count, sip });
  };

  commands(
    async (msg) => {
      if (msg.cmd === 'send') {
        const peer = msg.peer as { address: string; port: number };
        await send(peer, Number(msg.count), Number(msg.intervalMs), Number(msg.sipEvery ?? 0));
      } else if (msg.cmd === 'report') {
        print({ id: msg.id, event: 'report', report: report(arrivals, sipReceived, Number(msg.expected)) });
      }
    },
    () => sock.close(() => process.exit(0)),
  );
}

const [role, json] = process.argv.slice(2);
const cfg = JSON.parse(json ?? '{}') as Record<string, unknown>;
if (role === 'relay') await relay(cfg as unknown as UserspaceNatConfig);
else if (role === 'probe') await probe(cfg as { stun: string; bind?: string });
else {
  process.stderr.write(`usage: impair-nat-main relay|probe '<json>'\n`);
  process.exit(2);
}
