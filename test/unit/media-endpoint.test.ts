/**
 * MediaEndpoint over real UDP sockets on 127.0.0.1, with ptime and RTCP
 * timers on a VirtualClock: each step advances virtual time by one frame and
 * then waits (event-loop turns, never a timer) until every datagram sent in
 * that step has arrived, so runs are deterministic and fast.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { test } from 'node:test';
import { PcmuCodec } from '../../src/media/codecs/g711.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import type { DtmfDigitEvent } from '../../src/media/dtmf/digits.js';
import { MediaEndpoint, type MediaEndpointHandlers, type MediaEndpointOpenOptions } from '../../src/media/endpoint/index.js';
import { parseRtp } from '../../src/media/rtp/packet.js';
import { VirtualClock } from '../../src/util/clock.js';
import { mulberry32 } from '../helpers/prng.js';
import { recorder, runFrames, sentDatagrams, until } from '../helpers/media.js';

const HOST = '127.0.0.1';
const PT_TE = 101;

async function rawSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, r));
  return s;
}

function closeSocket(s: Socket): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

interface Call {
  clock: VirtualClock;
  a: MediaEndpoint;
  b: MediaEndpoint;
  /** Datagrams from elsewhere (garbage, raw sockets) each side should have seen. */
  extra: { a: number; b: number };
  /** Advances `ms` of virtual time, one frame at a time, letting each frame's datagrams arrive. */
  run(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** `misdirected` counts what B sent to a wrong address before it latched (never reaches A). */
async function call(
  opts: MediaEndpointOpenOptions = {},
  bRemotePort?: number,
  misdirected = (): number => 0,
  handlers: { a?: MediaEndpointHandlers; b?: MediaEndpointHandlers } = {},
): Promise<Call> {
  const clock = new VirtualClock();
  const open = { clock, random: () => 0.5, rtcpIntervalMs: 1000, ...opts };
  const a = await MediaEndpoint.open({ ...open, handlers: handlers.a });
  const b = await MediaEndpoint.open({ ...open, handlers: handlers.b });
  const codec = new PcmuCodec();
  a.configure({ remote: { address: HOST, port: b.localPort }, codec, payloadType: 0, telephoneEventPt: PT_TE });
  b.configure({ remote: { address: HOST, port: bRemotePort ?? a.localPort }, codec, payloadType: 0, telephoneEventPt: PT_TE });
  const extra = { a: 0, b: 0 };
  const delivered = (): boolean =>
    a.stats().received.datagrams >= extra.a + sentDatagrams(b.stats()) - misdirected() &&
    b.stats().received.datagrams >= extra.b + sentDatagrams(a.stats());
  return {
    clock,
    a,
    b,
    extra,
    run: (ms) => runFrames(clock, ms, delivered),
    async close() {
      await a.close();
      await b.close();
    },
  };
}

function toneSource(freq: number): () => Int16Array {
  const gen = new ToneGenerator({ freqs: [freq], levelDbfs: -12 }, 8000);
  return () => {
    const f = new Int16Array(160);
    gen.fill(f);
    return f;
  };
}

test('PCMU both ways: each side hears the tone the other sends', async () => {
  const heardByB = recorder();
  const heardByA = recorder();
  const c = await call({}, undefined, undefined, { a: heardByA, b: heardByB });
  try {
    c.a.start(toneSource(1000));
    c.b.start(toneSource(400));
    await c.run(1000);

    const atB = heardByB.heard();
    const atA = heardByA.heard();
    assert.ok(atB.length >= 160 * 40, `B played ${atB.length / 160} frames`);
    assert.ok(tonePresence(atB, 8000, 1000) >= 0.9, `1 kHz at B: ${tonePresence(atB, 8000, 1000)}`);
    assert.ok(tonePresence(atB, 8000, 400) < 0.1, 'B hears only A');
    assert.ok(tonePresence(atA, 8000, 400) >= 0.9, `400 Hz at A: ${tonePresence(atA, 8000, 400)}`);

    const sa = c.a.stats();
    const sb = c.b.stats();
    assert.equal(sa.sent.packets, 50);
    assert.equal(sa.sent.bytes, 50 * 160);
    assert.equal(sb.received.packets, 50);
    assert.equal(sb.lost, 0);
    assert.equal(sb.lossPercent, 0);
    assert.equal(sb.dropped.total, 0);
    assert.equal(sb.concealed, 0);
  } finally {
    await c.close();
  }
});

test('sendFrame: consecutive sequence numbers, timestamps one frame apart, marker after silence, one SSRC', async () => {
  const clock = new VirtualClock();
  const sink = await rawSocket();
  const got: Buffer[] = [];
  sink.on('message', (m) => got.push(m));
  const a = await MediaEndpoint.open({ clock, rtcpIntervalMs: 60_000 });
  try {
    a.configure({ remote: { address: HOST, port: sink.address().port }, codec: new PcmuCodec(), payloadType: 0 });
    const frame = new Int16Array(160);
    a.sendFrame(frame);
    a.sendFrame(frame);
    // The pulled source is silent for one frame, then speaks again.
    const script = [frame, undefined, frame];
    a.start(() => script.shift());
    clock.advance(60);
    assert.ok(await until(() => got.length === 4));
    const p = got.map((b) => parseRtp(b));
    assert.deepEqual(
      p.map((x) => [x.sequence - p[0].sequence, x.timestamp - p[0].timestamp, x.marker, x.payloadLength]),
      [
        [0, 0, true, 160],
        [1, 160, false, 160],
        [2, 320, false, 160],
        [3, 640, true, 160],
      ],
    );
    assert.ok(p.every((x) => x.ssrc === a.ssrc && x.payloadType === 0));
  } finally {
    await a.close();
    await closeSocket(sink);
  }
});

test("DTMF '123#' sent by A, while A sends a tone, reaches B's digit handler once per key", async () => {
  const digits: DtmfDigitEvent[] = [];
  const heard = recorder();
  const c = await call({}, undefined, undefined, { b: { ...heard, digit: (ev) => digits.push(ev) } });
  try {
    c.a.start(toneSource(1000));
    await c.run(200);
    c.a.sendDigits('123#');
    await c.run(1400);
    assert.deepEqual(
      digits.map((d) => d.digit),
      ['1', '2', '3', '#'],
    );
    assert.ok(digits.every((d) => d.source === 'rfc4733' && d.durationMs === 100));
    // Audio resumes after the keys.
    const pcm = heard.heard();
    assert.ok(tonePresence(pcm.subarray(pcm.length - 160 * 20), 8000, 1000) >= 0.9);
    assert.throws(() => c.a.sendDigits('1x'), RangeError);
  } finally {
    await c.close();
  }
});

test('DTMF without any audio source still goes out, one packet per ptime', async () => {
  const digits: string[] = [];
  const c = await call({}, undefined, undefined, { b: { digit: (ev) => digits.push(ev.digit) } });
  try {
    c.a.sendDigits('9');
    await c.run(400);
    assert.deepEqual(digits, ['9']);
    // 100 ms of key = 5 packets, then the end packet twice more.
    assert.equal(c.a.stats().sent.packets, 7);
  } finally {
    await c.close();
  }
});

test('NAT latching: B signalled a wrong port still reaches A once A has sent', async () => {
  const trap = await rawSocket();
  let trapped = 0;
  trap.on('message', () => trapped++);
  const latched: unknown[] = [];
  const heardByA = recorder();
  const c = await call({}, trap.address().port, () => trapped, { a: heardByA, b: { remoteLatched: (r) => latched.push(r) } });
  try {
    c.b.start(toneSource(400));
    await c.run(100);
    assert.ok(await until(() => trapped >= 5));
    assert.equal(c.a.stats().received.packets, 0);

    c.a.start(toneSource(1000));
    await c.run(1000);
    assert.deepEqual(latched, [{ address: HOST, port: c.a.localPort }]);
    assert.deepEqual(c.b.remoteLatched, { address: HOST, port: c.a.localPort });
    assert.ok(c.a.stats().received.packets >= 48, `A got ${c.a.stats().received.packets}`);
    assert.ok(tonePresence(heardByA.heard(), 8000, 400) >= 0.9);
    // Nothing more went to the wrong port after the first frame from A.
    assert.ok(trapped <= 6, `trap got ${trapped}`);
  } finally {
    await c.close();
    await closeSocket(trap);
  }
});

test('100 garbage datagrams into B are dropped and counted; the tone keeps playing', async () => {
  const heard = recorder();
  const c = await call({}, undefined, undefined, { b: heard });
  const junk = await rawSocket();
  try {
    c.a.start(toneSource(1000));
    await c.run(200);
    const rnd = mulberry32(4733);
    for (let i = 0; i < 100; i++) {
      const buf = Buffer.alloc(1 + Math.floor(rnd() * 200));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
      // A third look like RTP/RTCP (version 2, RTCP types or PCMU) so they get past the first checks.
      if (i % 3 === 0) buf[0] = 0x80;
      if (i % 6 === 0 && buf.length > 1) buf[1] = 200;
      junk.send(buf, c.b.localPort, HOST);
    }
    c.extra.b += 100;
    await c.run(800);

    const sb = c.b.stats();
    assert.equal(sb.dropped.total, 100);
    const reasons = Object.values(sb.dropped.reasons).reduce((x, y) => x + y, 0);
    assert.equal(reasons, 100);
    assert.ok(sb.dropped.reasons['unexpected-source'] > 0);
    assert.equal(sb.received.packets, 50);
    assert.equal(sb.lost, 0);
    assert.ok(tonePresence(heard.heard(), 8000, 1000) >= 0.9);
  } finally {
    await c.close();
    await closeSocket(junk);
  }
});

test('packets with a wrong payload type, another SSRC, bad headers or from another address are dropped by reason', async () => {
  const clock = new VirtualClock();
  const peer = await rawSocket();
  const stranger = await rawSocket();
  const b = await MediaEndpoint.open({ clock, rtcpIntervalMs: 60_000 });
  try {
    b.configure({ remote: { address: HOST, port: peer.address().port }, codec: new PcmuCodec(), payloadType: 0, telephoneEventPt: PT_TE });
    const rtp = (pt: number, ssrc: number, seq: number, len = 160): Buffer => {
      const buf = Buffer.alloc(12 + len, 0xff);
      buf[0] = 0x80;
      buf[1] = pt;
      buf.writeUInt16BE(seq, 2);
      buf.writeUInt32BE(seq * 160, 4);
      buf.writeUInt32BE(ssrc, 8);
      return buf;
    };
    const sends: [Socket, Buffer][] = [
      [peer, rtp(0, 1111, 1)],
      [peer, rtp(0, 1111, 2)],
      [peer, rtp(96, 1111, 3)], // not negotiated
      [peer, rtp(0, 2222, 4)], // a second source while the first is live
      [peer, Buffer.from([0x80, 0x00, 0x01])], // shorter than a header
      [peer, Buffer.from([0x80, 0xc8, 0x00, 0x40, 0, 0, 0, 0])], // SR whose length runs past the end
      [peer, rtp(PT_TE, 1111, 5, 3)], // telephone-event of 3 octets
      [stranger, rtp(0, 1111, 6)], // right stream, wrong address
    ];
    for (const [s, buf] of sends) s.send(buf, b.localPort, HOST);
    assert.ok(await until(() => b.stats().received.datagrams === sends.length));
    const st = b.stats();
    assert.equal(st.received.packets, 3);
    assert.equal(st.dropped.total, 6);
    assert.deepEqual(
      Object.fromEntries(Object.entries(st.dropped.reasons).filter(([, n]) => n > 0)),
      {
        'unexpected-payload-type': 1,
        'unexpected-ssrc': 1,
        'malformed-rtp': 1,
        'malformed-rtcp': 1,
        'bad-payload': 1,
        'unexpected-source': 1,
      },
    );
    assert.equal(b.remoteLatched, undefined, 'the signalled address was right, so nothing moved');
  } finally {
    await b.close();
    await closeSocket(peer);
    await closeSocket(stranger);
  }
});

test('RTCP: after one interval both sides have an RTT, SR counts and CNAMEs; a silent side sends RR', async () => {
  const c = await call({ rtcpIntervalMs: 1000 });
  try {
    c.a.start(toneSource(1000));
    c.b.start(toneSource(400));
    // random() = 0.5: first reports at 500 ms, then every 1000 ms.
    await c.run(1520);
    for (const [me, peer] of [
      [c.a, c.b],
      [c.b, c.a],
    ] as const) {
      const s = me.stats();
      assert.equal(s.sent.sr, 2);
      assert.equal(s.sent.rr, 0);
      assert.equal(s.received.sr, 2);
      assert.ok(s.rttMs !== undefined && s.rttMs >= 0 && s.rttMs < 25, `rtt ${s.rttMs}`);
      assert.equal(s.remoteLossPercent, 0);
      assert.equal(me.remoteCname, peer.cname);
    }
    c.b.stop();
    // The report at 2500 ms still covers B's last packets (an SR); the one at 3500 ms is an RR.
    await c.run(2000);
    assert.equal(c.b.stats().sent.sr, 3);
    assert.equal(c.b.stats().sent.rr, 1, 'B stopped sending, so its reports become RRs');
    assert.equal(c.a.stats().received.rr, 1);
  } finally {
    await c.close();
  }
});

test('RTCP carries loss: a relay dropping every 10th packet shows up as loss at B, concealment, and remote loss at A', async () => {
  const clock = new VirtualClock();
  const relay = await rawSocket();
  const open = { clock, random: () => 0.5, rtcpIntervalMs: 1000 };
  const heard = recorder();
  const a = await MediaEndpoint.open(open);
  const b = await MediaEndpoint.open({ ...open, handlers: heard });
  let toB = 0;
  let toA = 0;
  let fromA = 0;
  let fromB = 0;
  let rtpFromA = 0;
  relay.on('message', (m, r) => {
    if (r.port === a.localPort) {
      fromA++;
      const isRtp = m[1] < 192 || m[1] > 223;
      if (isRtp && ++rtpFromA % 10 === 0) return;
      toB++;
      relay.send(m, b.localPort, HOST);
    } else {
      fromB++;
      toA++;
      relay.send(m, a.localPort, HOST);
    }
  });
  try {
    const codec = new PcmuCodec();
    a.configure({ remote: { address: HOST, port: relay.address().port }, codec, payloadType: 0 });
    b.configure({ remote: { address: HOST, port: relay.address().port }, codec, payloadType: 0 });
    a.start(toneSource(1000));
    for (let t = 0; t < 1520; t += 20) {
      clock.advance(20);
      const relayed = (): boolean => fromA === sentDatagrams(a.stats()) && fromB === sentDatagrams(b.stats());
      assert.ok(await until(() => relayed() && b.stats().received.datagrams === toB && a.stats().received.datagrams === toA));
    }
    const sb = b.stats();
    assert.equal(sb.received.packets, 76 - 7);
    assert.equal(sb.lost, 7);
    assert.ok(Math.abs(sb.lossPercent - 10) < 1, `loss ${sb.lossPercent}`);
    assert.ok(sb.concealed >= 7);
    const sa = a.stats();
    assert.ok(sa.remoteLossPercent !== undefined && Math.abs(sa.remoteLossPercent - 10) < 2, `remote loss ${sa.remoteLossPercent}`);
    // Concealment keeps the tone going across the holes (silence there would leave it at ~0.9).
    const presence = tonePresence(heard.heard(), 8000, 1000);
    assert.ok(presence >= 0.97, `presence ${presence}`);
  } finally {
    await a.close();
    await b.close();
    await closeSocket(relay);
  }
});

test('close() sends an RTCP BYE the peer sees, and stops every timer', async () => {
  const byes: (string | undefined)[] = [];
  const c = await call({}, undefined, undefined, { b: { bye: (reason) => byes.push(reason) } });
  try {
    c.a.start(toneSource(1000));
    await c.run(100);
    await c.a.close('hangup');
    assert.ok(await until(() => byes.length > 0));
    assert.deepEqual(byes, ['hangup']);
    assert.equal(c.b.stats().received.bye, 1);
    await c.b.close();
    assert.equal(c.clock.pending(), 0);
  } finally {
    await c.close();
  }
});

test('open() on a port range binds an even port inside it', async () => {
  const ep = await MediaEndpoint.open({ port: { min: 40000, max: 40999 }, clock: new VirtualClock() });
  try {
    assert.ok(ep.localPort >= 40000 && ep.localPort <= 40999 && ep.localPort % 2 === 0, `port ${ep.localPort}`);
  } finally {
    await ep.close();
  }
});

test('an audio source that throws costs its frames, not the stream', async () => {
  const heardByB = recorder();
  const c = await call({}, undefined, undefined, { b: heardByB });
  try {
    const tone = toneSource(1000);
    let n = 0;
    c.a.start(() => {
      if (++n % 10 === 0) throw new Error('broken file');
      return tone();
    });
    await c.run(1000);
    assert.equal(c.a.sourceErrors, 5);
    assert.equal(c.a.stats().sent.packets + 5, 50, 'the failed frames went out as silence (not sent)');
    assert.ok(tonePresence(heardByB.heard(), 8000, 1000) >= 0.8);
  } finally {
    await c.close();
  }
});
