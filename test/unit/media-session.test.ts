/**
 * MediaSession: SDP offer/answer applied to a media endpoint. Two sessions
 * talk over real UDP on loopback with their frame timers on one
 * VirtualClock (as in media-endpoint.test.ts): each 20 ms step waits only
 * until what was sent has arrived, so nothing sleeps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CodecName } from '../../src/media/codecs/registry.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import type { AudioSourceSpec } from '../../src/media/players/index.js';
import { SdpError, WarnCode } from '../../src/sdp/errors.js';
import { MediaSession, type MediaInfo } from '../../src/ua/media-session.js';
import { VirtualClock } from '../../src/util/clock.js';
import { concatFrames, runFrames, sentDatagrams } from '../helpers/media.js';

/** What one side heard, frame by frame, with the rate its frame event reported. */
class Ear {
  private frames: Int16Array[] = [];
  rates = new Set<number>();

  constructor(s: MediaSession) {
    s.on('frame', (pcm, rate) => {
      this.frames.push(pcm.slice());
      this.rates.add(rate);
    });
  }

  /** Forget what was heard so far (to judge only what comes next). */
  clear(): void {
    this.frames = [];
  }

  /** What was heard since the last clear, skipping the first `skip` frames (jitter-buffer fill, codec delay). */
  samples(skip = 0): Int16Array {
    return concatFrames(this.frames.slice(skip));
  }
}

interface Side {
  s: MediaSession;
  ear: Ear;
  negotiated: MediaInfo[];
}

interface Pair {
  clock: VirtualClock;
  a: Side;
  b: Side;
  run(ms: number): Promise<void>;
  /** A offers, B answers, A applies the answer. */
  offerAnswer(opts?: { aHold?: boolean; bHold?: boolean }): { offer: string; answer: string };
  /** B offers, A answers, B applies the answer. */
  reverseOfferAnswer(opts?: { aHold?: boolean; bHold?: boolean }): void;
  close(): Promise<void>;
}

const tone = (hz: number): AudioSourceSpec => ({ kind: 'tone', hz });

async function side(clock: VirtualClock, codecs: CodecName[], source: AudioSourceSpec | undefined, bindAddress = '127.0.0.1'): Promise<Side> {
  const s = await MediaSession.open({ codecs, bindAddress, clock, source });
  const negotiated: MediaInfo[] = [];
  s.on('negotiated', (info) => negotiated.push(info));
  return { s, ear: new Ear(s), negotiated };
}

async function pair(
  aCodecs: CodecName[],
  bCodecs: CodecName[],
  aSource: AudioSourceSpec | undefined = tone(1000),
  bSource: AudioSourceSpec | undefined = tone(400),
  bindAddress = '127.0.0.1',
): Promise<Pair> {
  const clock = new VirtualClock();
  const a = await side(clock, aCodecs, aSource, bindAddress);
  const b = await side(clock, bCodecs, bSource, bindAddress);
  const delivered = (): boolean =>
    a.s.stats().received.datagrams >= sentDatagrams(b.s.stats()) && b.s.stats().received.datagrams >= sentDatagrams(a.s.stats());
  return {
    clock,
    a,
    b,
    run: (ms) => runFrames(clock, ms, delivered),
    offerAnswer(opts = {}) {
      const offer = a.s.createOffer({ hold: opts.aHold ?? false });
      const answer = b.s.createAnswer(offer, { hold: opts.bHold ?? false });
      a.s.setAnswer(answer);
      return { offer, answer };
    },
    reverseOfferAnswer(opts = {}) {
      const offer = b.s.createOffer({ hold: opts.bHold ?? false });
      b.s.setAnswer(a.s.createAnswer(offer, { hold: opts.aHold ?? false }));
    },
    async close() {
      await a.s.endpoint.close();
      await b.s.endpoint.close();
      await a.s.close();
      await b.s.close();
    },
  };
}

const rtpSent = (s: MediaSession): number => s.stats().sent.packets;

test('offer opus,pcmu against pcmu only: both sides settle on PCMU and hear each other', async () => {
  const p = await pair(['opus', 'pcmu'], ['pcmu']);
  try {
    const { offer } = p.offerAnswer();
    assert.match(offer, /^m=audio \d+ RTP\/AVP 96 0 /m, 'opus first, as preferred');
    assert.equal(p.a.negotiated.length, 1);
    assert.equal(p.b.negotiated.length, 1);
    for (const [me, other] of [
      [p.a, p.b],
      [p.b, p.a],
    ] as const) {
      const info = me.negotiated[0];
      assert.equal(info.codec, 'PCMU');
      assert.equal(info.clockRate, 8000);
      assert.equal(info.sampleRate, 8000);
      assert.equal(info.payloadType, 0);
      assert.equal(info.direction, 'sendrecv');
      assert.equal(info.telephoneEvent, true);
      assert.equal(info.remote, `127.0.0.1:${other.s.localPort}`);
      assert.deepEqual(me.s.info, info);
    }

    await p.run(1000);
    const atB = p.b.ear.samples(5);
    const atA = p.a.ear.samples(5);
    assert.ok(atB.length >= 160 * 40, `B heard ${atB.length / 160} frames`);
    assert.ok(tonePresence(atB, 8000, 1000) >= 0.9, `A's 1 kHz at B: ${tonePresence(atB, 8000, 1000)}`);
    assert.ok(tonePresence(atA, 8000, 400) >= 0.9, `B's 400 Hz at A: ${tonePresence(atA, 8000, 400)}`);
    assert.equal(tonePresence(atA, 8000, 1000), 0, 'A does not hear itself');
    assert.deepEqual([...p.a.ear.rates], [8000]);
    assert.equal(rtpSent(p.a.s), 50);
    assert.equal(p.b.s.stats().received.packets, 50);
  } finally {
    await p.close();
  }
});

test('the answerer keeps the offer order: pcma,pcmu offered to pcmu,pcma gives PCMA', async () => {
  const p = await pair(['pcma', 'pcmu'], ['pcmu', 'pcma']);
  try {
    p.offerAnswer();
    assert.equal(p.a.s.info?.codec, 'PCMA');
    assert.equal(p.b.s.info?.codec, 'PCMA');
    await p.run(400);
    assert.ok(tonePresence(p.b.ear.samples(5), 8000, 1000) >= 0.9);
  } finally {
    await p.close();
  }
});

for (const [codec, name, rate] of [
  ['g722', 'G722', 16000],
  ['opus', 'opus', 48000],
] as const) {
  test(`${name}: negotiated, frames at ${rate} Hz, tones both ways`, async () => {
    const p = await pair([codec], [codec], tone(1000), tone(600));
    try {
      p.offerAnswer();
      assert.equal(p.a.s.info?.codec, name);
      assert.equal(p.a.s.info?.sampleRate, rate);
      assert.equal(p.b.s.info?.sampleRate, rate);
      await p.run(1000);
      assert.deepEqual([...p.a.ear.rates], [rate]);
      assert.deepEqual([...p.b.ear.rates], [rate]);
      const atB = p.b.ear.samples(10);
      const atA = p.a.ear.samples(10);
      assert.equal(atB.length % (rate / 50), 0, 'whole 20 ms frames');
      assert.ok(atB.length >= (rate / 50) * 35, `B heard ${atB.length / (rate / 50)} frames`);
      assert.ok(tonePresence(atB, rate, 1000) >= 0.9, `1 kHz at B: ${tonePresence(atB, rate, 1000)}`);
      assert.ok(tonePresence(atA, rate, 600) >= 0.9, `600 Hz at A: ${tonePresence(atA, rate, 600)}`);
    } finally {
      await p.close();
    }
  });
}

test('hold: A goes sendonly, B is held (recvonly) and stops sending; A keeps sending; resume restores both ways', async () => {
  const p = await pair(['pcmu'], ['pcmu']);
  try {
    p.offerAnswer();
    await p.run(200);
    assert.equal(p.b.s.remoteHold, false);

    const { offer, answer } = p.offerAnswer({ aHold: true });
    assert.match(offer, /^a=sendonly$/m);
    assert.match(answer, /^a=recvonly$/m);
    assert.equal(p.b.s.remoteHold, true, 'B learns it is held');
    assert.equal(p.a.s.remoteHold, false);
    assert.equal(p.a.s.info?.direction, 'sendonly');
    assert.equal(p.b.s.info?.direction, 'recvonly');
    assert.equal(p.a.negotiated.length, 2, 'onNegotiated again after the re-offer');

    const a0 = rtpSent(p.a.s);
    const b0 = rtpSent(p.b.s);
    p.b.ear.clear();
    await p.run(500);
    assert.equal(rtpSent(p.a.s) - a0, 25, 'A (holding) still sends: music on hold');
    assert.equal(rtpSent(p.b.s) - b0, 0, 'B (held) sends nothing');
    assert.ok(tonePresence(p.b.ear.samples(), 8000, 1000) >= 0.9, 'B hears what A plays while held');

    p.offerAnswer({ aHold: false });
    assert.equal(p.b.s.remoteHold, false);
    assert.equal(p.a.s.info?.direction, 'sendrecv');
    assert.equal(p.b.s.info?.direction, 'sendrecv');
    const b1 = rtpSent(p.b.s);
    p.a.ear.clear();
    await p.run(500);
    assert.equal(rtpSent(p.b.s) - b1, 25, 'B sends again after resume');
    assert.ok(tonePresence(p.a.ear.samples(5), 8000, 400) >= 0.9, 'A hears B again');
  } finally {
    await p.close();
  }
});

test('both hold, then one resumes: the one still holding goes back to sendonly and sends', async () => {
  const p = await pair(['pcmu'], ['pcmu']);
  try {
    p.offerAnswer();
    // B holds A.
    p.reverseOfferAnswer({ bHold: true });
    assert.equal(p.b.s.info?.direction, 'sendonly');
    assert.equal(p.a.s.remoteHold, true);
    // A holds B too: A already held, so it offers inactive; B (holding) answers inactive.
    const { offer } = p.offerAnswer({ aHold: true, bHold: true });
    assert.match(offer, /^a=inactive$/m);
    assert.equal(p.a.s.info?.direction, 'inactive');
    assert.equal(p.b.s.info?.direction, 'inactive');
    const b0 = rtpSent(p.b.s);
    await p.run(200);
    assert.equal(rtpSent(p.b.s), b0, 'inactive: B sends nothing');

    // A takes its hold off; B still holds, so B plays to A again (sendonly) and A only listens.
    const { answer } = p.offerAnswer({ aHold: false, bHold: true });
    assert.match(answer, /^a=sendonly$/m);
    assert.equal(p.b.s.info?.direction, 'sendonly');
    assert.equal(p.a.s.info?.direction, 'recvonly');
    assert.equal(p.a.s.remoteHold, true);
    const a1 = rtpSent(p.a.s);
    const b1 = rtpSent(p.b.s);
    p.a.ear.clear();
    await p.run(400);
    assert.equal(rtpSent(p.b.s) - b1, 20, 'B sends music on hold again');
    assert.equal(rtpSent(p.a.s), a1, 'A, still held, sends nothing');
    assert.ok(tonePresence(p.a.ear.samples(5), 8000, 400) >= 0.9);
  } finally {
    await p.close();
  }
});

test('play() while held changes the source without starting to send', async () => {
  const p = await pair(['pcmu'], ['pcmu']);
  try {
    p.offerAnswer({ aHold: true });
    assert.equal(p.b.s.info?.direction, 'recvonly');
    p.b.s.play(tone(800));
    const b0 = rtpSent(p.b.s);
    await p.run(200);
    assert.equal(rtpSent(p.b.s), b0, 'still held: nothing sent');

    // After resume the new source is what A hears.
    p.offerAnswer();
    p.a.ear.clear();
    await p.run(400);
    const atA = p.a.ear.samples(5);
    assert.ok(tonePresence(atA, 8000, 800) >= 0.9, `800 Hz at A: ${tonePresence(atA, 8000, 800)}`);
    assert.equal(tonePresence(atA, 8000, 400), 0);
  } finally {
    await p.close();
  }
});

test('play() during a call switches what the other side hears at the next frame', async () => {
  const p = await pair(['pcmu'], ['pcmu']);
  try {
    p.offerAnswer();
    await p.run(200);
    p.a.s.play({ kind: 'silence' });
    const a0 = rtpSent(p.a.s);
    await p.run(200);
    assert.equal(rtpSent(p.a.s), a0, 'silence sends no packets');
    p.a.s.play(tone(1500));
    p.b.ear.clear();
    await p.run(400);
    assert.ok(tonePresence(p.b.ear.samples(5), 8000, 1500) >= 0.9);
  } finally {
    await p.close();
  }
});

test('a session refresh (re-INVITE changing nothing) does not restart the file being played', async () => {
  // 300 ms of 500 Hz, then 1 kHz: a restart would bring the 500 Hz back.
  const samples = new Int16Array(8000 * 2);
  new ToneGenerator({ freqs: [500], levelDbfs: -10 }, 8000).fill(samples.subarray(0, 2400));
  new ToneGenerator({ freqs: [1000], levelDbfs: -10 }, 8000).fill(samples.subarray(2400));
  const file: AudioSourceSpec = { kind: 'wav', path: 'prompt.wav', audio: { sampleRate: 8000, channels: 1, samples } };
  const p = await pair(['pcmu'], ['pcmu'], file, undefined);
  try {
    p.offerAnswer();
    await p.run(200);
    assert.ok(tonePresence(p.b.ear.samples(5), 8000, 500) >= 0.9, 'the prompt starts with 500 Hz');
    await p.run(300);
    p.offerAnswer();
    p.reverseOfferAnswer();
    p.b.ear.clear();
    await p.run(400);
    const after = p.b.ear.samples();
    assert.equal(tonePresence(after, 8000, 500), 0, 'the file went on, not back to its start');
    assert.ok(tonePresence(after, 8000, 1000) >= 0.9);
    assert.equal(rtpSent(p.a.s), 45, 'one packet per 20 ms throughout');
  } finally {
    await p.close();
  }
});

/** B answers A's offer edited to ask for `ptime` ms packets. */
async function answerPtime(codec: CodecName, ptime: string): Promise<{ sent: number; heard: number }> {
  const p = await pair([codec], [codec], tone(1000), tone(600));
  try {
    const offer = p.a.s.createOffer({ hold: false }).replace('a=ptime:20', `a=ptime:${ptime}`);
    p.a.s.setAnswer(p.b.s.createAnswer(offer, { hold: false }));
    await p.run(600);
    const rate = p.a.s.info?.sampleRate ?? 0;
    return { sent: rtpSent(p.b.s), heard: tonePresence(p.a.ear.samples(10), rate, 600) };
  } finally {
    await p.close();
  }
}

test("the peer's a=ptime is honoured when it is a usual packet size", async () => {
  assert.equal((await answerPtime('pcmu', '30')).sent, 20, '600 ms in 30 ms packets');
  assert.equal((await answerPtime('pcmu', '60')).sent, 10);
  assert.equal((await answerPtime('opus', '40')).sent, 15);
});

test('an a=ptime our codec cannot send (Opus 25/30 ms, PCMU 200 ms, 0.1 ms) falls back to 20 ms instead of failing', async () => {
  for (const [codec, ptime] of [
    ['opus', '25'],
    ['opus', '30'],
    ['pcmu', '200'],
    ['pcmu', '0.1'],
    ['g722', '7'],
  ] as const) {
    const r = await answerPtime(codec, ptime);
    assert.equal(r.sent, 30, `${codec} ptime ${ptime}: 600 ms in 20 ms packets`);
    assert.ok(r.heard >= 0.9, `${codec} ptime ${ptime}: A hears B (${r.heard})`);
  }
});

test('RFC 4733 digits from A reach B', async () => {
  const p = await pair(['pcmu'], ['pcmu']);
  try {
    p.offerAnswer();
    const heard: string[] = [];
    p.b.s.on('digit', (ev) => heard.push(ev.digit));
    p.a.s.sendDigits('1#');
    await p.run(2000);
    assert.deepEqual(heard, ['1', '#']);
  } finally {
    await p.close();
  }
});

test('a garbage offer or answer throws SdpError; no common codec is warn-code 305', async () => {
  const p = await pair(['opus'], ['pcmu']);
  try {
    assert.throws(() => p.b.s.createAnswer('garbage', { hold: false }), (e: unknown) => e instanceof SdpError && typeof e.warnCode === 'number');
    const offer = p.a.s.createOffer({ hold: false });
    assert.throws(
      () => p.b.s.createAnswer(offer, { hold: false }),
      (e: unknown) => e instanceof SdpError && e.warnCode === WarnCode.incompatibleMediaFormat && e.warnCode === 305 && /codec/.test(e.message),
    );
    assert.throws(() => p.a.s.setAnswer('v=0\r\nnot sdp\r\n'), SdpError);
    assert.equal(p.a.s.info, undefined, 'nothing applied');
    assert.equal(p.b.s.info, undefined);
    assert.equal(p.a.negotiated.length + p.b.negotiated.length, 0);
  } finally {
    await p.close();
  }
});

test('setAnswer before any offer is a programming error', async () => {
  const clock = new VirtualClock();
  const s = await side(clock, ['pcmu'], undefined);
  try {
    assert.throws(() => s.s.setAnswer('v=0\r\n'), /without an offer/);
  } finally {
    await s.s.endpoint.close();
  }
});

test('advertiseAddress/advertisePort go into c= and m= (a NAT mapping learnt by STUN)', async () => {
  const clock = new VirtualClock();
  const s = await MediaSession.open({ codecs: ['pcmu'], bindAddress: '127.0.0.1', clock, advertiseAddress: '192.0.2.10', advertisePort: 40000 });
  const plain = await MediaSession.open({ codecs: ['pcmu'], bindAddress: '127.0.0.1', clock });
  try {
    const offer = s.createOffer({ hold: false });
    assert.match(offer, /^c=IN IP4 192\.0\.2\.10$/m);
    assert.match(offer, /^m=audio 40000 RTP\/AVP 0 101$/m);
    assert.doesNotMatch(offer, /127\.0\.0\.1/);
    assert.doesNotMatch(offer, new RegExp(`m=audio ${s.localPort} `));
    // As answerer too.
    const answer = s.createAnswer(plain.createOffer({ hold: false }), { hold: false });
    assert.match(answer, /^c=IN IP4 192\.0\.2\.10$/m);
    assert.match(answer, /^m=audio 40000 /m);
    // Without them: the bound address and port.
    const own = plain.createOffer({ hold: false });
    assert.match(own, /^c=IN IP4 127\.0\.0\.1$/m);
    assert.match(own, new RegExp(`^m=audio ${plain.localPort} `, 'm'));
  } finally {
    await s.endpoint.close();
    await plain.endpoint.close();
  }
});

test('every new description carries a higher o= session version (RFC 3264 §8)', async () => {
  const p = await pair(['pcmu'], ['pcmu']);
  try {
    const version = (sdp: string): bigint => BigInt(/^o=\S+ \S+ (\d+) /m.exec(sdp)?.[1] ?? '-1');
    const o1 = p.offerAnswer().offer;
    const o2 = p.offerAnswer({ aHold: true }).offer;
    const o3 = p.offerAnswer().offer;
    assert.ok(version(o1) < version(o2) && version(o2) < version(o3), `${version(o1)} ${version(o2)} ${version(o3)}`);
    assert.equal(/^o=\S+ (\d+) /m.exec(o1)?.[1], /^o=\S+ (\d+) /m.exec(o3)?.[1], 'same session id');
  } finally {
    await p.close();
  }
});

test('IPv6: a session on ::1 offers c=IN IP6 and carries a tone', async () => {
  const p = await pair(['pcmu'], ['pcmu'], tone(1000), tone(400), '::1');
  try {
    const { offer } = p.offerAnswer();
    assert.match(offer, /^c=IN IP6 ::1$/m);
    await p.run(400);
    assert.ok(tonePresence(p.b.ear.samples(5), 8000, 1000) >= 0.9);
  } finally {
    await p.close();
  }
});

test('without RFC 4733 on either side, keys played as tones over G.711 are heard in-band', async () => {
  // '5' (770+1336 Hz) and '9' (852+1477 Hz), 120 ms each with 120 ms gaps, as a phone's keypad plays them.
  const rate = 8000;
  const keys: [string, number[]][] = [['5', [770, 1336]], ['9', [852, 1477]]];
  const samples = new Int16Array(rate);
  let at = rate / 10;
  for (const [, freqs] of keys) {
    const burst = new Int16Array((rate * 120) / 1000);
    new ToneGenerator({ freqs, levelDbfs: -12 }, rate).fill(burst);
    samples.set(burst, at);
    at += burst.length * 2;
  }
  const clock = new VirtualClock();
  const a = await MediaSession.open({ codecs: ['pcma'], bindAddress: '127.0.0.1', clock, telephoneEvent: false, source: { kind: 'wav', path: 'keys', audio: { sampleRate: rate, channels: 1, samples } } });
  const b = await MediaSession.open({ codecs: ['pcma'], bindAddress: '127.0.0.1', clock, telephoneEvent: false });
  try {
    const heard: string[] = [];
    b.on('digit', (ev) => heard.push(`${ev.digit}:${ev.source}`));
    a.setAnswer(b.createAnswer(a.createOffer({ hold: false }), { hold: false }));
    const delivered = (): boolean => b.stats().received.datagrams >= sentDatagrams(a.stats());
    await runFrames(clock, 1500, delivered);
    assert.deepEqual(heard, ['5:inband', '9:inband']);
  } finally {
    await a.close();
    await b.close();
  }
});
