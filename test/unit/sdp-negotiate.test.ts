/**
 * Offer/answer exchanges in the style of RFC 4317: each test shows the
 * offer as a phone would send it and checks the answer we give and what
 * both sides then send.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codecsOf, cryptosOf, directionOf, rtcpMuxOf } from '../../src/sdp/attributes.js';
import { SdpError, WarnCode } from '../../src/sdp/errors.js';
import { formatSdp } from '../../src/sdp/format.js';
import type { SessionDescription } from '../../src/sdp/model.js';
import {
  createAnswer,
  createOffer,
  negotiated,
  withDirection,
  type AnswerOptions,
  type CodecSpec,
} from '../../src/sdp/negotiate.js';
import { parseSdp } from '../../src/sdp/parse.js';

const sdp = (...lines: string[]) => lines.join('\r\n') + '\r\n';

const PCMU: CodecSpec = { name: 'PCMU', clockRate: 8000 };
const PCMA: CodecSpec = { name: 'PCMA', clockRate: 8000 };
const G722: CodecSpec = { name: 'G722', clockRate: 8000 };
const OPUS: CodecSpec = { name: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' };

const KEY_A = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
const KEY_B = 'NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj';

/** Bob, the answerer: a small PBX phone. */
const bob = (extra: Partial<AnswerOptions> = {}): AnswerOptions => ({
  address: '198.51.100.7',
  port: 30000,
  codecs: [PCMA, PCMU],
  telephoneEvent: true,
  sessionId: '7',
  sessionVersion: '1',
  ...extra,
});

/** Alice's offer as it arrives on the wire. */
const aliceOffer = (mediaLines: string[], session: string[] = ['c=IN IP4 192.0.2.10']) =>
  parseSdp(sdp('v=0', 'o=alice 2890844526 2890844526 IN IP4 192.0.2.10', 's=-', ...session, 't=0 0', ...mediaLines));

const summary = (sd: SessionDescription) =>
  sd.media.map((m) => `${m.type} ${m.port} ${m.formats.join(' ')} ${m.port === 0 ? '' : directionOf(m, sd)}`.trim());

test('audio only, several codecs: the answer keeps the offerer order and lists only what both support', () => {
  const offer = aliceOffer([
    'm=audio 49170 RTP/AVP 0 8 9 97',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:97 iLBC/8000',
  ]);
  const answer = createAnswer(offer, bob());
  // The whole answer, as Bob sends it in his 200 OK.
  assert.equal(
    formatSdp(answer),
    sdp(
      'v=0',
      'o=- 7 1 IN IP4 198.51.100.7',
      's=-',
      'c=IN IP4 198.51.100.7',
      't=0 0',
      'm=audio 30000 RTP/AVP 0 8',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=sendrecv',
    ),
  );
  const alice = negotiated(offer, answer);
  assert.equal(alice.codec.name, 'PCMU');
  assert.equal(alice.payloadType, 0);
  assert.equal(alice.remoteAddress, '198.51.100.7');
  assert.equal(alice.remotePort, 30000);
  assert.equal(alice.ptime, 20);
  assert.equal(alice.telephoneEvent, undefined);
  const b = negotiated(answer, offer);
  assert.equal(b.codec.name, 'PCMU', 'both directions use the first codec of the answer');
  assert.equal(b.remoteAddress, '192.0.2.10');
  assert.equal(b.remotePort, 49170);
  assert.equal(b.remoteRtcpPort, 49171, 'RTCP on the next port without rtcp-mux or a=rtcp');
});

test('answerer supporting a subset: G722 and opus pass, iLBC does not', () => {
  const offer = aliceOffer([
    'm=audio 49170 RTP/AVP 97 9 96 0',
    'a=rtpmap:97 iLBC/8000',
    'a=rtpmap:96 opus/48000/2',
  ]);
  const answer = createAnswer(offer, bob({ codecs: [PCMU, OPUS, G722] }));
  assert.deepEqual(answer.media[0].formats, ['9', '96', '0']);
  assert.deepEqual(
    codecsOf(answer.media[0]).map((c) => `${c.pt} ${c.name}/${c.clockRate}/${c.channels}`),
    ['9 G722/8000/1', '96 opus/48000/2', '0 PCMU/8000/1'],
  );
  assert.equal(negotiated(offer, answer).codec.name, 'G722');
});

test('dynamic payload types: the answer uses the offerer numbers, matched by name case-insensitively', () => {
  // Bob's own offers would put opus at 96 and DTMF at 101; Alice uses 111 and 126.
  const offer = aliceOffer([
    'm=audio 49170 RTP/AVP 111 0 126',
    'a=rtpmap:111 OPUS/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:126 telephone-event/8000',
  ]);
  const answer = createAnswer(offer, bob({ codecs: [OPUS, PCMU] }));
  assert.deepEqual(answer.media[0].formats, ['111', '0', '126']);
  assert.deepEqual(codecsOf(answer.media[0])[0], {
    pt: 111,
    name: 'OPUS',
    clockRate: 48000,
    channels: 2,
    fmtp: 'useinbandfec=1',
  });
  const b = negotiated(answer, offer);
  assert.equal(b.payloadType, 111);
  assert.equal(b.telephoneEvent, 126);

  // Opus must match on channels too: opus/48000 (mono, non-compliant) is not opus/48000/2.
  const mono = aliceOffer(['m=audio 49170 RTP/AVP 96 0', 'a=rtpmap:96 opus/48000']);
  assert.deepEqual(createAnswer(mono, bob({ codecs: [OPUS, PCMU] })).media[0].formats, ['0']);
});

test('our offer with opus at 96: the answer must come back with 96, and we send with what the remote declared', () => {
  const offer = createOffer({
    address: '192.0.2.10',
    port: 20000,
    codecs: [OPUS, PCMU],
    telephoneEvent: true,
    sessionId: '42',
  });
  assert.deepEqual(offer.media[0].formats, ['96', '0', '97', '101']);
  const wire = parseSdp(formatSdp(offer));
  const answer = createAnswer(wire, bob({ codecs: [{ name: 'opus', clockRate: 48000, channels: 2 }] }));
  assert.deepEqual(answer.media[0].formats, ['96', '97']);
  const a = negotiated(offer, answer);
  assert.equal(a.payloadType, 96);
  assert.equal(a.telephoneEvent, 97, 'the event type at the codec clock rate');

  // A sloppy answerer renumbering opus to 111: we send 111, the number it asked for.
  const renumbered = parseSdp(
    sdp('v=0', 'o=- 1 1 IN IP4 198.51.100.9', 's=-', 'c=IN IP4 198.51.100.9', 't=0 0',
      'm=audio 31000 RTP/AVP 111', 'a=rtpmap:111 opus/48000/2'),
  );
  const r = negotiated(offer, renumbered);
  assert.equal(r.payloadType, 111);
  assert.equal(r.receiveCodecs.find((c) => c.name === 'opus')?.pt, 96, 'we still receive on our own number');
});

test('createOffer numbers static and dynamic types and writes every attribute', () => {
  const offer = createOffer({
    address: '2001:db8::10',
    port: 20000,
    codecs: [PCMU, OPUS, { name: 'speex', clockRate: 16000, payloadType: 101 }],
    telephoneEvent: true,
    ptime: 30,
    rtcpMux: true,
    direction: 'recvonly',
    sessionId: '42',
    sessionVersion: '3',
  });
  assert.equal(
    formatSdp(offer),
    sdp(
      'v=0',
      'o=- 42 3 IN IP6 2001:db8::10',
      's=-',
      'c=IN IP6 2001:db8::10',
      't=0 0',
      // 101 is taken by speex here, so DTMF moves to the next free number.
      'm=audio 20000 RTP/AVP 0 96 101 97 98 99',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:96 opus/48000/2',
      'a=fmtp:96 useinbandfec=1',
      'a=rtpmap:101 speex/16000',
      'a=rtpmap:97 telephone-event/8000',
      'a=fmtp:97 0-16',
      'a=rtpmap:98 telephone-event/48000',
      'a=fmtp:98 0-16',
      'a=rtpmap:99 telephone-event/16000',
      'a=fmtp:99 0-16',
      'a=ptime:30',
      'a=rtcp-mux',
      'a=recvonly',
    ),
  );
  assert.throws(() => createOffer({ address: '192.0.2.1', port: 70000, codecs: [PCMU] }), RangeError);
  assert.throws(() => createOffer({ address: '192.0.2.1', port: 4000, codecs: [] }), RangeError);
  // Without an explicit id every offer gets its own.
  const ids = new Set([1, 2, 3].map(() => createOffer({ address: '192.0.2.1', port: 4000, codecs: [PCMU] }).origin.sessId));
  assert.equal(ids.size, 3);
});

test('telephone-event is negotiated only when both sides support it', () => {
  const withEvents = aliceOffer([
    'm=audio 49170 RTP/AVP 0 101',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
  ]);
  const both = createAnswer(withEvents, bob());
  assert.deepEqual(both.media[0].formats, ['0', '101']);
  assert.equal(negotiated(withEvents, both).telephoneEvent, 101);
  assert.equal(negotiated(both, withEvents).telephoneEvent, 101);

  const bobWithout = createAnswer(withEvents, bob({ telephoneEvent: false }));
  assert.deepEqual(bobWithout.media[0].formats, ['0']);
  assert.equal(negotiated(withEvents, bobWithout).telephoneEvent, undefined);

  const aliceWithout = aliceOffer(['m=audio 49170 RTP/AVP 0']);
  const answer = createAnswer(aliceWithout, bob());
  assert.deepEqual(answer.media[0].formats, ['0']);
  assert.equal(negotiated(answer, aliceWithout).telephoneEvent, undefined);

  // Events at a rate no accepted codec runs at are left out (RFC 4733 §2.1).
  const wideOnly = aliceOffer(['m=audio 49170 RTP/AVP 0 100', 'a=rtpmap:100 telephone-event/48000']);
  assert.deepEqual(createAnswer(wideOnly, bob()).media[0].formats, ['0']);
});

test('hold: sendonly is answered recvonly, inactive inactive, and resume bumps the version again', () => {
  const offer = createOffer({ address: '192.0.2.10', port: 20000, codecs: [PCMU], sessionId: '42', sessionVersion: '5' });
  const answer = createAnswer(offer, bob());
  assert.deepEqual(summary(answer), ['audio 30000 0 sendrecv']);

  const hold = withDirection(offer, 'sendonly');
  assert.equal(hold.origin.sessVersion, '6');
  assert.equal(offer.origin.sessVersion, '5', 'the original is not modified');
  assert.deepEqual(summary(hold), ['audio 20000 0 sendonly']);
  assert.equal(hold.media[0].attributes.filter((a) => a.name === 'sendrecv').length, 0);
  const held = createAnswer(hold, bob());
  assert.deepEqual(summary(held), ['audio 30000 0 recvonly']);
  assert.equal(negotiated(hold, held).direction, 'sendonly', 'the holder still sends (music on hold)');
  assert.equal(negotiated(held, hold).direction, 'recvonly');

  const inactive = withDirection(hold, 'inactive');
  assert.equal(inactive.origin.sessVersion, '7');
  assert.deepEqual(summary(createAnswer(inactive, bob())), ['audio 30000 0 inactive']);

  const recvonly = withDirection(offer, 'recvonly');
  assert.deepEqual(summary(createAnswer(recvonly, bob())), ['audio 30000 0 sendonly']);

  const resume = withDirection(inactive, 'sendrecv');
  assert.equal(resume.origin.sessVersion, '8');
  assert.deepEqual(summary(createAnswer(resume, bob())), ['audio 30000 0 sendrecv']);

  // Bob on hold himself answers a sendrecv offer with sendonly.
  assert.deepEqual(summary(createAnswer(offer, bob({ direction: 'sendonly' }))), ['audio 30000 0 sendonly']);
  // Versions beyond 2^53 still count exactly.
  const big = withDirection({ ...offer, origin: { ...offer.origin, sessVersion: '9007199254740993' } }, 'sendonly');
  assert.equal(big.origin.sessVersion, '9007199254740994');
});

test('session-level a=sendonly and the old c=0.0.0.0 hold are understood', () => {
  const sessionHold = aliceOffer(['m=audio 49170 RTP/AVP 0'], ['c=IN IP4 192.0.2.10', 'a=sendonly']);
  assert.deepEqual(summary(createAnswer(sessionHold, bob())), ['audio 30000 0 recvonly']);

  const rfc2543Hold = aliceOffer(['m=audio 49170 RTP/AVP 0'], ['c=IN IP4 0.0.0.0']);
  const answer = createAnswer(rfc2543Hold, bob());
  assert.deepEqual(summary(answer), ['audio 30000 0 recvonly']);
  assert.equal(negotiated(answer, rfc2543Hold).direction, 'recvonly', 'nothing is sent to 0.0.0.0, hold music still arrives');
});

test('a video stream is declined with port 0 next to the accepted audio stream, order kept', () => {
  const offer = aliceOffer([
    'm=video 51372 RTP/AVP 31 34',
    'a=rtpmap:31 H261/90000',
    'a=rtpmap:34 H263/90000',
    'm=audio 49170 RTP/AVP 0 8',
  ]);
  const answer = createAnswer(offer, bob());
  assert.equal(answer.media.length, 2);
  assert.deepEqual(summary(answer), ['video 0 31', 'audio 30000 0 8 sendrecv']);
  assert.equal(answer.media[0].proto, 'RTP/AVP');
  assert.deepEqual(answer.media[0].attributes, []);
  const text = formatSdp(answer);
  assert.match(text, /\r\nm=video 0 RTP\/AVP 31\r\nm=audio 30000 RTP\/AVP 0 8\r\n/);
  assert.deepEqual(parseSdp(text), answer, 'the answer survives the wire');
  const a = negotiated(offer, answer);
  assert.equal(a.mediaIndex, 1);
  assert.equal(a.remotePort, 30000);
});

test('only the first workable audio stream is accepted; a later one is declined', () => {
  const offer = aliceOffer([
    'm=audio 49170 RTP/AVP 18',
    'm=audio 49172 RTP/AVP 0',
    'm=audio 49174 RTP/AVP 8',
  ]);
  assert.deepEqual(summary(createAnswer(offer, bob())), ['audio 0 18', 'audio 30000 0 sendrecv', 'audio 0 8']);
});

test('no common codec, or no audio at all: createAnswer throws SdpError for a 488', () => {
  const g729 = aliceOffer(['m=audio 49170 RTP/AVP 18 3']);
  assert.throws(
    () => createAnswer(g729, bob()),
    (e: unknown) =>
      e instanceof SdpError &&
      e.warnCode === WarnCode.incompatibleMediaFormat &&
      /no common codec/.test(e.message) &&
      e.message.includes('G729/8000, GSM/8000') &&
      e.message.includes('PCMA/8000, PCMU/8000'),
  );
  // Comfort noise alone cannot carry a call.
  assert.throws(() => createAnswer(aliceOffer(['m=audio 49170 RTP/AVP 18 13']), bob({ codecs: [PCMU, { name: 'CN', clockRate: 8000 }] })), SdpError);
  const videoOnly = aliceOffer(['m=video 51372 RTP/AVP 31']);
  assert.throws(
    () => createAnswer(videoOnly, bob()),
    (e: unknown) => e instanceof SdpError && e.warnCode === WarnCode.mediaTypeNotAvailable && /video/.test(e.message),
  );
  const webrtc = aliceOffer(['m=audio 9 UDP/TLS/RTP/SAVPF 0']);
  assert.throws(
    () => createAnswer(webrtc, bob()),
    (e: unknown) => e instanceof SdpError && e.warnCode === WarnCode.incompatibleTransport,
  );
});

test('media-level c= wins over session-level c=, and RTCP follows a=rtcp or rtcp-mux', () => {
  const offer = aliceOffer(
    [
      'm=audio 49170 RTP/AVP 0',
      'c=IN IP4 203.0.113.7',
      'a=rtcp:53020 IN IP4 203.0.113.8',
      'm=audio 49172 RTP/AVP 0',
    ],
    ['c=IN IP4 192.0.2.10'],
  );
  const answer = createAnswer(offer, bob());
  const b = negotiated(answer, offer);
  assert.equal(b.remoteAddress, '203.0.113.7');
  assert.equal(b.remoteRtcpAddress, '203.0.113.8');
  assert.equal(b.remoteRtcpPort, 53020);

  const sessionOnly = aliceOffer(['m=audio 49170 RTP/AVP 0', 'a=rtcp:49999']);
  const b2 = negotiated(createAnswer(sessionOnly, bob()), sessionOnly);
  assert.equal(b2.remoteAddress, '192.0.2.10');
  assert.equal(b2.remoteRtcpAddress, '192.0.2.10');
  assert.equal(b2.remoteRtcpPort, 49999);

  const muxed = aliceOffer(['m=audio 49170 RTP/AVP 0', 'a=rtcp-mux']);
  const muxAnswer = createAnswer(muxed, bob());
  assert.equal(rtcpMuxOf(muxAnswer.media[0]), true);
  const b3 = negotiated(muxAnswer, muxed);
  assert.equal(b3.rtcpMux, true);
  assert.equal(b3.remoteRtcpPort, 49170);
  assert.equal(rtcpMuxOf(createAnswer(muxed, bob({ rtcpMux: false })).media[0]), false);
  assert.equal(rtcpMuxOf(createAnswer(sessionOnly, bob({ rtcpMux: true })).media[0]), false, 'never mux unasked');
});

test('ptime: each side sends with the packetization the other asked for', () => {
  const offer = aliceOffer(['m=audio 49170 RTP/AVP 0', 'a=ptime:30']);
  const answer = createAnswer(offer, bob({ ptime: 40 }));
  assert.equal(negotiated(answer, offer).ptime, 30);
  assert.equal(negotiated(offer, answer).ptime, 40);
});

test('SDES: the answer picks the first offered suite it supports, keeps its tag and carries its own key', () => {
  const offer = aliceOffer([
    'm=audio 49170 RTP/SAVP 0 8',
    `a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:${KEY_A}${KEY_A}`,
    `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A}|2^31`,
    'a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:' + KEY_A,
  ]);
  const crypto = [
    { suite: 'AES_CM_128_HMAC_SHA1_32', keySalt: KEY_B },
    { suite: 'AES_CM_128_HMAC_SHA1_80', keySalt: KEY_B },
  ];
  const answer = createAnswer(offer, bob({ crypto }));
  assert.equal(answer.media[0].proto, 'RTP/SAVP');
  assert.deepEqual(cryptosOf(answer.media[0]), [
    { tag: 2, suite: 'AES_CM_128_HMAC_SHA1_80', keys: [{ method: 'inline', keySalt: KEY_B }], sessionParams: [] },
  ]);
  const alice = negotiated(offer, answer);
  assert.deepEqual(alice.crypto, {
    tag: 2,
    suite: 'AES_CM_128_HMAC_SHA1_80',
    local: { method: 'inline', keySalt: KEY_A, lifetime: '2^31' },
    remote: { method: 'inline', keySalt: KEY_B },
  });
  const b = negotiated(answer, offer);
  assert.equal(b.crypto?.local.keySalt, KEY_B, 'each side encrypts with its own key');
  assert.equal(b.crypto?.remote.keySalt, KEY_A);

  // Plain RTP offers get plain answers even when we could do SRTP.
  const plain = createAnswer(aliceOffer(['m=audio 49170 RTP/AVP 0']), bob({ crypto }));
  assert.equal(cryptosOf(plain.media[0]).length, 0);
  assert.equal(negotiated(plain, aliceOffer(['m=audio 49170 RTP/AVP 0'])).crypto, undefined);
});

test('SDES: no common suite, no crypto line, or session parameters we cannot honour means 488', () => {
  const only256 = aliceOffer(['m=audio 49170 RTP/SAVP 0', `a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:${KEY_A}${KEY_A}`]);
  const crypto = [{ suite: 'AES_CM_128_HMAC_SHA1_80', keySalt: KEY_B }];
  assert.throws(() => createAnswer(only256, bob({ crypto })), /no common SRTP crypto suite/);
  assert.throws(() => createAnswer(aliceOffer(['m=audio 49170 RTP/SAVP 0']), bob({ crypto })), /without a=crypto/);
  assert.throws(() => createAnswer(only256, bob()), SdpError, 'no keys configured at all');
  const unencrypted = aliceOffer(['m=audio 49170 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY_A} UNENCRYPTED_SRTP`]);
  assert.throws(() => createAnswer(unencrypted, bob({ crypto })), SdpError);

  // Our SRTP offer answered without a matching crypto line cannot be used.
  const offer = createOffer({ address: '192.0.2.10', port: 20000, codecs: [PCMU], crypto, sessionId: '1' });
  assert.equal(offer.media[0].proto, 'RTP/SAVP');
  const bogus = parseSdp(sdp('v=0', 'o=- 1 1 IN IP4 198.51.100.9', 's=-', 'c=IN IP4 198.51.100.9', 't=0 0',
    'm=audio 31000 RTP/SAVP 0', `a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:${KEY_B}`));
  assert.throws(() => negotiated(offer, bogus), /no matching a=crypto/);
});

test('negotiated throws when the answer declined every audio stream', () => {
  const offer = createOffer({ address: '192.0.2.10', port: 20000, codecs: [PCMU], sessionId: '1' });
  const declined = parseSdp(sdp('v=0', 'o=- 1 1 IN IP4 198.51.100.9', 's=-', 't=0 0', 'm=audio 0 RTP/AVP 0'));
  assert.throws(() => negotiated(offer, declined), (e: unknown) => e instanceof SdpError && /no audio stream/.test(e.message));
});

test('answering real phones: Linphone audio+video, Chrome-style opus with red and CN', () => {
  const linphone = parseSdp(
    sdp(
      'v=0', 'o=alice 2251 3087 IN IP4 10.0.0.5', 's=Talk', 'c=IN IP4 10.0.0.5', 't=0 0',
      'm=audio 7078 RTP/AVP 96 97 0 8 18 101 100',
      'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 useinbandfec=1',
      'a=rtpmap:97 speex/16000',
      'a=rtpmap:101 telephone-event/48000', 'a=rtpmap:100 telephone-event/8000',
      'm=video 9078 RTP/AVP 96', 'a=rtpmap:96 VP8/90000',
    ),
  );
  const answer = createAnswer(linphone, bob({ codecs: [PCMA, PCMU, OPUS] }));
  assert.deepEqual(summary(answer), ['audio 30000 96 0 8 101 100 sendrecv', 'video 0 96']);
  const b = negotiated(answer, linphone);
  assert.equal(b.codec.name, 'opus');
  assert.equal(b.telephoneEvent, 101);

  const chromeLike = parseSdp(
    sdp(
      'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
      'm=audio 54321 RTP/AVPF 63 111 0 13 126', 'c=IN IP4 192.168.1.5', 'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2', 'a=rtpmap:63 red/48000/2', 'a=fmtp:63 111/111',
      'a=rtpmap:13 CN/8000', 'a=rtpmap:126 telephone-event/8000',
    ),
  );
  const cn: CodecSpec = { name: 'CN', clockRate: 8000 };
  const a2 = createAnswer(chromeLike, bob({ codecs: [PCMU, cn] }));
  assert.deepEqual(summary(a2), ['audio 30000 0 13 126 sendrecv']);
  assert.equal(a2.media[0].proto, 'RTP/AVPF');
  const n = negotiated(a2, chromeLike);
  assert.equal(n.codec.name, 'PCMU', 'comfort noise is never chosen as the voice codec');
  assert.equal(n.rtcpMux, true);
  assert.equal(n.remoteAddress, '192.168.1.5');
});

test('a stream whose RTCP would go to port 65536 or 0 is declined, not negotiated (fuzz: sdp)', () => {
  // RTP on 65535 without rtcp-mux or a=rtcp puts RTCP on 65536, which a socket cannot send to.
  const edge = aliceOffer(['m=audio 65535 RTP/AVP 0', 'm=audio 40000 RTP/AVP 0']);
  const answer = createAnswer(edge, bob());
  assert.deepEqual(summary(answer), ['audio 0 0', 'audio 30000 0 sendrecv']);
  assert.equal(negotiated(answer, edge).remotePort, 40000);
  assert.throws(() => createAnswer(aliceOffer(['m=audio 65535 RTP/AVP 0']), bob()), (e: unknown) => e instanceof SdpError && /65535 leaves no port for RTCP/.test(e.message) && e.warnCode === WarnCode.incompatibleTransport);
  assert.throws(() => createAnswer(aliceOffer(['m=audio 40000 RTP/AVP 0', 'a=rtcp:0']), bob()), (e: unknown) => e instanceof SdpError && /a=rtcp names port 0/.test(e.message));
  // As offerer: an answer on 65535 without mux cannot be used either.
  const offer = createOffer({ address: '192.0.2.1', port: 20000, codecs: [PCMU], sessionId: '1' });
  const badAnswer = parseSdp(sdp('v=0', 'o=b 1 1 IN IP4 192.0.2.9', 's=-', 'c=IN IP4 192.0.2.9', 't=0 0', 'm=audio 65535 RTP/AVP 0'));
  assert.throws(() => negotiated(offer, badAnswer), SdpError);
  // With rtcp-mux, or an a=rtcp port, 65535 is fine.
  const muxed = aliceOffer(['m=audio 65535 RTP/AVP 0', 'a=rtcp-mux']);
  assert.equal(negotiated(createAnswer(muxed, bob()), muxed).remoteRtcpPort, 65535);
  const explicit = aliceOffer(['m=audio 65535 RTP/AVP 0', 'a=rtcp:65534']);
  assert.equal(negotiated(createAnswer(explicit, bob()), explicit).remoteRtcpPort, 65534);
});
