/**
 * The codec registry: every CLI name makes a working codec of the right
 * shape, SDP specs follow RFC 3551 / RFC 7587, and a negotiated a=rtpmap
 * maps back to a codec regardless of case.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OpusCodec } from '../../src/media/codecs/opus.js';
import {
  CODEC_NAMES,
  codecForRtpmap,
  codecNameForRtpmap,
  createCodec,
  isCodecName,
  sdpSpec,
  type CodecName,
} from '../../src/media/codecs/registry.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { createOffer } from '../../src/sdp/negotiate.js';

const EXPECTED: Record<CodecName, { name: string; clockRate: number; sampleRate: number; samples20: number; payloadType?: number }> = {
  pcmu: { name: 'PCMU', clockRate: 8000, sampleRate: 8000, samples20: 160, payloadType: 0 },
  pcma: { name: 'PCMA', clockRate: 8000, sampleRate: 8000, samples20: 160, payloadType: 8 },
  g722: { name: 'G722', clockRate: 8000, sampleRate: 16000, samples20: 320, payloadType: 9 },
  opus: { name: 'opus', clockRate: 48000, sampleRate: 48000, samples20: 960 },
};

test('every registry name creates a fresh codec of the right shape that carries a tone', () => {
  assert.deepEqual([...CODEC_NAMES], ['pcmu', 'pcma', 'g722', 'opus']);
  for (const name of CODEC_NAMES) {
    const want = EXPECTED[name];
    const codec = createCodec(name);
    assert.notEqual(createCodec(name), codec, 'one instance per stream');
    assert.equal(codec.name, want.name, name);
    assert.equal(codec.clockRate, want.clockRate, name);
    assert.equal(codec.sampleRate, want.sampleRate, name);
    assert.equal(codec.channels, 1, name);
    assert.equal(codec.frameSamples(20), want.samples20, name);
    assert.equal(codec.payloadType, want.payloadType, name);

    const gen = new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, codec.sampleRate);
    const frame = new Int16Array(want.samples20);
    const pkt = new Uint8Array(1500);
    const heard = new Int16Array(want.samples20 * 25);
    const out = new Int16Array(want.samples20);
    for (let k = 0; k < 25; k++) {
      gen.fill(frame);
      assert.equal(codec.decode(pkt.subarray(0, codec.encode(frame, pkt)), out), want.samples20, name);
      heard.set(out, k * want.samples20);
    }
    assert.ok(tonePresence(heard.subarray(want.samples20 * 5), codec.sampleRate, 1000) === 1, name);
  }
});

test('createCodec passes Opus options through and rejects unknown names', () => {
  const opus = createCodec('opus', { sampleRate: 8000, bitrate: 16000, dtx: true });
  assert.ok(opus instanceof OpusCodec);
  assert.equal(opus.sampleRate, 8000);
  assert.equal(opus.clockRate, 48000, 'the RTP clock stays 48 kHz');
  assert.equal(opus.frameSamples(20), 160);
  assert.equal(opus.options.bitrate, 16000);
  assert.equal(createCodec('pcmu', { sampleRate: 16000 }).sampleRate, 8000, 'options other codecs cannot use are ignored');
  assert.throws(() => createCodec('gsm' as CodecName), RangeError);
  assert.throws(() => createCodec('toString' as CodecName), RangeError);
  assert.throws(() => sdpSpec('constructor' as CodecName), RangeError);
  assert.ok(isCodecName('g722'));
  assert.ok(!isCodecName('G722'), 'CLI names are lower case');
  assert.ok(!isCodecName('toString'));
});

test('sdpSpec: RFC 3551 static types for G.711 and G.722, opus/48000/2 with FEC for Opus (RFC 7587)', () => {
  assert.deepEqual(sdpSpec('pcmu'), { name: 'PCMU', clockRate: 8000, channels: 1, payloadType: 0 });
  assert.deepEqual(sdpSpec('pcma'), { name: 'PCMA', clockRate: 8000, channels: 1, payloadType: 8 });
  assert.deepEqual(sdpSpec('g722'), { name: 'G722', clockRate: 8000, channels: 1, payloadType: 9 });
  assert.deepEqual(sdpSpec('opus'), { name: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' });
  assert.deepEqual(sdpSpec('opus', { sampleRate: 16000, dtx: true }), {
    name: 'opus',
    clockRate: 48000,
    channels: 2,
    fmtp: 'maxplaybackrate=16000;sprop-maxcapturerate=16000;useinbandfec=1;usedtx=1',
  });
  assert.equal(sdpSpec('opus', { fec: false }).fmtp, undefined);

  // What an offer built from the specs says on the wire.
  const offer = createOffer({ address: '127.0.0.1', port: 4000, codecs: CODEC_NAMES.map((n) => sdpSpec(n)) });
  const attrs = offer.media[0].attributes.map((a) => `${a.name}:${a.value}`);
  assert.deepEqual(offer.media[0].formats.slice(0, 4), ['0', '8', '9', '96']);
  for (const line of ['rtpmap:0 PCMU/8000', 'rtpmap:8 PCMA/8000', 'rtpmap:9 G722/8000', 'rtpmap:96 opus/48000/2', 'fmtp:96 useinbandfec=1']) {
    assert.ok(attrs.includes(line), `${line} in ${attrs.join(' | ')}`);
  }
});

test('codecForRtpmap: case-insensitive encoding names, exact clock rates, unknown → undefined', () => {
  const cases: [string, number, number | undefined, CodecName | undefined][] = [
    ['PCMU', 8000, undefined, 'pcmu'],
    ['pcmu', 8000, 1, 'pcmu'],
    ['PcMa', 8000, undefined, 'pcma'],
    ['G722', 8000, 1, 'g722'],
    ['g722', 8000, undefined, 'g722'],
    ['opus', 48000, 2, 'opus'],
    ['OPUS', 48000, 2, 'opus'],
    ['opus', 48000, undefined, 'opus'],
    ['opus', 48000, 1, 'opus'],
    ['G722', 16000, undefined, undefined],
    ['PCMU', 16000, undefined, undefined],
    ['PCMU', 8000, 2, undefined],
    ['opus', 16000, 2, undefined],
    ['GSM', 8000, undefined, undefined],
    ['telephone-event', 8000, undefined, undefined],
    ['', 8000, undefined, undefined],
  ];
  for (const [name, rate, ch, want] of cases) {
    assert.equal(codecNameForRtpmap(name, rate, ch), want, `${name}/${rate}/${ch}`);
    const codec = codecForRtpmap(name, rate, ch);
    if (want === undefined) assert.equal(codec, undefined, `${name}/${rate}/${ch}`);
    else assert.equal(codec?.name, EXPECTED[want].name, `${name}/${rate}/${ch}`);
  }
  const narrow = codecForRtpmap('opus', 48000, 2, { sampleRate: 8000 });
  assert.equal(narrow?.sampleRate, 8000);
});
