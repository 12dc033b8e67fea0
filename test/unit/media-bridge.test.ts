import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { RtpRelay, TranscodeBridge } from '../../src/media/bridge/index.js';
import { decodeUlaw, encodeUlaw } from '../../src/media/codecs/g711.js';
import { OpusCodec } from '../../src/media/codecs/opus.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { parseRtp, writeRtp, type RtpHeaderFields } from '../../src/media/rtp/packet.js';
import { concatFrames, until } from '../helpers/media.js';

interface Received {
  buf: Buffer;
  port: number;
}

/** What the tests opened, closed in order after the last one. */
const closers: (() => unknown)[] = [];
after(async () => {
  for (const c of closers) await c();
});

/** A bare UDP peer on 127.0.0.1 that records what reaches it; closed after the tests. */
async function peer(): Promise<{ sock: Socket; port: number; got: Received[] }> {
  const sock = createSocket('udp4');
  closers.push(() => sock.close());
  const got: Received[] = [];
  sock.on('message', (buf, rinfo) => got.push({ buf, port: rinfo.port }));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { sock, port: sock.address().port, got };
}

function rtp(fields: RtpHeaderFields, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + payload.length + 64);
  return b.subarray(0, writeRtp(b, fields, payload));
}

function send(sock: Socket, buf: Buffer, port: number): Promise<void> {
  return new Promise((r, j) => sock.send(buf, port, '127.0.0.1', (err) => (err ? j(err) : r())));
}

/** An RTP port range as a B2BUA is configured with (explicit ports survive a UDP disconnect). */
const RTP_RANGE = { min: 41000, max: 48999 };

describe('RtpRelay', () => {
  it('forwards both ways with each leg seeing one continuous stream in its own payload types', async () => {
    const pa = await peer();
    const pb = await peer();
    const relay = await RtpRelay.open({
      a: { remote: { address: '127.0.0.1', port: pa.port }, payloadType: 0, telephoneEventPt: 101, ssrc: 0xaaaa0001 },
      b: { payloadType: 0, telephoneEventPt: 96, ssrc: 0xbbbb0002 },
    });
    closers.push(() => relay.close());

    // B has not been signalled nor heard from: nowhere to send A's audio yet.
    await send(pa.sock, rtp({ payloadType: 0, sequence: 1, timestamp: 0, ssrc: 7 }, Buffer.alloc(160, 0xff)), relay.a.localPort);
    assert.ok(await until(() => relay.stats().a.dropped.reasons['no-destination'] === 1));

    // B speaks first: the relay latches to it, and A hears it under the relay's SSRC towards A.
    const fromB = Buffer.alloc(160, 0x55);
    await send(pb.sock, rtp({ payloadType: 0, sequence: 500, timestamp: 9000, ssrc: 0x1234, marker: true }, fromB), relay.b.localPort);
    assert.ok(await until(() => pa.got.length === 1));
    const a0 = parseRtp(pa.got[0].buf);
    assert.equal(a0.ssrc, 0xaaaa0001);
    assert.equal(a0.payloadType, 0);
    assert.ok(a0.marker);
    assert.deepEqual(a0.payload, fromB);
    assert.equal(pa.got[0].port, relay.a.localPort, 'A hears the relay from the port it sends to (symmetric RTP)');
    assert.equal(relay.stats().b.latched, true);
    assert.deepEqual(relay.stats().b.remote, { address: '127.0.0.1', port: pb.port });

    // A's stream: across a sequence wrap, a lost packet, a DTMF event and a restarted source (new SSRC).
    const sent: { seq: number; ts: number; ssrc: number; pt: number }[] = [
      { seq: 65534, ts: 1000, ssrc: 7, pt: 0 },
      { seq: 65535, ts: 1160, ssrc: 7, pt: 0 },
      // seq 0 lost before the relay
      { seq: 1, ts: 1480, ssrc: 7, pt: 101 },
      { seq: 42, ts: 777, ssrc: 8, pt: 0 },
      { seq: 43, ts: 937, ssrc: 8, pt: 0 },
    ];
    for (const [i, p] of sent.entries()) {
      await send(pa.sock, rtp({ payloadType: p.pt, sequence: p.seq, timestamp: p.ts, ssrc: p.ssrc }, Buffer.alloc(p.pt === 0 ? 160 : 4, i + 1)), relay.a.localPort);
      assert.ok(await until(() => pb.got.length === i + 1), `packet ${i} did not reach B`);
    }
    const out = pb.got.map((g) => parseRtp(g.buf));
    assert.ok(out.every((v) => v.ssrc === 0xbbbb0002), 'one SSRC towards B');
    assert.deepEqual(out.map((v) => v.payloadType), [0, 0, 96, 0, 0], 'telephone-event 101 becomes B\'s 96');
    const s0 = out[0].sequence;
    const dseq = out.map((v) => (v.sequence - s0) & 0xffff);
    assert.deepEqual(dseq, [0, 1, 3, 4, 5], 'the gap is kept, the new source continues the numbering');
    const t0 = out[0].timestamp;
    const dts = out.map((v) => (v.timestamp - t0) >>> 0);
    assert.deepEqual(dts.slice(0, 3), [0, 160, 480]);
    assert.ok(dts[3] > 480 && dts[3] < 480 + 8000, `new source continues the timeline, got +${dts[3]}`);
    assert.equal(dts[4] - dts[3], 160);
    assert.deepEqual(out.map((v) => v.marker), [true, false, false, true, false], 'marker on each new source');
    assert.deepEqual(out[4].payload, Buffer.alloc(160, 5), 'payload untouched');

    const st = relay.stats();
    assert.equal(st.a.received.packets, 6);
    assert.equal(st.b.sent.packets, 5);
    assert.equal(st.a.sent.packets, 1);
    assert.equal(st.b.received.packets, 1);
  });

  it('drops garbage, foreign sources and unknown payload types, counting each', async () => {
    const pa = await peer();
    const pb = await peer();
    const stranger = await peer();
    const relay = await RtpRelay.open({
      a: { remote: { address: '127.0.0.1', port: pa.port }, payloadType: 8 },
      b: { remote: { address: '127.0.0.1', port: pb.port }, payloadType: 8 },
    });
    closers.push(() => relay.close());
    const good = (seq: number): Buffer => rtp({ payloadType: 8, sequence: seq, timestamp: seq * 160, ssrc: 99 }, Buffer.alloc(160, 0xd5));
    const port = relay.a.localPort;

    await send(pa.sock, Buffer.from('hello'), port); // too short
    await send(pa.sock, Buffer.from([0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0]), port); // RTP version 1
    await send(pa.sock, rtp({ payloadType: 18, sequence: 1, timestamp: 0, ssrc: 99 }, Buffer.alloc(20)), port); // G.729 was not negotiated
    await send(pa.sock, Buffer.from([0x80, 0xc9, 0, 1, 0, 0, 0, 99]), port); // RTCP RR: ended here, not a drop
    await send(pa.sock, good(10), port);
    await send(stranger.sock, good(11), port); // after latching on A's address
    await send(pa.sock, good(12), port);

    assert.ok(await until(() => pb.got.length === 2 && relay.stats().a.datagrams === 7));
    const st = relay.stats().a;
    assert.equal(st.dropped.reasons['malformed-rtp'], 2);
    assert.equal(st.dropped.reasons['unexpected-payload-type'], 1);
    assert.equal(st.dropped.reasons['unexpected-source'], 1);
    assert.equal(st.dropped.total, 4);
    assert.equal(st.rtcp, 1);
    assert.equal(st.received.packets, 2);
    const seqs = pb.got.map((g) => parseRtp(g.buf).sequence);
    assert.equal((seqs[1] - seqs[0]) & 0xffff, 2, 'the stranger\'s packet left no trace in the numbering');
    assert.equal(stranger.got.length, 0, 'nothing is sent to the stranger');
  });

  it('with connectOnLatch, forwards both ways and the kernel keeps strangers out', async () => {
    const pa = await peer();
    const pb = await peer();
    const stranger = await peer();
    const relay = await RtpRelay.open({
      a: { remote: { address: '127.0.0.1', port: pa.port }, payloadType: 0, connectOnLatch: true, port: RTP_RANGE },
      b: { remote: { address: '127.0.0.1', port: pb.port }, payloadType: 0, connectOnLatch: true, port: RTP_RANGE },
    });
    closers.push(() => relay.close());
    const pkt = (seq: number): Buffer => rtp({ payloadType: 0, sequence: seq, timestamp: seq * 160, ssrc: 5 }, Buffer.alloc(160, 0xff));
    await send(pa.sock, pkt(1), relay.a.localPort);
    assert.ok(await until(() => pb.got.length === 1 && relay.a.connected));
    await send(stranger.sock, pkt(2), relay.a.localPort);
    await send(pa.sock, pkt(3), relay.a.localPort);
    await send(pb.sock, pkt(9), relay.b.localPort);
    assert.ok(await until(() => pb.got.length === 2 && pa.got.length === 1));
    assert.equal(((parseRtp(pb.got[1].buf).sequence - parseRtp(pb.got[0].buf).sequence) & 0xffff), 2, 'packet 3 went through, not the stranger\'s');
    assert.equal(relay.stats().a.received.packets, 2);
    // A re-INVITE moves A: the socket is unconnected again (on the same port) and latches anew.
    const portA = relay.a.localPort;
    relay.setRemote('a', { address: '127.0.0.1', port: stranger.port });
    assert.equal(relay.a.connected, false);
    assert.equal(relay.a.localPort, portA);
    await send(stranger.sock, pkt(4), relay.a.localPort);
    assert.ok(await until(() => pb.got.length === 3), 'the moved peer is heard');
  });

  it('rejects a leg configured with an invalid payload type, or connectOnLatch on an ephemeral port', async () => {
    await assert.rejects(RtpRelay.open({ a: { payloadType: 128 }, b: { payloadType: 0 } }), RangeError);
    await assert.rejects(RtpRelay.open({ a: { payloadType: 0, connectOnLatch: true }, b: { payloadType: 0 } }), /explicit port/);
  });
});

describe('TranscodeBridge', () => {
  it('carries a 1 kHz tone PCMU → Opus and Opus → PCMU, filling a lost packet', async () => {
    const pa = await peer();
    const pb = await peer();
    const bridge = await TranscodeBridge.open({
      a: { remote: { address: '127.0.0.1', port: pa.port }, payloadType: 0, codec: 'pcmu', telephoneEventPt: 101 },
      b: { remote: { address: '127.0.0.1', port: pb.port }, payloadType: 111, codec: 'opus', telephoneEventPt: 96 },
    });
    closers.push(() => bridge.close());
    const FRAMES = 50;

    // PCMU leg → Opus leg: one second of tone, packet 20 lost on the way to the bridge.
    const tone8k = new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, 8000);
    const pcm8 = new Int16Array(160);
    const ulaw = Buffer.alloc(160);
    let expectB = 0;
    for (let i = 0; i < FRAMES; i++) {
      tone8k.fill(pcm8);
      encodeUlaw(pcm8, ulaw);
      if (i === 20) continue;
      await send(pa.sock, rtp({ payloadType: 0, sequence: 3000 + i, timestamp: 160 * i, ssrc: 1 }, ulaw), bridge.a.localPort);
      expectB += i === 21 ? 2 : 1; // the concealed packet goes out just before 21
      assert.ok(await until(() => pb.got.length === expectB), `PCMU packet ${i} did not come out as Opus`);
    }
    const atB = pb.got.map((g) => parseRtp(g.buf));
    assert.equal(atB.length, FRAMES, 'the lost packet was filled in');
    assert.ok(atB.every((v) => v.payloadType === 111));
    assert.ok(atB.every((v, i) => i === 0 || ((v.sequence - atB[i - 1].sequence) & 0xffff) === 1), 'no gap towards the Opus leg');
    assert.ok(atB.every((v, i) => i === 0 || ((v.timestamp - atB[i - 1].timestamp) >>> 0) === 960), 'timestamps on the 48 kHz clock');
    assert.equal(bridge.stats().b.concealed, 1);
    const opusDec = new OpusCodec({ sampleRate: 48000 });
    closers.push(() => opusDec.close());
    const heardB = concatFrames(
      atB.map((v) => {
        const out = new Int16Array(960);
        return out.subarray(0, opusDec.decode(v.payload, out));
      }),
    );
    // Skip the first 100 ms: codec and resampler start-up.
    const presentB = tonePresence(heardB.subarray(4800), 48000, 1000);
    assert.ok(presentB >= 0.9, `1 kHz tone in ${(presentB * 100).toFixed(0)}% of Opus frames`);

    // Opus leg → PCMU leg.
    const opusEnc = new OpusCodec({ sampleRate: 48000 });
    closers.push(() => opusEnc.close());
    const tone48k = new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, 48000);
    const pcm48 = new Int16Array(960);
    const packet = Buffer.alloc(1500);
    for (let i = 0; i < FRAMES; i++) {
      tone48k.fill(pcm48);
      const n = opusEnc.encode(pcm48, packet);
      await send(pb.sock, rtp({ payloadType: 111, sequence: 100 + i, timestamp: 960 * i, ssrc: 2 }, packet.subarray(0, n)), bridge.b.localPort);
      assert.ok(await until(() => pa.got.length === i + 1), `Opus packet ${i} did not come out as PCMU`);
    }
    const atA = pa.got.map((g) => parseRtp(g.buf));
    assert.ok(atA.every((v) => v.payloadType === 0 && v.payloadLength === 160), '20 ms of PCMU per packet');
    assert.ok(atA.every((v, i) => i === 0 || ((v.timestamp - atA[i - 1].timestamp) >>> 0) === 160), 'timestamps on the 8 kHz clock');
    const heardA = concatFrames(
      atA.map((v) => {
        const out = new Int16Array(160);
        decodeUlaw(v.payload, out);
        return out;
      }),
    );
    const presentA = tonePresence(heardA.subarray(800), 8000, 1000);
    assert.ok(presentA >= 0.9, `1 kHz tone in ${(presentA * 100).toFixed(0)}% of PCMU frames`);

    // A DTMF event keeps its length in time: 100 ms is 800 units at 8 kHz, 4800 at 48 kHz.
    const ev = Buffer.from([5, 0x0a, 0x03, 0x20]);
    await send(pa.sock, rtp({ payloadType: 101, sequence: 3000 + FRAMES, timestamp: 160 * FRAMES, ssrc: 1, marker: true }, ev), bridge.a.localPort);
    assert.ok(await until(() => pb.got.length === FRAMES + 1));
    const evOut = parseRtp(pb.got[FRAMES].buf);
    assert.equal(evOut.payloadType, 96);
    assert.equal(evOut.payload.readUInt16BE(2), 4800);
    assert.equal(evOut.payload[0], 5);

    const st = bridge.stats();
    assert.equal(st.a.dropped.total + st.b.dropped.total, 0);
  });

  it('drops a payload that does not decode, and goes on', async () => {
    const pa = await peer();
    const pb = await peer();
    const bridge = await TranscodeBridge.open({
      a: { remote: { address: '127.0.0.1', port: pa.port }, payloadType: 0, codec: 'pcmu' },
      b: { remote: { address: '127.0.0.1', port: pb.port }, payloadType: 111, codec: 'opus' },
    });
    closers.push(() => bridge.close());
    // An empty Opus payload is not a packet (RFC 6716 §3.1: at least one byte).
    await send(pb.sock, rtp({ payloadType: 111, sequence: 1, timestamp: 0, ssrc: 3 }, Buffer.alloc(0)), bridge.b.localPort);
    assert.ok(await until(() => bridge.stats().b.dropped.reasons['bad-payload'] === 1));
    await send(pa.sock, rtp({ payloadType: 0, sequence: 1, timestamp: 0, ssrc: 4 }, Buffer.alloc(160, 0xff)), bridge.a.localPort);
    assert.ok(await until(() => pb.got.length === 1), 'the other direction still works');
    assert.equal(pa.got.length, 0);
  });

  it('refuses an unknown codec', async () => {
    await assert.rejects(
      TranscodeBridge.open({ a: { payloadType: 0, codec: 'pcmu' }, b: { payloadType: 18, codec: 'g729' as never } }),
      RangeError,
    );
  });
});
