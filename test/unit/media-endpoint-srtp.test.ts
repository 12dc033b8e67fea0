/**
 * MediaEndpoint with SRTP/SRTCP (RFC 3711, SDES keys): two endpoints on
 * 127.0.0.1 talk through a relay socket that records what goes over the
 * wire, so the tests can look at the ciphertext and replay it. Timers run on
 * a VirtualClock; each step advances one frame and waits (event-loop turns,
 * never a timer) until every datagram of that step was relayed and arrived.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'node:test';
import { PcmuCodec } from '../../src/media/codecs/g711.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import {
  MediaEndpoint,
  type MediaEndpointHandlers,
  type MediaEndpointSrtpConfig,
  type MediaEndpointStats,
  type SrtpKeyMaterial,
} from '../../src/media/endpoint/index.js';
import { isRtcp, parseRtp, RTP_HEADER_LENGTH } from '../../src/media/rtp/packet.js';
import { rtcpLength, SDES_CNAME } from '../../src/media/rtp/rtcp.js';
import { generateSdesKey, type SrtpSuite } from '../../src/media/srtp/index.js';
import { VirtualClock } from '../../src/util/clock.js';
import { recorder, runFrames, sentDatagrams, until } from '../helpers/media.js';

const HOST = '127.0.0.1';
const FRAME = 160;
const SUITE_80: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80';
const SUITE_32: SrtpSuite = 'AES_CM_128_HMAC_SHA1_32';
/** SRTCP adds the E flag and index word plus an 80-bit tag, whatever the suite. */
const SRTCP_OVERHEAD = 4 + 10;

function key(suite: SrtpSuite): SrtpKeyMaterial {
  const k = generateSdesKey(suite);
  return { masterKey: k.masterKey, masterSalt: k.masterSalt };
}

function nonZeroDrops(s: MediaEndpointStats): Record<string, number> {
  return Object.fromEntries(Object.entries(s.dropped.reasons).filter(([, n]) => n > 0));
}

interface SrtpCall {
  a: MediaEndpoint;
  b: MediaEndpoint;
  keys: { a: SrtpKeyMaterial; b: SrtpKeyMaterial };
  /** Copies of every datagram A sent, as the relay saw them. */
  fromA: { rtp: Buffer[]; rtcp: Buffer[] };
  run(ms: number): Promise<void>;
  /** Sends `buf` to B from the relay (B's latched peer address) and waits until it arrived. */
  inject(buf: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** A and B, each with its own SDES key; `bKnowsA` overrides the key B decrypts A's packets with. */
async function srtpCall(suite: SrtpSuite, bKnowsA?: SrtpKeyMaterial, bHandlers?: MediaEndpointHandlers): Promise<SrtpCall> {
  const clock = new VirtualClock();
  const relay: Socket = createSocket('udp4');
  await new Promise<void>((r) => relay.bind(0, HOST, r));
  const open = { clock, random: () => 0.5, rtcpIntervalMs: 1000 };
  const a = await MediaEndpoint.open(open);
  const b = await MediaEndpoint.open({ ...open, handlers: bHandlers });
  const keys = { a: key(suite), b: key(suite) };
  const fromA = { rtp: [] as Buffer[], rtcp: [] as Buffer[] };
  const n = { fromA: 0, fromB: 0, toA: 0, toB: 0 };
  // Read once: a closed endpoint no longer has an address, and the relay may still hear from the other.
  const aPort = a.localPort;
  const bPort = b.localPort;
  relay.on('message', (m, r) => {
    if (r.port === aPort) {
      n.fromA++;
      (isRtcp(m) ? fromA.rtcp : fromA.rtp).push(Buffer.from(m));
      n.toB++;
      relay.send(m, bPort, HOST);
    } else {
      n.fromB++;
      n.toA++;
      relay.send(m, aPort, HOST);
    }
  });
  const codec = new PcmuCodec();
  const remote = { address: HOST, port: relay.address().port };
  const srtpA: MediaEndpointSrtpConfig = { suite, local: keys.a, remote: keys.b };
  const srtpB: MediaEndpointSrtpConfig = { suite, local: keys.b, remote: bKnowsA ?? keys.a };
  a.configure({ remote, codec, payloadType: 0, srtp: srtpA });
  b.configure({ remote, codec, payloadType: 0, srtp: srtpB });
  const settled = (): boolean =>
    n.fromA === sentDatagrams(a.stats()) &&
    n.fromB === sentDatagrams(b.stats()) &&
    b.stats().received.datagrams === n.toB &&
    a.stats().received.datagrams === n.toA;
  return {
    a,
    b,
    keys,
    fromA,
    run: (ms) => runFrames(clock, ms, settled),
    async inject(buf) {
      n.toB++;
      relay.send(buf, bPort, HOST);
      assert.ok(await until(settled), 'injected datagram did not arrive');
    },
    async close() {
      await a.close();
      await b.close();
      await new Promise<void>((r) => relay.close(() => r()));
    },
  };
}

/** A 1 kHz tone source that also keeps every frame it handed out. */
function toneSource(freq: number): { next: () => Int16Array; frames: Int16Array[] } {
  const gen = new ToneGenerator({ freqs: [freq], levelDbfs: -12 }, 8000);
  const frames: Int16Array[] = [];
  return {
    frames,
    next: () => {
      const f = new Int16Array(FRAME);
      gen.fill(f);
      frames.push(f);
      return f;
    },
  };
}

/** Checks what went over the wire: RTP header in clear, payload encrypted, tag of `tagLength` appended. */
function assertEncrypted(fromA: Buffer[], sent: Int16Array[], ssrc: number | undefined, tagLength: number): void {
  const codec = new PcmuCodec();
  const plain = Buffer.alloc(FRAME);
  assert.equal(fromA.length, sent.length);
  fromA.forEach((wire, i) => {
    assert.equal(wire.length, RTP_HEADER_LENGTH + FRAME + tagLength, `packet ${i} is plain RTP + ${tagLength}`);
    const header = parseRtp(wire.subarray(0, wire.length - tagLength));
    assert.equal(header.ssrc, ssrc);
    assert.equal(header.sequence, (parseRtp(fromA[0].subarray(0, wire.length - tagLength)).sequence + i) & 0xffff);
    codec.encode(sent[i], plain);
    // A tone is periodic, so its PCMU bytes repeat every 8 octets; ciphertext does not contain them.
    assert.ok(!wire.subarray(RTP_HEADER_LENGTH).equals(plain), `packet ${i} payload is in the clear`);
    assert.equal(wire.indexOf(plain.subarray(0, 8)), -1, `packet ${i} holds plain PCMU bytes`);
  });
}

test('SRTP _80: a 1 kHz tone reaches B; on the wire the payload is encrypted and each packet carries a 10-octet tag', async () => {
  const heard = recorder();
  const c = await srtpCall(SUITE_80, undefined, heard);
  try {
    const tone = toneSource(1000);
    c.a.start(tone.next);
    await c.run(1000);

    const pcm = heard.heard();
    assert.ok(pcm.length >= FRAME * 40, `B played ${pcm.length / FRAME} frames`);
    assert.ok(tonePresence(pcm, 8000, 1000) >= 0.9, `1 kHz at B: ${tonePresence(pcm, 8000, 1000)}`);
    const sb = c.b.stats();
    assert.equal(sb.received.packets, 50);
    // Statistics count RTP payload octets, not the SRTP tag.
    assert.equal(sb.received.bytes, 50 * FRAME);
    assert.equal(c.a.stats().sent.bytes, 50 * FRAME);
    assert.equal(sb.lost, 0);
    assert.equal(sb.dropped.total, 0);
    assertEncrypted(c.fromA.rtp, tone.frames, c.a.ssrc, 10);
  } finally {
    await c.close();
  }
});

test('SRTP _32: the tone arrives and each RTP packet carries a 4-octet tag (SRTCP keeps its 10)', async () => {
  const heard = recorder();
  const c = await srtpCall(SUITE_32, undefined, heard);
  try {
    const tone = toneSource(1000);
    c.a.start(tone.next);
    await c.run(1000);
    assert.ok(tonePresence(heard.heard(), 8000, 1000) >= 0.9);
    assert.equal(c.b.stats().received.packets, 50);
    assert.equal(c.b.stats().dropped.total, 0);
    assertEncrypted(c.fromA.rtp, tone.frames, c.a.ssrc, 4);
    assert.ok(c.fromA.rtcp.length >= 1);
    // A's reports: an SR without report blocks (B sends nothing) and its CNAME, plus index word and 80-bit tag.
    const plain = rtcpLength([
      { type: 'sr', ssrc: 0, ntpSeconds: 0, ntpFraction: 0, rtpTimestamp: 0, packetCount: 0, octetCount: 0, reports: [] },
      { type: 'sdes', chunks: [{ ssrc: 0, items: [{ type: SDES_CNAME, value: c.a.cname }] }] },
    ]);
    for (const wire of c.fromA.rtcp) {
      assert.equal(wire.length, plain + SRTCP_OVERHEAD);
      assert.equal(wire.readUInt32BE(plain) >>> 31, 1, 'SRTCP E flag: the compound is encrypted');
    }
  } finally {
    await c.close();
  }
});

test('B with the wrong key for A drops every RTP and RTCP packet as srtp-auth and plays nothing', async () => {
  const heard = recorder();
  const c = await srtpCall(SUITE_80, key(SUITE_80), heard);
  try {
    c.a.start(toneSource(1000).next);
    await c.run(1000);
    const sb = c.b.stats();
    const fromA = sentDatagrams(c.a.stats());
    assert.ok(fromA > 50, 'A sent RTP and RTCP');
    assert.equal(sb.received.packets, 0);
    assert.equal(sb.received.sr, 0);
    assert.equal(c.b.remoteCname, undefined);
    assert.deepEqual(nonZeroDrops(sb), { 'srtp-auth': fromA });
    assert.equal(heard.heard().length, 0, 'nothing was played');
    // B's own key is right, so A still hears B's receiver reports.
    assert.ok(c.a.stats().received.rr >= 1);
    assert.equal(c.a.stats().dropped.total, 0);
  } finally {
    await c.close();
  }
});

test('a replayed SRTP or SRTCP packet is dropped as srtp-replay; a forged one as srtp-auth', async () => {
  const c = await srtpCall(SUITE_80);
  try {
    c.a.start(toneSource(1000).next);
    await c.run(600);
    const before = c.b.stats();
    assert.equal(before.received.packets, 30);
    assert.ok(c.fromA.rtcp.length >= 1);

    await c.inject(c.fromA.rtp[c.fromA.rtp.length - 1]); // the latest packet again
    await c.inject(c.fromA.rtp[3]); // an older one, still inside the 64-packet window
    await c.inject(c.fromA.rtcp[0]);
    // A packet from the future with an intact tag from another: the index is new, so only the tag can catch it.
    const forged = Buffer.from(c.fromA.rtp[c.fromA.rtp.length - 1]);
    forged.writeUInt16BE((forged.readUInt16BE(2) + 5) & 0xffff, 2);
    await c.inject(forged);

    const after = c.b.stats();
    assert.deepEqual(nonZeroDrops(after), { 'srtp-replay': 3, 'srtp-auth': 1 });
    assert.equal(after.received.packets, 30);
    assert.equal(after.received.sr, before.received.sr);

    // The stream goes on unharmed after the attack.
    await c.run(200);
    assert.equal(c.b.stats().received.packets, 40);
    assert.equal(c.b.stats().lost, 0);
  } finally {
    await c.close();
  }
});

test('RTCP over SRTCP: SR/RR counts, RTT and CNAMEs as with plain RTP; the CNAME is not readable on the wire', async () => {
  const c = await srtpCall(SUITE_80);
  try {
    c.a.start(toneSource(1000).next);
    c.b.start(toneSource(400).next);
    // random() = 0.5: first reports at 500 ms, then every 1000 ms.
    await c.run(1520);
    for (const [me, peer] of [
      [c.a, c.b],
      [c.b, c.a],
    ] as const) {
      const s = me.stats();
      assert.equal(s.sent.sr, 2);
      assert.equal(s.received.sr, 2);
      assert.ok(s.rttMs !== undefined && s.rttMs >= 0 && s.rttMs < 25, `rtt ${s.rttMs}`);
      assert.equal(s.remoteLossPercent, 0);
      assert.equal(me.remoteCname, peer.cname);
      assert.equal(s.dropped.total, 0);
    }
    assert.equal(c.fromA.rtcp.length, 2);
    for (const wire of c.fromA.rtcp) assert.equal(wire.indexOf(c.a.cname), -1, 'CNAME sent in the clear');

    c.b.stop();
    await c.run(2000);
    assert.equal(c.b.stats().sent.rr, 1, 'B stopped sending, so its reports become RRs');
    assert.equal(c.a.stats().received.rr, 1);
  } finally {
    await c.close();
  }
});

test('re-configuring with the same keys keeps the replay window; a BYE on close goes out as SRTCP', async () => {
  const byes: (string | undefined)[] = [];
  const c = await srtpCall(SUITE_80, undefined, { bye: (reason) => byes.push(reason) });
  try {
    c.a.start(toneSource(1000).next);
    await c.run(200);
    const remote = c.b.remote;
    assert.ok(remote);
    c.b.configure({ remote, codec: new PcmuCodec(), payloadType: 0, srtp: { suite: SUITE_80, local: c.keys.b, remote: c.keys.a } });
    await c.inject(c.fromA.rtp[2]);
    assert.equal(c.b.stats().dropped.reasons['srtp-replay'], 1);
    await c.run(200);
    assert.equal(c.b.stats().received.packets, 20);

    await c.a.close('hangup');
    assert.ok(await until(() => byes.length > 0));
    assert.deepEqual(byes, ['hangup']);
    const last = c.fromA.rtcp[c.fromA.rtcp.length - 1];
    assert.equal(last.indexOf('hangup'), -1, 'BYE reason sent in the clear');
  } finally {
    await c.close();
  }
});

test('configure rejects SRTP keys of the wrong length', async () => {
  const ep = await MediaEndpoint.open({ clock: new VirtualClock() });
  try {
    const good = key(SUITE_80);
    const short = { masterKey: good.masterKey.subarray(0, 15), masterSalt: good.masterSalt };
    assert.throws(
      () =>
        ep.configure({
          remote: { address: HOST, port: 9 },
          codec: new PcmuCodec(),
          payloadType: 0,
          srtp: { suite: SUITE_80, local: good, remote: short },
        }),
      RangeError,
    );
  } finally {
    await ep.close();
  }
});
