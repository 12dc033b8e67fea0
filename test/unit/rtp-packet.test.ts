import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RtpParseError, type RtpErrorReason } from '../../src/media/rtp/errors.js';
import {
  RtpView,
  isRtcp,
  parseRtp,
  readRtp,
  rtpHeaderLength,
  tryParseRtp,
  writeRtp,
  type RtpHeaderFields,
} from '../../src/media/rtp/packet.js';

const isReason = (reason: RtpErrorReason) => (e: unknown) => e instanceof RtpParseError && e.reason === reason;

function build(fields: RtpHeaderFields, payload: Uint8Array): Buffer {
  const buf = Buffer.alloc(1500);
  const n = writeRtp(buf, fields, payload);
  return buf.subarray(0, n);
}

test('a hand-written PCMU packet parses field by field', () => {
  // V=2 P=0 X=0 CC=0 | M=1 PT=0 | seq 0x1234 | ts 0xdeadbeef | ssrc 0x01020304 | 3 payload octets
  const buf = Buffer.from('8080' + '1234' + 'deadbeef' + '01020304' + 'aabbcc', 'hex');
  const p = parseRtp(buf);
  assert.equal(p.version, 2);
  assert.equal(p.marker, true);
  assert.equal(p.payloadType, 0);
  assert.equal(p.sequence, 0x1234);
  assert.equal(p.timestamp, 0xdeadbeef);
  assert.equal(p.ssrc, 0x01020304);
  assert.equal(p.csrcCount, 0);
  assert.deepEqual(p.csrcs, []);
  assert.equal(p.padding, false);
  assert.equal(p.extension, false);
  assert.equal(p.extensionData, undefined);
  assert.equal(p.headerLength, 12);
  assert.deepEqual([...p.payload], [0xaa, 0xbb, 0xcc]);
});

test('marker, CSRCs, extension and padding survive a round trip', () => {
  const payload = Buffer.from('hello opus frame');
  const ext = Buffer.from('10ab0000' + '22c0ffee', 'hex'); // two words of RFC 8285 one-byte elements
  const fields: RtpHeaderFields = {
    marker: true,
    payloadType: 111,
    sequence: 65535,
    timestamp: 0xffffffff,
    ssrc: 0x8000_0001,
    csrcs: [1, 0xffffffff, 42],
    extension: { profile: 0xbede, data: ext },
    padding: 7,
  };
  const wire = build(fields, payload);
  assert.equal(wire.length, 12 + 3 * 4 + 4 + 8 + payload.length + 7);
  assert.equal(rtpHeaderLength(fields), 12 + 12 + 12);
  assert.equal(wire[0], 0x80 | 0x20 | 0x10 | 3);
  assert.equal(wire[wire.length - 1], 7, 'last octet is the padding count');

  const p = parseRtp(wire);
  assert.equal(p.marker, true);
  assert.equal(p.payloadType, 111);
  assert.equal(p.sequence, 65535);
  assert.equal(p.timestamp, 0xffffffff);
  assert.equal(p.ssrc, 0x8000_0001);
  assert.deepEqual(p.csrcs, [1, 0xffffffff, 42]);
  assert.equal(p.extension, true);
  assert.equal(p.extensionProfile, 0xbede);
  assert.deepEqual(p.extensionData, ext);
  assert.equal(p.padding, true);
  assert.equal(p.paddingLength, 7);
  assert.equal(p.payload.toString(), 'hello opus frame', 'padding is not part of the payload');
});

test('a packet without marker or extras round-trips with the bits clear', () => {
  const wire = build({ payloadType: 8, sequence: 1, timestamp: 160, ssrc: 7 }, Buffer.alloc(160, 0xd5));
  assert.equal(wire.length, 172);
  const p = parseRtp(wire);
  assert.equal(p.marker, false);
  assert.equal(p.padding, false);
  assert.equal(p.extension, false);
  assert.equal(p.payloadType, 8);
  assert.equal(p.payload.length, 160);
});

test('the payload is a view of the datagram, not a copy', () => {
  const wire = build({ payloadType: 0, sequence: 9, timestamp: 9, ssrc: 9 }, Buffer.from([1, 2, 3]));
  const p = parseRtp(wire);
  const payload = p.payload;
  wire[12] = 99;
  assert.equal(payload[0], 99);
  assert.equal(payload.buffer, wire.buffer);
});

test('one view is reused across packets: fields and CSRC list are replaced', () => {
  const view = new RtpView();
  const a = build({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 1, csrcs: [5, 6, 7], padding: 4 }, Buffer.from([1]));
  const b = build({ payloadType: 9, sequence: 2, timestamp: 2, ssrc: 2 }, Buffer.from([2, 2]));
  assert.equal(readRtp(a, view), undefined);
  const csrcs = view.csrcs;
  assert.deepEqual(view.csrcs, [5, 6, 7]);
  assert.equal(readRtp(b, view), undefined);
  assert.equal(view.csrcs, csrcs, 'same array object');
  assert.deepEqual(view.csrcs, []);
  assert.equal(view.padding, false);
  assert.equal(view.paddingLength, 0);
  assert.equal(view.payloadType, 9);
  assert.deepEqual([...view.payload], [2, 2]);
});

test('writeRtp at an offset, and with the payload already encoded in place', () => {
  const buf = Buffer.alloc(64, 0xee);
  const n = writeRtp(buf, { payloadType: 0, sequence: 3, timestamp: 480, ssrc: 1 }, Buffer.from([4, 5]), 10);
  assert.equal(n, 14);
  assert.equal(buf[9], 0xee, 'nothing written before the offset');
  assert.equal(parseRtp(buf.subarray(10, 10 + n)).sequence, 3);

  // A codec writes straight after the header; writeRtp then only fills the header.
  const fields: RtpHeaderFields = { payloadType: 0, sequence: 4, timestamp: 640, ssrc: 1, csrcs: [77] };
  const out = Buffer.alloc(200);
  const at = rtpHeaderLength(fields);
  const frame = out.subarray(at, at + 5);
  frame.set([10, 20, 30, 40, 50]);
  const len = writeRtp(out, fields, frame);
  const p = parseRtp(out.subarray(0, len));
  assert.deepEqual(p.csrcs, [77]);
  assert.deepEqual([...p.payload], [10, 20, 30, 40, 50]);
});

test('writeRtp masks sequence and timestamp to their field widths', () => {
  const p = parseRtp(build({ payloadType: 0, sequence: 65536 + 5, timestamp: 2 ** 32 + 9, ssrc: -1 }, Buffer.alloc(0)));
  assert.equal(p.sequence, 5);
  assert.equal(p.timestamp, 9);
  assert.equal(p.ssrc, 0xffffffff);
});

test('writeRtp refuses fields it cannot encode and buffers that are too small', () => {
  const base = { payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0 };
  assert.throws(() => writeRtp(Buffer.alloc(20), base, Buffer.alloc(9)), RangeError);
  assert.throws(() => writeRtp(Buffer.alloc(200), { ...base, csrcs: new Array(16).fill(1) }, Buffer.alloc(0)), RangeError);
  assert.throws(() => writeRtp(Buffer.alloc(200), { ...base, payloadType: 128 }, Buffer.alloc(0)), RangeError);
  assert.throws(() => writeRtp(Buffer.alloc(200), { ...base, padding: 256 }, Buffer.alloc(0)), RangeError);
  assert.throws(
    () => writeRtp(Buffer.alloc(200), { ...base, extension: { profile: 1, data: Buffer.alloc(6) } }, Buffer.alloc(0)),
    RangeError,
  );
});

test('malformed packets are rejected with a reason the caller can count', () => {
  const good = build({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(4));
  const cases: [string, Buffer, RtpErrorReason][] = [
    ['too short (11 octets)', good.subarray(0, 11), 'too-short'],
    ['empty', Buffer.alloc(0), 'too-short'],
    ['version 1', Buffer.from([0x40, ...good.subarray(1)]), 'bad-version'],
    ['version 0 (e.g. STUN)', Buffer.from([0x00, ...good.subarray(1)]), 'bad-version'],
    // CC=2 but only 4 octets follow the fixed header.
    ['CSRC list past the end', Buffer.from([0x82, ...good.subarray(1)]), 'truncated-csrc'],
    // X set, extension header says 3 words but only 4 octets follow it.
    ['extension past the end', Buffer.concat([Buffer.from([0x90]), good.subarray(1, 12), Buffer.from('bede0003aabbccdd', 'hex')]), 'bad-extension'],
    // X set, not even room for the 4-octet extension header.
    ['extension header cut off', Buffer.concat([Buffer.from([0x90]), good.subarray(1, 12), Buffer.from([0xbe, 0xde])]), 'bad-extension'],
    // P set, last octet claims 200 padding octets in a 16-octet packet.
    ['padding longer than packet', Buffer.concat([Buffer.from([0xa0]), good.subarray(1, 15), Buffer.from([200])]), 'bad-padding'],
    // P set, 17 octets = 12 header + 5: a count of 6 would eat one header octet.
    ['padding into the header', Buffer.concat([Buffer.from([0xa0]), good.subarray(1, 16), Buffer.from([6])]), 'bad-padding'],
    ['padding count zero', Buffer.concat([Buffer.from([0xa0]), good.subarray(1, 15), Buffer.from([0])]), 'bad-padding'],
  ];
  for (const [name, buf, reason] of cases) {
    assert.throws(() => parseRtp(buf), isReason(reason), name);
    assert.equal(tryParseRtp(buf), undefined, name);
    assert.equal(readRtp(buf, new RtpView()), reason, name);
  }
});

test('padding that exactly fills the space after the header leaves an empty payload', () => {
  const buf = Buffer.concat([Buffer.from([0xa0]), Buffer.alloc(11), Buffer.from([0, 0, 0, 4])]);
  const p = parseRtp(buf);
  assert.equal(p.payloadLength, 0);
  assert.equal(p.paddingLength, 4);
});

test('isRtcp splits a muxed port by the second octet (RFC 5761)', () => {
  const rtp = build({ payloadType: 0, sequence: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(4));
  const rtpMarkerDyn = build({ marker: true, payloadType: 96, sequence: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(4));
  const rtpPt127 = build({ marker: true, payloadType: 127, sequence: 1, timestamp: 1, ssrc: 1 }, Buffer.alloc(4));
  assert.equal(isRtcp(rtp), false);
  assert.equal(isRtcp(rtpMarkerDyn), false, 'M=1 PT=96 is octet 224, just past the RTCP range');
  assert.equal(isRtcp(rtpPt127), false);
  for (const pt of [192, 200, 201, 202, 203, 204, 205, 206, 207, 223]) {
    assert.equal(isRtcp(Buffer.from([0x80, pt, 0, 1])), true, `packet type ${pt}`);
  }
  assert.equal(isRtcp(Buffer.from([0x80, 191, 0, 1])), false, 'M=1 PT=63 is RTP');
  assert.equal(isRtcp(Buffer.from([0x00, 0x01, 0x00, 0x00])), false, 'STUN binding request');
  assert.equal(isRtcp(Buffer.from([0x80])), false);
});

test('fuzz: random and mutated input only ever yields a view or an RtpParseError', () => {
  let seed = 0x1234567;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  const seedPacket = build(
    { marker: true, payloadType: 0, sequence: 7, timestamp: 7, ssrc: 7, csrcs: [1, 2], extension: { profile: 0xbede, data: Buffer.alloc(8, 1) }, padding: 3 },
    Buffer.alloc(20, 9),
  );
  const view = new RtpView();
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 20_000; i++) {
    let buf: Buffer;
    if (i % 2 === 0) {
      buf = Buffer.alloc(rand() % 64);
      for (let j = 0; j < buf.length; j++) buf[j] = rand() & 0xff;
      if (buf.length > 0 && i % 4 === 0) buf[0] = 0x80 | (buf[0] & 0x3f); // mostly version 2
    } else {
      buf = Buffer.from(seedPacket.subarray(0, 1 + (rand() % seedPacket.length)));
      buf[rand() % buf.length] = rand() & 0xff;
    }
    try {
      parseRtp(buf, view);
      accepted++;
      assert.ok(view.payloadOffset >= 12 && view.payloadOffset + view.payloadLength + view.paddingLength === buf.length);
      assert.ok(view.extensionOffset + view.extensionLength <= buf.length);
      assert.equal(view.csrcs.length, view.csrcCount);
    } catch (e) {
      assert.ok(e instanceof RtpParseError, String(e));
      rejected++;
    }
  }
  assert.ok(accepted > 1000 && rejected > 1000, `accepted ${accepted}, rejected ${rejected}`);
});
