/** The SDP facts a WebRTC leg relies on: recognising browser SDP, and re-offer edits that keep ICE/DTLS. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { effectiveDirection, negotiated, parseSdp } from '../../src/sdp/index.js';
import { fingerprintsOf, iceUfragOf, isWebRtcSdp, originVersionOf, webRtcSdpProblem, withDirection } from '../../src/webrtc/index.js';

const CHROME_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS 3f1a',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  'c=IN IP4 0.0.0.0',
  'a=rtcp:9 IN IP4 0.0.0.0',
  'a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 network-id 1',
  'a=ice-ufrag:Ab12',
  'a=ice-pwd:0123456789abcdef012345',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99',
  'a=setup:actpass',
  'a=mid:0',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=sendrecv',
  'a=msid:3f1a 9c0e',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=rtpmap:63 red/48000/2',
  'a=fmtp:63 111/111',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:13 CN/8000',
  'a=rtpmap:110 telephone-event/48000',
  'a=rtpmap:126 telephone-event/8000',
  'a=ssrc:3735928559 cname:x',
  '',
].join('\r\n');

test('webRtcSdpProblem names what a browser description lacks for our leg, and passes a Chrome offer', () => {
  assert.equal(webRtcSdpProblem(CHROME_OFFER, ['opus', 'pcmu']), undefined);
  assert.equal(webRtcSdpProblem(CHROME_OFFER.replace(/^a=ice-pwd:.*\r\n/m, ''), ['opus']), 'no a=ice-pwd');
  assert.equal(webRtcSdpProblem(CHROME_OFFER.replace(/^a=ice-(ufrag|pwd):.*\r\n/gm, '').replace(/^a=fingerprint:.*\r\n/m, '')), 'no a=ice-ufrag, a=ice-pwd, a=fingerprint');
  const iLbcOnly = CHROME_OFFER.replace(/^m=audio (\d+) (\S+) .*$/m, 'm=audio $1 $2 97').replace(/^a=rtpmap:\d+ .*\r\n/gm, '').replace(/^(m=audio.*\r\n)/m, '$1a=rtpmap:97 iLBC/8000\r\n');
  assert.match(webRtcSdpProblem(iLbcOnly, ['opus', 'pcmu']) ?? '', /^no codec in common/);
  // Without codecs only the transport is checked.
  assert.equal(webRtcSdpProblem(iLbcOnly), undefined);
});

test('isWebRtcSdp tells a browser offer from a SIP phone offer', () => {
  assert.equal(isWebRtcSdp(CHROME_OFFER), true);
  assert.equal(isWebRtcSdp('v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n'), false);
  assert.equal(isWebRtcSdp('v=0\r\nm=audio 4000 RTP/SAVPF 0\r\na=ice-ufrag:x\r\na=fingerprint:sha-256 AA\r\n'), true);
  assert.equal(iceUfragOf(CHROME_OFFER), 'Ab12');
  assert.equal(fingerprintsOf(CHROME_OFFER)[0].algorithm, 'sha-256');
});

test('a Chrome offer parses and negotiates: DTLS needs no a=crypto, c=0.0.0.0 with ICE is not hold', () => {
  const offer = parseSdp(CHROME_OFFER);
  assert.equal(effectiveDirection(offer, offer.media[0]), 'sendrecv');
  const answer = parseSdp(CHROME_OFFER.replace('a=setup:actpass', 'a=setup:active').replace(/ 111 63 9 0 8 13 110 126/, ' 111 110'));
  const n = negotiated(answer, offer);
  assert.equal(n.codec.name, 'opus');
  assert.equal(n.telephoneEvent, 110);
  assert.equal(n.direction, 'sendrecv');
  assert.equal(n.crypto, undefined);
  // A plain RTP offer on 0.0.0.0 is still the RFC 2543 hold.
  const old = parseSdp('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n');
  assert.equal(effectiveDirection(old, old.media[0]), 'sendonly');
});

test('withDirection replaces the media direction, drops a session one, adds one where none was, and raises o=', () => {
  const held = withDirection(CHROME_OFFER, 'sendonly', 3);
  assert.equal(originVersionOf(held), 3);
  assert.deepEqual(held.split('\r\n').filter((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l)), ['a=sendonly']);
  assert.ok(held.endsWith('\r\n'));
  // Everything else is untouched: ICE and DTLS carry on.
  assert.equal(held.replace('a=sendonly', 'a=sendrecv').replace(/^(o=\S+ \S+ )3/m, '$12'), CHROME_OFFER);
  const none = CHROME_OFFER.replace('a=sendrecv\r\n', '');
  const withSession = none.replace('t=0 0\r\n', 't=0 0\r\na=inactive\r\n');
  for (const sdp of [none, withSession]) {
    const out = withDirection(sdp, 'recvonly', 9);
    const parsed = parseSdp(out);
    assert.equal(effectiveDirection(parsed, parsed.media[0]), 'recvonly');
    assert.equal(out.match(/^a=(sendrecv|sendonly|recvonly|inactive)/gm)?.length, 1);
  }
});
