import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { writeRtp } from '../../src/media/rtp/packet.js';
import { parseRtcp, writeRtcp, rtcpLength, type RtcpPacket } from '../../src/media/rtp/rtcp.js';
import { deriveSessionKeys } from '../../src/media/srtp/kdf.js';
import { SrtpContext, type SrtpContextOptions } from '../../src/media/srtp/context.js';
import { generateSdesKey, parseSdesKey } from '../../src/media/srtp/sdes.js';
import type { SrtpSuite } from '../../src/media/srtp/suites.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 3711 B.3's master key and salt, which libsrtp's srtp_driver also uses for its reference packets.
const MASTER_KEY = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
const MASTER_SALT = hex('0EC675AD498AFEEBB6960B3AABE6');

function context(suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80', key: Partial<SrtpContextOptions> = {}): SrtpContext {
  return new SrtpContext({ suite, masterKey: MASTER_KEY, masterSalt: MASTER_SALT, ...key });
}

function rtp(sequence: number, payload: Buffer = Buffer.from('hello, secure world'), ssrc = 0x11223344): Buffer {
  const out = Buffer.alloc(12 + payload.length);
  writeRtp(out, { payloadType: 0, sequence, timestamp: sequence * 160, ssrc }, payload);
  return out;
}

const senderReport: RtcpPacket[] = [
  {
    type: 'sr',
    ssrc: 0x11223344,
    ntpSeconds: 3900000000,
    ntpFraction: 0x80000000,
    rtpTimestamp: 16000,
    packetCount: 100,
    octetCount: 16000,
    reports: [],
  },
];

function rtcp(): Buffer {
  const out = Buffer.alloc(rtcpLength(senderReport));
  writeRtcp(out, senderReport);
  return out;
}

test('libsrtp reference packet: AES_CM_128_HMAC_SHA1_80 RTP protects to the published octets and back', () => {
  const plain = hex('800f1234decafbadcafebabe' + 'ab'.repeat(16));
  const expected = hex('800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb');
  assert.deepEqual(context().protectRtp(plain), expected);
  assert.deepEqual(context().unprotectRtp(expected), plain);
});

test('libsrtp reference packet: SRTCP carries E flag, index 1 and an 80-bit tag', () => {
  const plain = hex('81c8000bcafebabe' + 'ab'.repeat(16));
  const expected = hex('81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798');
  const sender = context();
  // libsrtp's reference was the second packet of its stream: index 1.
  sender.protectRtcp(plain);
  assert.deepEqual(sender.protectRtcp(plain), expected);
  assert.deepEqual(context().unprotectRtcp(expected), plain);
});

test('AES_CM_128_HMAC_SHA1_32 carries a 4-octet RTP tag but still an 80-bit SRTCP tag', () => {
  const plain = hex('800f1234decafbadcafebabe' + 'ab'.repeat(16));
  const sender = context('AES_CM_128_HMAC_SHA1_32');
  const srtp = sender.protectRtp(plain);
  assert.equal(srtp.length, plain.length + 4);
  assert.equal(sender.rtpOverhead, 4);
  // Same keys and input as the _80 suite: the tag is the same HMAC, cut shorter.
  assert.deepEqual(srtp, hex('800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc'));
  assert.deepEqual(context('AES_CM_128_HMAC_SHA1_32').unprotectRtp(srtp), plain);

  const plainRtcp = rtcp();
  const srtcp = sender.protectRtcp(plainRtcp);
  assert.equal(srtcp.length, plainRtcp.length + 4 + 10);
  assert.deepEqual(context('AES_CM_128_HMAC_SHA1_32').unprotectRtcp(srtcp), plainRtcp);
});

test('RTP round trip: header stays readable, payload is hidden, tag is 10 octets', () => {
  const sender = context();
  const receiver = context();
  const plain = rtp(1000);
  const srtp = sender.protectRtp(plain);
  assert.equal(srtp.length, plain.length + 10);
  assert.deepEqual(srtp.subarray(0, 12), plain.subarray(0, 12), 'RTP header is sent in the clear');
  assert.ok(!srtp.includes(Buffer.from('secure')), 'payload is encrypted');
  assert.deepEqual(receiver.unprotectRtp(srtp), plain);
  assert.deepEqual(receiver.stats, { authFailures: 0, replays: 0, malformed: 0 });
});

test('RTP with CSRCs, header extension and padding: header and extension stay clear, all else round-trips', () => {
  const payload = Buffer.from('abcdefghij');
  const fields = {
    payloadType: 111,
    sequence: 7,
    timestamp: 960,
    ssrc: 0xdeadbeef,
    csrcs: [1, 2],
    extension: { profile: 0xbede, data: Buffer.from([0x10, 0xff, 0, 0]) },
    padding: 4,
  };
  const plain = Buffer.alloc(12 + 8 + 8 + payload.length + 4);
  writeRtp(plain, fields, payload);
  const srtp = context().protectRtp(plain);
  assert.deepEqual(srtp.subarray(0, 28), plain.subarray(0, 28));
  assert.notDeepEqual(srtp.subarray(28, plain.length), plain.subarray(28));
  assert.deepEqual(context().unprotectRtp(srtp), plain);
});

test('RTCP round trip: first 8 octets clear, the rest encrypted, parses again after unprotect', () => {
  const sender = context();
  const receiver = context();
  const plain = rtcp();
  const srtcp = sender.protectRtcp(plain);
  assert.equal(srtcp.length, plain.length + 14);
  assert.deepEqual(srtcp.subarray(0, 8), plain.subarray(0, 8));
  assert.notDeepEqual(srtcp.subarray(8, plain.length), plain.subarray(8));
  assert.equal(srtcp.readUInt32BE(plain.length), 0x80000000, 'E flag set, first index 0');
  const back = receiver.unprotectRtcp(srtcp);
  assert.ok(back);
  assert.deepEqual(back, plain);
  assert.equal(parseRtcp(back)[0].type, 'sr');
  assert.equal(sender.protectRtcp(plain).readUInt32BE(plain.length), 0x80000001, 'index increments per packet');
});

test('SRTCP with the E flag clear is authenticated but taken as plaintext; the E flag itself is authenticated', () => {
  const plain = rtcp();
  // An unencrypted SRTCP packet made by hand from the RFC 3711 §3.4 layout and the SRTCP auth key.
  const authKey = deriveSessionKeys(MASTER_KEY, MASTER_SALT, 'rtcp').authKey;
  const withIndex = Buffer.concat([plain, hex('00000005')]);
  const clear = Buffer.concat([withIndex, createHmac('sha1', authKey).update(withIndex).digest().subarray(0, 10)]);
  const receiver = context();
  assert.deepEqual(receiver.unprotectRtcp(clear), plain);

  const srtcp = context().protectRtcp(plain);
  srtcp[plain.length] ^= 0x80;
  assert.equal(receiver.unprotectRtcp(srtcp), undefined, 'clearing E would otherwise hand out ciphertext');
  assert.equal(receiver.stats.authFailures, 1);
});

test('one flipped bit anywhere fails authentication and is counted, not thrown', () => {
  const sender = context();
  const srtp = sender.protectRtp(rtp(1));
  const receiver = context();
  for (const at of [1, 5, 12, 20, srtp.length - 1]) {
    const bad = Buffer.from(srtp);
    bad[at] ^= 0x01;
    assert.equal(receiver.unprotectRtp(bad), undefined, `bit flipped at octet ${at}`);
  }
  assert.equal(receiver.stats.authFailures, 5);
  // The good packet still gets through afterwards: failures leave no state behind.
  assert.ok(receiver.unprotectRtp(srtp));

  const srtcp = sender.protectRtcp(rtcp());
  srtcp[10] ^= 0x40;
  assert.equal(receiver.unprotectRtcp(srtcp), undefined);
  assert.equal(receiver.stats.authFailures, 6);
});

test('a packet protected under a different master key fails authentication', () => {
  const other = context('AES_CM_128_HMAC_SHA1_80', { masterKey: Buffer.alloc(16, 7) });
  const receiver = context();
  assert.equal(receiver.unprotectRtp(other.protectRtp(rtp(1))), undefined);
  assert.equal(receiver.stats.authFailures, 1);
});

test('a replayed SRTP packet is rejected and counted; reordered packets inside the window are not', () => {
  const sender = context();
  const receiver = context();
  const packets = [10, 11, 12, 13].map((seq) => sender.protectRtp(rtp(seq)));
  assert.ok(receiver.unprotectRtp(packets[0]));
  assert.ok(receiver.unprotectRtp(packets[2]));
  assert.ok(receiver.unprotectRtp(packets[1]), 'late but new');
  assert.equal(receiver.unprotectRtp(packets[2]), undefined, 'replay');
  assert.equal(receiver.unprotectRtp(packets[0]), undefined, 'replay of the first packet');
  assert.ok(receiver.unprotectRtp(packets[3]));
  assert.equal(receiver.stats.replays, 2);
  assert.equal(receiver.stats.authFailures, 0);
});

test('a packet older than the 64-packet window is rejected as a replay', () => {
  const sender = context();
  const receiver = context();
  const old = sender.protectRtp(rtp(101));
  const edge = sender.protectRtp(rtp(102));
  assert.ok(receiver.unprotectRtp(sender.protectRtp(rtp(165))));
  assert.equal(receiver.unprotectRtp(old), undefined, '64 behind: outside the window');
  assert.ok(receiver.unprotectRtp(edge), '63 behind: the oldest the window still covers');
  assert.equal(receiver.stats.replays, 1);
});

test('a replayed SRTCP packet is rejected and counted', () => {
  const sender = context();
  const receiver = context();
  const srtcp = sender.protectRtcp(rtcp());
  assert.ok(receiver.unprotectRtcp(srtcp));
  assert.equal(receiver.unprotectRtcp(srtcp), undefined);
  assert.equal(receiver.stats.replays, 1);
  assert.ok(receiver.unprotectRtcp(sender.protectRtcp(rtcp())));
});

test('sequence wrap 65535 -> 0 increments the ROC on both sides and still decrypts', () => {
  const sender = context();
  const receiver = context();
  const ssrc = 0x11223344;
  for (const seq of [65533, 65534, 65535, 0, 1]) {
    const plain = rtp(seq, Buffer.from(`packet ${seq}`));
    assert.deepEqual(receiver.unprotectRtp(sender.protectRtp(plain)), plain, `seq ${seq}`);
  }
  assert.equal(sender.rolloverCounter(ssrc, 'send'), 1);
  assert.equal(receiver.rolloverCounter(ssrc, 'receive'), 1);

  // A straggler from before the wrap is still decrypted with ROC 0.
  const sender2 = context();
  const receiver2 = context();
  const early = sender2.protectRtp(rtp(65534));
  const late = [65535, 0, 1].map((seq) => sender2.protectRtp(rtp(seq)));
  for (const p of late) assert.ok(receiver2.unprotectRtp(p));
  assert.deepEqual(receiver2.unprotectRtp(early), rtp(65534));
  assert.equal(receiver2.rolloverCounter(ssrc, 'receive'), 1);

  assert.equal(receiver.stats.authFailures + receiver2.stats.authFailures, 0);
});

test('the ROC is part of the tag: a receiver that missed a wrap fails authentication', () => {
  const sender = context();
  for (let seq = 60000; seq <= 65535; seq += 1000) sender.protectRtp(rtp(seq));
  sender.protectRtp(rtp(65535));
  const afterWrap = sender.protectRtp(rtp(3));
  assert.equal(sender.rolloverCounter(0x11223344, 'send'), 1);
  const receiver = context();
  assert.equal(receiver.unprotectRtp(afterWrap), undefined, 'a fresh receiver assumes ROC 0');
  assert.equal(receiver.stats.authFailures, 1);
});

test('streams are tracked per SSRC', () => {
  const sender = context();
  const receiver = context();
  const a = sender.protectRtp(rtp(5, undefined, 1));
  const b = sender.protectRtp(rtp(5, undefined, 2));
  assert.notDeepEqual(a.subarray(12), b.subarray(12), 'the SSRC is in the IV');
  assert.ok(receiver.unprotectRtp(a));
  assert.ok(receiver.unprotectRtp(b), 'same sequence number, other SSRC: not a replay');
  assert.equal(receiver.stats.replays, 0);
});

test('truncated or non-RTP input is dropped and counted as malformed', () => {
  const receiver = context();
  assert.equal(receiver.unprotectRtp(Buffer.alloc(5)), undefined);
  assert.equal(receiver.unprotectRtp(Buffer.alloc(30)), undefined, 'version 0');
  assert.equal(receiver.unprotectRtcp(Buffer.from([0x80, 200, 0, 1])), undefined);
  assert.equal(receiver.stats.malformed, 3);
  assert.throws(() => context().protectRtp(Buffer.alloc(4)), RangeError);
});

test('in-place protect and unprotect need no new buffers and give the same bytes', () => {
  const plain = rtp(42);
  const buf = Buffer.alloc(plain.length + 10);
  plain.copy(buf);
  const sender = context();
  const n = sender.protectRtpInPlace(buf, plain.length);
  assert.equal(n, plain.length + 10);
  assert.deepEqual(buf, context().protectRtp(plain));
  const receiver = context();
  assert.equal(receiver.unprotectRtpInPlace(buf, n), plain.length);
  assert.deepEqual(buf.subarray(0, plain.length), plain);

  const plainRtcp = rtcp();
  const rbuf = Buffer.alloc(plainRtcp.length + sender.rtcpOverhead);
  plainRtcp.copy(rbuf);
  const m = sender.protectRtcpInPlace(rbuf, plainRtcp.length);
  assert.equal(receiver.unprotectRtcpInPlace(rbuf, m), plainRtcp.length);
  assert.deepEqual(rbuf.subarray(0, plainRtcp.length), plainRtcp);
});

test('unprotectRtp leaves the received datagram untouched', () => {
  const srtp = context().protectRtp(rtp(3));
  const copy = Buffer.from(srtp);
  context().unprotectRtp(srtp);
  assert.deepEqual(srtp, copy);
});

test('interop: independent contexts built from the same SDES inline key talk to each other', () => {
  const offer = generateSdesKey();
  const ours = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...parseSdesKey(offer.inline) });
  // The peer only ever sees the text of the a=crypto line.
  const line = `a=crypto:1 AES_CM_128_HMAC_SHA1_80 ${offer.inline}|2^31`;
  const keyParams = line.split(' ')[2];
  const peer = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...pick(parseSdesKey(keyParams)) });

  for (let seq = 65530; seq < 65536 + 10; seq++) {
    const plain = rtp(seq & 0xffff, Buffer.from(`frame ${seq}`));
    assert.deepEqual(peer.unprotectRtp(ours.protectRtp(plain)), plain);
  }
  const plainRtcp = rtcp();
  assert.deepEqual(peer.unprotectRtcp(ours.protectRtcp(plainRtcp)), plainRtcp);
  assert.deepEqual(peer.stats, { authFailures: 0, replays: 0, malformed: 0 });

  // And a context from a different offer cannot read it.
  const stranger = new SrtpContext({ suite: 'AES_CM_128_HMAC_SHA1_80', ...pick(parseSdesKey(generateSdesKey().inline)) });
  assert.equal(stranger.unprotectRtp(ours.protectRtp(rtp(9))), undefined);
});

function pick(key: { masterKey: Buffer; masterSalt: Buffer }): { masterKey: Buffer; masterSalt: Buffer } {
  return { masterKey: key.masterKey, masterSalt: key.masterSalt };
}

test('wrong key or salt lengths are refused when the context is built', () => {
  assert.throws(() => context('AES_CM_128_HMAC_SHA1_80', { masterKey: Buffer.alloc(15) }), /master key must be 16/);
  assert.throws(() => context('AES_CM_128_HMAC_SHA1_80', { masterSalt: Buffer.alloc(16) }), /master salt must be 14/);
});
