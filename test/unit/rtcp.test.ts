import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RtcpParseError, type RtcpErrorReason } from '../../src/media/rtp/errors.js';
import {
  RTCP_BYE,
  RTCP_SDES,
  RTCP_SR,
  SDES_CNAME,
  SDES_NAME,
  parseRtcp,
  rtcpLength,
  sdesCname,
  tryParseRtcp,
  writeRtcp,
  type RtcpPacket,
  type SenderReport,
} from '../../src/media/rtp/rtcp.js';

const isReason = (reason: RtcpErrorReason) => (e: unknown) => e instanceof RtcpParseError && e.reason === reason;

function encode(packets: RtcpPacket[]): Buffer {
  const buf = Buffer.alloc(rtcpLength(packets));
  assert.equal(writeRtcp(buf, packets), buf.length);
  return buf;
}

const sr: SenderReport = {
  type: 'sr',
  ssrc: 0x11223344,
  ntpSeconds: 0xe8f0a1b2,
  ntpFraction: 0x80000000,
  rtpTimestamp: 0xfffffff0,
  packetCount: 1234,
  octetCount: 197_440,
  reports: [
    { ssrc: 0xaaaa0001, fractionLost: 64, cumulativeLost: -5, highestSeq: 0x0001_0007, jitter: 10, lsr: 0xb7052000, dlsr: 0x00054000 },
    { ssrc: 0xaaaa0002, fractionLost: 255, cumulativeLost: 0x7fffff, highestSeq: 0xffffffff, jitter: 0, lsr: 0, dlsr: 0 },
  ],
};

test('compound SR + SDES + BYE round-trips', () => {
  const packets: RtcpPacket[] = [
    sr,
    {
      type: 'sdes',
      chunks: [
        { ssrc: 0x11223344, items: [{ type: SDES_CNAME, value: 'alice@192.0.2.10' }, { type: SDES_NAME, value: 'Zoë Müller' }] },
        { ssrc: 0x55667788, items: [{ type: SDES_CNAME, value: 'x' }] },
      ],
    },
    { type: 'bye', ssrcs: [0x11223344, 0x55667788], reason: 'call ended' },
  ];
  const wire = encode(packets);
  // SR: 4 + 4 + 20 + 2×24 = 76. SDES: 4 + (4+2+16+2+12 → +null → 40) + (4+2+1 → +null → 8) = 52.
  // BYE: 4 + 8 + (1 + 10 → 12) = 24.
  assert.equal(wire.length, 76 + 52 + 24);
  assert.equal(wire[0], 0x82, 'V=2, RC=2');
  assert.equal(wire[1], RTCP_SR);
  assert.equal(wire.readUInt16BE(2), 76 / 4 - 1);
  assert.equal(wire[76], 0x82, 'SDES with SC=2');
  assert.equal(wire[77], RTCP_SDES);
  assert.equal(wire[128 + 1], RTCP_BYE);

  const parsed = parseRtcp(wire, { strict: true });
  assert.deepEqual(parsed, packets);
  const sdes = parsed[1];
  assert.equal(sdes.type, 'sdes');
  if (sdes.type === 'sdes') assert.equal(sdesCname(sdes.chunks[0]), 'alice@192.0.2.10');
});

test('a hand-written RR decodes its report block, including a negative 24-bit loss', () => {
  const wire = Buffer.from(
    '81c90007' + // V=2 RC=1 PT=201 length 7 (32 octets)
      '0badcafe' + // reporter SSRC
      'deadbeef' + // reportee SSRC
      '19' + 'ffffff' + // fraction 25/256, cumulative lost -1
      '00020010' + // extended highest seq: 2 cycles, seq 16
      '000000a0' + // jitter 160
      'b7052000' + // LSR
      '00054000', // DLSR 5.25 s
    'hex',
  );
  assert.deepEqual(parseRtcp(wire), [
    {
      type: 'rr',
      ssrc: 0x0badcafe,
      reports: [{ ssrc: 0xdeadbeef, fractionLost: 25, cumulativeLost: -1, highestSeq: 0x20010, jitter: 160, lsr: 0xb7052000, dlsr: 0x54000 }],
    },
  ]);
});

test('cumulative lost beyond 24 bits is clamped when written, not wrapped', () => {
  const wire = encode([
    { type: 'rr', ssrc: 1, reports: [{ ssrc: 2, fractionLost: 0, cumulativeLost: 9_000_000, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 }] },
    { type: 'rr', ssrc: 1, reports: [{ ssrc: 2, fractionLost: 0, cumulativeLost: -9_000_000, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 }] },
  ]);
  const [a, b] = parseRtcp(wire);
  assert.ok(a.type === 'rr' && b.type === 'rr');
  assert.equal(a.reports[0].cumulativeLost, 0x7fffff);
  assert.equal(b.reports[0].cumulativeLost, -0x800000);
});

test('empty RR, BYE without reason, profile extension and unknown packet types pass through', () => {
  const nack = Buffer.from('0badcafe' + 'deadbeef' + '00640003', 'hex'); // RFC 4585 generic NACK body
  const ext = Buffer.from('01020304', 'hex');
  const packets: RtcpPacket[] = [
    { type: 'rr', ssrc: 5, reports: [], extension: ext },
    { type: 'other', packetType: 205, count: 1, body: nack },
    { type: 'bye', ssrcs: [5] },
  ];
  const wire = encode(packets);
  assert.equal(wire.length, 12 + 16 + 8);
  assert.deepEqual(parseRtcp(wire), packets);
});

test('padding on the last packet is stripped', () => {
  // BYE for one source, then 4 octets of padding whose last octet is the count.
  const wire = Buffer.from('a1cb0002' + '00000009' + '00000004', 'hex');
  assert.deepEqual(parseRtcp(wire), [{ type: 'bye', ssrcs: [9] }]);
});

test('strict mode wants the compound to start with an unpadded SR or RR (RFC 3550 A.2)', () => {
  const bye = encode([{ type: 'bye', ssrcs: [1] }]);
  assert.deepEqual(parseRtcp(bye), [{ type: 'bye', ssrcs: [1] }], 'reduced-size RTCP is fine by default');
  assert.throws(() => parseRtcp(bye, { strict: true }), isReason('bad-first-packet'));
  const paddedRr = Buffer.from('a0c90002' + '00000001' + '00000004', 'hex');
  assert.throws(() => parseRtcp(paddedRr, { strict: true }), isReason('bad-first-packet'));
  assert.equal(parseRtcp(paddedRr)[0].type, 'rr');
});

test('malformed RTCP is rejected with a reason', () => {
  const rr = encode([{ type: 'rr', ssrc: 1, reports: [] }]);
  const cases: [string, Buffer, RtcpErrorReason][] = [
    ['empty', Buffer.alloc(0), 'too-short'],
    ['three octets', Buffer.from([0x80, 0xc9, 0x00]), 'too-short'],
    ['stray octets after the last packet', Buffer.concat([rr, Buffer.from([0x80, 0xc9])]), 'too-short'],
    ['version 1', Buffer.from('40c90001' + '00000001', 'hex'), 'bad-version'],
    ['version 1 in the second packet', Buffer.concat([rr, Buffer.from('40c90001' + '00000001', 'hex')]), 'bad-version'],
    ['length past the end', Buffer.from('80c90005' + '00000001', 'hex'), 'bad-length'],
    ['RR claims 2 blocks, has room for 1', Buffer.from('82c90007' + '00000001' + '00'.repeat(24), 'hex'), 'bad-rr'],
    ['SR without sender info', Buffer.from('80c80001' + '00000001', 'hex'), 'bad-sr'],
    ['padding count zero', Buffer.from('a0c90002' + '00000001' + '00000000', 'hex'), 'bad-padding'],
    ['padding longer than the packet', Buffer.from('a0c90001' + '000000ff', 'hex'), 'bad-padding'],
    ['SDES item past the end', Buffer.from('81ca0002' + '00000001' + '0110aabb', 'hex'), 'bad-sdes'],
    ['SDES without null item', Buffer.from('81ca0002' + '00000001' + '0102aabb', 'hex'), 'bad-sdes'],
    ['SDES claims 2 chunks, has 1', Buffer.from('82ca0002' + '00000001' + '01000000', 'hex'), 'bad-sdes'],
    ['BYE lists more sources than fit', Buffer.from('83cb0001' + '00000001', 'hex'), 'bad-bye'],
    ['BYE reason past the end', Buffer.from('81cb0002' + '00000001' + '09616263', 'hex'), 'bad-bye'],
  ];
  for (const [name, buf, reason] of cases) {
    assert.throws(() => parseRtcp(buf), isReason(reason), name);
    assert.equal(tryParseRtcp(buf), undefined, name);
  }
});

test('writeRtcp refuses what it cannot encode, before writing anything', () => {
  const block = { ssrc: 1, fractionLost: 0, cumulativeLost: 0, highestSeq: 0, jitter: 0, lsr: 0, dlsr: 0 };
  const buf = Buffer.alloc(2000);
  assert.throws(() => writeRtcp(buf, [{ type: 'rr', ssrc: 1, reports: new Array(32).fill(block) }]), RangeError);
  assert.throws(() => writeRtcp(buf, [{ type: 'sdes', chunks: [{ ssrc: 1, items: [{ type: SDES_CNAME, value: 'x'.repeat(256) }] }] }]), RangeError);
  assert.throws(() => writeRtcp(buf, [{ type: 'other', packetType: 204, count: 0, body: Buffer.alloc(3) }]), RangeError);
  assert.throws(() => writeRtcp(Buffer.alloc(10), [{ type: 'rr', ssrc: 1, reports: [block] }]), RangeError);
  assert.ok(buf.every((b) => b === 0), 'nothing written');
});

test('an SDES chunk whose items end on a word boundary still gets a whole null word', () => {
  // 4 (SSRC) + 2 + 2 = 8 octets of items: the null item needs a fresh word.
  const wire = encode([{ type: 'sdes', chunks: [{ ssrc: 3, items: [{ type: SDES_CNAME, value: 'ab' }] }] }]);
  assert.equal(wire.length, 4 + 12);
  assert.deepEqual(parseRtcp(wire), [{ type: 'sdes', chunks: [{ ssrc: 3, items: [{ type: SDES_CNAME, value: 'ab' }] }] }]);
  assert.equal(wire[0], 0x81);
  assert.equal(wire[1], RTCP_SDES);
  assert.deepEqual([...wire.subarray(12)], [0, 0, 0, 0]);
});

test('fuzz: mutated compound packets only ever parse or throw RtcpParseError', () => {
  let seed = 99;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 8;
  };
  const seedPacket = encode([
    sr,
    { type: 'sdes', chunks: [{ ssrc: 1, items: [{ type: SDES_CNAME, value: 'bob@example' }] }] },
    { type: 'bye', ssrcs: [1], reason: 'bye' },
  ]);
  let ok = 0;
  let bad = 0;
  for (let i = 0; i < 20_000; i++) {
    const buf = Buffer.from(seedPacket.subarray(0, 4 + (rand() % (seedPacket.length - 3))));
    for (let k = 1 + (rand() % 3); k > 0; k--) buf[rand() % buf.length] = rand() & 0xff;
    try {
      parseRtcp(buf);
      ok++;
    } catch (e) {
      assert.ok(e instanceof RtcpParseError, String(e));
      bad++;
    }
  }
  assert.ok(ok > 100 && bad > 1000, `ok ${ok}, bad ${bad}`);
});
