import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  StunAttr,
  StunMethod,
  StunParseError,
  StunWriter,
  decodeStun,
  encodeStun,
  findAttribute,
  getErrorCode,
  getMappedAddress,
  getSoftware,
  getUnknownAttributes,
  getUsername,
  getXorMappedAddress,
  crc32,
  isStun,
  messageType,
  newTransactionId,
  unknownRequiredAttributes,
  verifyIntegrity,
  type StunErrorReason,
} from '../../src/stun/index.js';
import { mulberry32 } from '../helpers/prng.js';

// RFC 5769 test vectors (§2.1-2.3). Padding bytes in them are spaces, which a decoder must ignore.
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const TID = hex('b7e7a701 bc34d686 fa87dfae');
const PASSWORD = Buffer.from('VOkJxbRl1RmTxUk/WvJxBt');
const SAMPLE_REQUEST = hex(`
  00010058 2112a442 b7e7a701 bc34d686 fa87dfae
  80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff
  80290008 932ff9b1 51263b36
  00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  80280004 e57a3bcf`);
const SAMPLE_IPV4_RESPONSE = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`);
const SAMPLE_IPV6_RESPONSE = hex(`
  01010048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`);

const isReason = (reason: StunErrorReason) => (e: unknown) => e instanceof StunParseError && e.reason === reason;

test('RFC 5769 sample request: header, attributes, integrity and fingerprint', () => {
  const m = decodeStun(SAMPLE_REQUEST);
  assert.equal(m.method, StunMethod.Binding);
  assert.equal(m.cls, 'request');
  assert.deepEqual(m.transactionId, TID);
  assert.equal(getSoftware(m), 'STUN test client');
  assert.equal(getUsername(m), 'evtj:h6vY');
  assert.equal(m.raw.readUInt32BE(findAttribute(m, StunAttr.Priority)!.offset), 0x6e0001ff);
  assert.ok(findAttribute(m, StunAttr.IceControlled));
  assert.equal(m.fingerprint, true);
  assert.equal(verifyIntegrity(m, PASSWORD), true);
  assert.equal(verifyIntegrity(m, Buffer.from('VOkJxbRl1RmTxUk/WvJxBu')), false);
  assert.deepEqual(unknownRequiredAttributes(m), []);
});

test('RFC 5769 sample responses carry 192.0.2.1:32853 and 2001:db8:1234:5678:11:2233:4455:6677 port 32853', () => {
  const v4 = decodeStun(SAMPLE_IPV4_RESPONSE);
  assert.equal(v4.cls, 'success');
  assert.deepEqual(getXorMappedAddress(v4), { address: '192.0.2.1', port: 32853 });
  assert.equal(getSoftware(v4), 'test vector');
  assert.equal(verifyIntegrity(v4, PASSWORD), true);
  const v6 = decodeStun(SAMPLE_IPV6_RESPONSE);
  assert.deepEqual(getXorMappedAddress(v6), { address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
  assert.equal(verifyIntegrity(v6, PASSWORD), true);
});

test('encoding in the RFC 5769 attribute order reproduces the sample responses', () => {
  for (const [address, vector] of [
    ['192.0.2.1', SAMPLE_IPV4_RESPONSE],
    ['2001:db8:1234:5678:11:2233:4455:6677', SAMPLE_IPV6_RESPONSE],
  ] as const) {
    const out = new StunWriter()
      .begin(StunMethod.Binding, 'success', TID)
      .software('test vector')
      .xorMappedAddress({ address, port: 32853 })
      .integrity(PASSWORD)
      .fingerprint()
      .finish();
    assert.equal(out.length, vector.length);
    // Byte 35 is SOFTWARE padding (a space in the RFC, zero here); MESSAGE-INTEGRITY and FINGERPRINT
    // cover it, so they differ too, and the decoder (checked against the RFC above) verifies them.
    const integrityAt = out.length - 32;
    assert.deepEqual(out.subarray(0, 35), vector.subarray(0, 35));
    assert.deepEqual(out.subarray(36, integrityAt + 4), vector.subarray(36, integrityAt + 4));
    const m = decodeStun(out);
    assert.equal(m.fingerprint, true);
    assert.equal(m.integrityOffset, integrityAt);
    assert.equal(verifyIntegrity(m, PASSWORD), true);
    assert.deepEqual(getXorMappedAddress(m), { address, port: 32853 });
  }
});

test('message types: Binding request 0x0001, success 0x0101, error 0x0111, indication 0x0011', () => {
  assert.equal(messageType(StunMethod.Binding, 'request'), 0x0001);
  assert.equal(messageType(StunMethod.Binding, 'success'), 0x0101);
  assert.equal(messageType(StunMethod.Binding, 'error'), 0x0111);
  assert.equal(messageType(StunMethod.Binding, 'indication'), 0x0011);
  // A method with bits in all three parts survives the interleaving with the class bits.
  const m = decodeStun(encodeStun({ method: 0xabc, cls: 'error', transactionId: newTransactionId() }));
  assert.equal(m.method, 0xabc);
  assert.equal(m.cls, 'error');
});

test('MAPPED-ADDRESS, ERROR-CODE and UNKNOWN-ATTRIBUTES round-trip; attributes are padded to 4 bytes', () => {
  const out = encodeStun({
    cls: 'error',
    transactionId: newTransactionId(),
    mappedAddress: { address: '10.213.1.2', port: 5060 },
    errorCode: { code: 420, reason: 'Unknown Attribute' },
    unknownAttributes: [0x7777, 0x0033, 0x1234],
  });
  assert.equal(out.length % 4, 0);
  const m = decodeStun(out);
  assert.deepEqual(getMappedAddress(m), { address: '10.213.1.2', port: 5060 });
  assert.deepEqual(getErrorCode(m), { code: 420, reason: 'Unknown Attribute' });
  assert.deepEqual(getUnknownAttributes(m), [0x7777, 0x0033, 0x1234]);
  assert.equal(m.fingerprint, false);
  assert.equal(verifyIntegrity(m, PASSWORD), false);
});

test('IPv6 addresses come back in RFC 5952 form', () => {
  const cases: Array<[string, string]> = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::1', '::1'],
    ['::', '::'],
    ['fe80::1%eth0', 'fe80::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
  ];
  for (const [input, want] of cases) {
    const m = decodeStun(encodeStun({ cls: 'success', transactionId: newTransactionId(), xorMappedAddress: { address: input, port: 1 } }));
    assert.equal(getXorMappedAddress(m)?.address, want, input);
  }
  assert.throws(() => encodeStun({ cls: 'success', transactionId: newTransactionId(), xorMappedAddress: { address: 'example.com', port: 1 } }), TypeError);
});

test('isStun tells STUN from RTP, DTLS, SIP and damaged headers (RFC 7983 first-byte ranges)', () => {
  assert.equal(isStun(SAMPLE_REQUEST), true);
  assert.equal(isStun(SAMPLE_IPV6_RESPONSE), true);
  const rtp = hex('80000001 000000a0 01020304');
  assert.equal(isStun(Buffer.concat([rtp, Buffer.alloc(160)])), false);
  assert.equal(isStun(Buffer.from('OPTIONS sip:bob@10.213.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n')), false);
  const dtls = Buffer.from(SAMPLE_REQUEST);
  dtls[0] = 0x16;
  assert.equal(isStun(dtls), false);
  const noCookie = Buffer.from(SAMPLE_REQUEST);
  noCookie[5] = 0;
  assert.equal(isStun(noCookie), false);
  assert.equal(isStun(SAMPLE_REQUEST.subarray(0, 100)), false, 'length field no longer matches');
  assert.equal(isStun(SAMPLE_REQUEST.subarray(0, 19)), false);
});

test('malformed messages throw StunParseError with a reason', () => {
  const mutate = (f: (b: Buffer) => void, base = SAMPLE_IPV4_RESPONSE): Buffer => {
    const b = Buffer.from(base);
    f(b);
    return b;
  };
  const plain = encodeStun({ cls: 'success', transactionId: TID, xorMappedAddress: { address: '192.0.2.1', port: 9 } });
  const cases: Array<[Buffer, StunErrorReason]> = [
    [Buffer.alloc(0), 'too-short'],
    [SAMPLE_REQUEST.subarray(0, 12), 'too-short'],
    [mutate((b) => (b[0] = 0x80)), 'not-stun'],
    [mutate((b) => b.writeUInt32BE(0x2112a443, 4)), 'bad-cookie'],
    [mutate((b) => b.writeUInt16BE(0x3d, 2)), 'bad-length'],
    [SAMPLE_IPV4_RESPONSE.subarray(0, 76), 'bad-length'],
    [mutate((b) => b.writeUInt16BE(0x00ff, 22), plain), 'truncated-attribute'],
    [mutate((b) => b.writeUInt16BE(0x0009, 22), plain), 'truncated-attribute'],
    [mutate((b) => (b[25] = 3), plain), 'bad-address'],
    [mutate((b) => b.writeUInt16BE(4, 22), plain), 'bad-address'],
    [mutate((b) => (b[79] ^= 1)), 'bad-fingerprint'],
    [mutate((b) => (b[60] ^= 1)), 'bad-fingerprint'],
    [encodeStun({ cls: 'error', transactionId: TID, attributes: [{ type: StunAttr.ErrorCode, value: hex('00000263') }] }), 'bad-error-code'],
    [encodeStun({ cls: 'error', transactionId: TID, attributes: [{ type: StunAttr.ErrorCode, value: hex('0000') }] }), 'bad-error-code'],
    [encodeStun({ cls: 'request', transactionId: TID, attributes: [{ type: StunAttr.MessageIntegrity, value: Buffer.alloc(16) }] }), 'bad-integrity'],
  ];
  for (const [buf, reason] of cases) assert.throws(() => decodeStun(buf), isReason(reason), `${reason}: ${buf.toString('hex')}`);
});

test('an attribute after FINGERPRINT is rejected', () => {
  const withTail = Buffer.concat([encodeStun({ cls: 'request', transactionId: TID, fingerprint: true }), hex('80220000')]);
  withTail.writeUInt16BE(withTail.length - 20, 2);
  // Re-sign so the CRC matches the new length field and only the position is wrong.
  withTail.writeUInt32BE((crc32(withTail, 0, 20) ^ 0x5354554e) >>> 0, 24);
  assert.throws(() => decodeStun(withTail), isReason('fingerprint-not-last'));
});

test('CRC-32 is the ISO 3309 one ("123456789" -> 0xcbf43926)', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are ignored', () => {
  const w = encodeStun({
    cls: 'request',
    transactionId: TID,
    username: 'a:b',
    integrityKey: PASSWORD,
    attributes: [],
  });
  const tail = Buffer.concat([w, hex('80220004 41424344')]);
  tail.writeUInt16BE(tail.length - 20, 2);
  const m = decodeStun(tail);
  assert.equal(getSoftware(m), undefined);
  assert.equal(verifyIntegrity(m, PASSWORD), true, 'integrity covers only what precedes it');
});

test('fuzz: mutated and truncated vectors never escape as anything but StunParseError', () => {
  const rand = mulberry32(5389);
  const bases = [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE];
  let parsed = 0;
  let rejected = 0;
  for (let i = 0; i < 20_000; i++) {
    const base = bases[i % bases.length];
    let b = Buffer.from(base);
    const flips = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < flips; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    if (rand() < 0.3) b = b.subarray(0, Math.floor(rand() * b.length));
    // Keep the header plausible half the time so the attribute walker gets exercised.
    if (rand() < 0.5 && b.length >= 20) {
      b[0] &= 0x3f;
      b.writeUInt32BE(0x2112a442, 4);
      b.writeUInt16BE((b.length - 20) & ~3, 2);
      b = b.subarray(0, 20 + ((b.length - 20) & ~3));
    }
    try {
      const m = decodeStun(b);
      getXorMappedAddress(m);
      getMappedAddress(m);
      getErrorCode(m);
      getSoftware(m);
      getUnknownAttributes(m);
      verifyIntegrity(m, PASSWORD);
      parsed++;
    } catch (e) {
      assert.ok(e instanceof StunParseError, `unexpected ${String(e)} for ${b.toString('hex')}`);
      rejected++;
    }
  }
  assert.ok(rejected > 1000 && parsed > 100, `parsed ${parsed}, rejected ${rejected}`);
});

test('the writer refuses to overflow a caller-provided buffer', () => {
  assert.throws(
    () => encodeStun({ cls: 'success', transactionId: TID, software: 'x'.repeat(200) }, Buffer.alloc(64)),
    RangeError,
  );
  const out = Buffer.alloc(64);
  const m = encodeStun({ cls: 'success', transactionId: TID, xorMappedAddress: { address: '10.0.0.1', port: 2 } }, out);
  assert.equal(m.buffer, out.buffer, 'encoded in place');
});
