/**
 * A WebRTC MediaSession against a werift peer playing the browser, over real
 * ICE + DTLS-SRTP on 127.0.0.1: audio both ways checked by tone frequency,
 * RFC 4733 digits, offerer and answerer roles, hold re-offers, and the
 * failures that must end the leg with everything released.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { concatFrames } from '../helpers/media.js';
import { BrowserPeer, type PeerCodec } from '../helpers/webrtc-peer.js';
import { MediaSession, type MediaSessionOptions } from '../../src/ua/media-session.js';
import type { WebRtcConfig } from '../../src/webrtc/index.js';
import { isWebRtcSdp } from '../../src/webrtc/index.js';
import type { CodecName } from '../../src/media/codecs/registry.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

interface Rig {
  offer?: string;
  session: MediaSession;
  peer: BrowserPeer;
  heard: { pcm: Int16Array[]; rate: number };
  failures: string[];
  counted: string[];
}

function options(codecs: CodecName[], webrtc: Partial<WebRtcConfig> = {}, counted: string[] = []): MediaSessionOptions & { webrtc: WebRtcConfig } {
  return {
    codecs,
    bindAddress: '127.0.0.1',
    source: { kind: 'tone', hz: 1000 },
    webrtc: { addresses: ['127.0.0.1'], connectTimeoutMs: 4000, counters: { failed: (r) => counted.push(r) }, ...webrtc },
  };
}

function listen(session: MediaSession): Pick<Rig, 'heard' | 'failures'> {
  const heard = { pcm: [] as Int16Array[], rate: 0 };
  const failures: string[] = [];
  session.on('frame', (pcm, rate) => {
    heard.pcm.push(pcm.slice());
    heard.rate = rate;
  });
  session.on('failed', (r) => failures.push(r));
  return { heard, failures };
}

/** The browser offers, we answer (the ua passes the offer to the factory). */
async function browserCalls(peerCodecs: PeerCodec[], ours: CodecName[] = ['opus', 'pcmu', 'pcma', 'g722']): Promise<Rig> {
  const peer = new BrowserPeer(peerCodecs);
  const offer = await peer.offer();
  assert.ok(isWebRtcSdp(offer));
  const counted: string[] = [];
  const session = await MediaSession.openWebRtc(options(ours, {}, counted), offer);
  const rig = { offer, session, peer, counted, ...listen(session) };
  const answer = session.createAnswer(offer, { hold: false });
  await peer.setAnswer(answer);
  return rig;
}

function connected(s: MediaSession): boolean {
  const w = s.webrtc;
  return !!w && w.dtls === 'connected' && (w.ice === 'connected' || w.ice === 'completed');
}

async function assertToneBothWays(rig: Rig): Promise<void> {
  assert.ok(await waitFor(() => connected(rig.session), 4000), `not connected: ${JSON.stringify(rig.session.webrtc)}`);
  // A second of audio each way after the jitter buffer filled.
  assert.ok(await waitFor(() => rig.peer.heard.length >= 60 && rig.session.stats().received.packets >= 60, 5000), `audio did not flow: peer ${rig.peer.heard.length}, ours ${rig.heard.pcm.length}`);
  const atPeer = concatFrames(rig.peer.heard.slice(10));
  assert.ok(tonePresence(atPeer, rig.peer.sampleRate, 1000) > 0.9, 'our 1 kHz tone did not reach the browser side');
  assert.ok(tonePresence(atPeer, rig.peer.sampleRate, 440) < 0.1);
  const atUs = concatFrames(rig.heard.pcm.slice(-40));
  const p = tonePresence(atUs, rig.heard.rate, 440);
  const st = rig.session.stats();
  assert.ok(p > 0.9, `the browser side tone did not reach our frames: ${p} (${rig.heard.pcm.length} frames, concealed ${st.concealed}, late ${st.late}, lost ${st.lost})`);
  assert.ok(tonePresence(atUs, rig.heard.rate, 1000) < 0.1);
}

async function closeRig(rig: Rig): Promise<void> {
  await rig.session.close();
  await rig.peer.close();
}

test('browser offers Opus: we answer with host candidates only on 127.0.0.1, and the tones cross both ways', { timeout: 15000 }, async () => {
  const rig = await browserCalls(['opus', 'pcmu']);
  try {
    const answer = rig.peer.pc.remoteDescription?.sdp ?? '';
    const candidates = answer.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
    assert.ok(candidates.length >= 1);
    for (const c of candidates) assert.equal(c.split(' ')[4], '127.0.0.1', c);
    assert.match(answer, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111 /m);
    assert.match(answer, /^a=rtcp-mux/m);
    assert.match(answer, /^a=group:BUNDLE /m);
    assert.equal(rig.session.info?.codec.toLowerCase(), 'opus');
    await assertToneBothWays(rig);
    const st = rig.session.webrtc;
    assert.equal(st?.codec, 'opus/48000');
    assert.match(st?.selectedPair?.local ?? '', /^127\.0\.0\.1:\d+$/);
    assert.match(st?.selectedPair?.remote ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(rig.session.stats().dropped.total, 0, JSON.stringify(rig.session.stats().dropped));
    assert.deepEqual(rig.failures, []);
  } finally {
    await closeRig(rig);
  }
});

test('a PCMU-only browser offer is answered with PCMU and audio crosses', { timeout: 15000 }, async () => {
  const rig = await browserCalls(['pcmu']);
  try {
    assert.equal(rig.session.info?.codec, 'PCMU');
    assert.equal(rig.session.info?.payloadType, 0);
    await assertToneBothWays(rig);
  } finally {
    await closeRig(rig);
  }
});

test('we offer (a call to a browser): the werift peer answers and audio crosses', { timeout: 15000 }, async () => {
  const session = await MediaSession.openWebRtc(options(['opus', 'pcmu']));
  const peer = new BrowserPeer(['opus', 'pcmu']);
  const rig: Rig = { session, peer, counted: [], ...listen(session) };
  try {
    const offer = session.createOffer({ hold: false });
    assert.ok(isWebRtcSdp(offer));
    // Only telephone-event/8000: Chromium sends its keys at 8000 even beside Opus.
    assert.doesNotMatch(offer, /telephone-event\/48000/);
    assert.match(offer, /^a=rtpmap:101 telephone-event\/8000/m);
    assert.match(offer, /^a=setup:actpass/m);
    const answer = await peer.answer(offer);
    session.setAnswer(answer);
    await assertToneBothWays(rig);
    assert.equal(session.info?.codec.toLowerCase(), 'opus');
  } finally {
    await closeRig(rig);
  }
});

test('RFC 4733 digits we send reach the browser with the negotiated telephone-event payload type', { timeout: 15000 }, async () => {
  const rig = await browserCalls(['opus']);
  try {
    assert.ok(await waitFor(() => connected(rig.session), 4000));
    assert.ok(rig.session.info?.telephoneEvent);
    rig.session.sendDigits('5#');
    const ends = (): string[] => [...new Set(rig.peer.events.filter((e) => e.end).map((e) => `${e.pt}:${e.event}`))];
    assert.ok(await waitFor(() => ends().length >= 2, 3000), `digits did not arrive: ${JSON.stringify(ends())}`);
    await sleep(100);
    // The browser offered events at 48000 (110) and 8000 (101), as Chromium does; the 8000 ones are what it sends.
    assert.deepEqual(ends(), ['101:5', '101:11']);
    // Audio went on under the negotiated Opus PT alongside.
    assert.ok((rig.peer.ptsReceived.get(111) ?? 0) > 0);
  } finally {
    await closeRig(rig);
  }
});

test('a hold re-offer is answered at once with the matching direction, and we stop sending', { timeout: 15000 }, async () => {
  const rig = await browserCalls(['opus']);
  try {
    assert.ok(await waitFor(() => connected(rig.session), 4000));
    const offer = rig.offer ?? '';
    const first = rig.peer.pc.remoteDescription?.sdp ?? '';
    const v1 = Number(/^o=\S+ \S+ (\d+)/m.exec(first)?.[1]);
    const hold = offer.replace(/^a=sendrecv/m, 'a=sendonly').replace(/^(o=\S+ \S+ )(\d+)/m, (_m, a: string, v: string) => `${a}${Number(v) + 1}`);
    const answer = rig.session.createAnswer(hold, { hold: false });
    assert.match(answer, /^a=recvonly\r?$/m);
    assert.doesNotMatch(answer, /^a=sendrecv/m);
    assert.equal(Number(/^o=\S+ \S+ (\d+)/m.exec(answer)?.[1]), v1 + 1);
    assert.equal(rig.session.remoteHold, true);
    // Same ICE and DTLS as before: the candidates and fingerprint did not change.
    assert.equal(/^a=ice-ufrag:(\S+)/m.exec(answer)?.[1], /^a=ice-ufrag:(\S+)/m.exec(first)?.[1]);
    await sleep(200);
    const sent = rig.session.stats().sent.packets;
    await sleep(400);
    assert.equal(rig.session.stats().sent.packets, sent, 'still sending while held');
    const resume = rig.session.createAnswer(offer.replace(/^(o=\S+ \S+ )(\d+)/m, (_m, a: string, v: string) => `${a}${Number(v) + 2}`), { hold: false });
    assert.match(resume, /^a=sendrecv\r?$/m);
    assert.equal(rig.session.remoteHold, false);
    await sleep(300);
    assert.ok(rig.session.stats().sent.packets > sent, 'did not resume sending');
    // Our own hold offer: sendonly, answered recvonly by the browser.
    const ours = rig.session.createOffer({ hold: true });
    assert.match(ours, /^a=sendonly\r?$/m);
    rig.session.setAnswer(ours.replace(/^a=sendonly/m, 'a=recvonly'));
    assert.equal(rig.session.info?.direction, 'sendonly');
  } finally {
    await closeRig(rig);
  }
});

test('a wrong a=fingerprint in the offer fails the leg (fingerprint-mismatch) and close frees it', { timeout: 15000 }, async () => {
  const peer = new BrowserPeer(['opus']);
  const offer = (await peer.offer()).replace(/^(a=fingerprint:sha-256 )(\S+)/m, (_m, a: string, fp: string) => a + fp.replace(/^../, fp.startsWith('00') ? '11' : '00'));
  const counted: string[] = [];
  const session = await MediaSession.openWebRtc(options(['opus'], {}, counted), offer);
  const rig: Rig = { session, peer, counted, ...listen(session) };
  try {
    await peer.setAnswer(session.createAnswer(offer, { hold: false }));
    assert.ok(await waitFor(() => rig.failures.length > 0, 5000), `no failure: ${JSON.stringify(session.webrtc)}`);
    assert.deepEqual(rig.failures, ['fingerprint-mismatch']);
    assert.deepEqual(counted, ['fingerprint-mismatch']);
    assert.equal(rig.heard.pcm.length === 0 || tonePresence(concatFrames(rig.heard.pcm), rig.heard.rate, 440) === 0, true);
  } finally {
    await closeRig(rig);
  }
});

test('the browser vanishing mid-call fails the leg (consent lost) and close releases everything', { timeout: 15000 }, async () => {
  const peer = new BrowserPeer(['opus']);
  const offer = await peer.offer();
  const counted: string[] = [];
  const session = await MediaSession.openWebRtc(options(['opus'], { consentTimeoutMs: 2000 }, counted), offer);
  const rig: Rig = { session, peer, counted, ...listen(session) };
  await peer.setAnswer(session.createAnswer(offer, { hold: false }));
  assert.ok(await waitFor(() => connected(session), 4000));
  assert.ok(await waitFor(() => rig.heard.pcm.length > 10, 3000));
  const before = process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
  await peer.close();
  assert.ok(await waitFor(() => rig.failures.length > 0, 6000), 'no failure after the peer vanished');
  assert.deepEqual(rig.failures, ['consent-lost']);
  assert.deepEqual(counted, ['consent-lost']);
  await session.close();
  await sleep(100);
  const after = process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
  assert.ok(before >= 2, `expected sockets of both sides open before, got ${before}`);
  assert.equal(after, 0, `UDP handles left: ${process.getActiveResourcesInfo().join(',')}`);
});

test('a browser that never starts ICE fails the leg at connectTimeoutMs', { timeout: 15000 }, async () => {
  const peer = new BrowserPeer(['opus']);
  const offer = await peer.offer();
  await peer.close();
  const counted: string[] = [];
  const session = await MediaSession.openWebRtc(options(['opus'], { connectTimeoutMs: 1500 }, counted), offer);
  const { failures } = listen(session);
  session.createAnswer(offer, { hold: false });
  assert.ok(await waitFor(() => failures.length > 0, 5000));
  assert.ok(['connect-timeout', 'ice-failed'].includes(failures[0]), failures[0]);
  await session.close();
  await sleep(100);
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length, 0);
});
