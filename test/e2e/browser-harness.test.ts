/**
 * The browser harness itself, before any Switchboard code is in the path:
 * headless Debian Chromium's fake microphone plays our WAV tone (not
 * Chromium's own beep), WebRTC connects on loopback only, and the recorder
 * of test/helpers/browser.ts hears the tone that arrives and tells it from
 * another frequency. If these fail, every browser test would fail for a
 * reason that is not ours.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isLoopbackPair, launchBrowser, pageAnswer, pageOffer, remoteTone, requireBrowser, selectedPair, serveHtml, toneIn, type StaticServer, type TestBrowser } from '../helpers/browser.js';
import { writeWavFile } from '../../src/media/wav.js';
import { echoAnswer, type EchoPeer } from '../helpers/werift-peer.js';

const skip = requireBrowser();

describe('browser harness: Chromium fake microphone, loopback WebRTC, tone detection', { skip, timeout: 120_000 }, () => {
  let site: StaticServer;
  before(async () => {
    site = await serveHtml();
  });
  after(async () => {
    await site?.close();
  });

  test('page to page: the 440 Hz microphone file arrives at #remote-audio and 1000 Hz does not', async () => {
    const browser: TestBrowser = await launchBrowser({ micToneHz: 440 });
    try {
      const page = await browser.newPage();
      await page.goto(site.url);
      // Two peer connections in one page, candidates handed over directly (no trickle).
      const pair = await page.evaluate(async () => {
        const a = new RTCPeerConnection({ iceServers: [] });
        const b = new RTCPeerConnection({ iceServers: [] });
        (window as unknown as { pc: RTCPeerConnection }).pc = a;
        // Chromium gathers on every interface: only loopback candidates are handed over.
        const loopback = (c: RTCIceCandidate | null): c is RTCIceCandidate => !!c && (c.address ?? '').startsWith('127.');
        a.onicecandidate = (e) => {
          if (loopback(e.candidate)) b.addIceCandidate(e.candidate).catch(() => undefined);
        };
        b.onicecandidate = (e) => {
          if (loopback(e.candidate)) a.addIceCandidate(e.candidate).catch(() => undefined);
        };
        b.ontrack = (e) => {
          const el = document.getElementById('remote-audio') as HTMLAudioElement;
          el.srcObject = e.streams[0];
          el.play().catch(() => undefined);
        };
        const mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
        a.addTrack(mic.getAudioTracks()[0], mic);
        await a.setLocalDescription(await a.createOffer());
        await b.setRemoteDescription(a.localDescription!);
        await b.setLocalDescription(await b.createAnswer());
        await a.setRemoteDescription(b.localDescription!);
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`not connected: ${a.connectionState}`)), 10_000);
          a.onconnectionstatechange = () => {
            if (a.connectionState === 'connected') {
              clearTimeout(t);
              resolve();
            }
          };
        });
        return { label: mic.getAudioTracks()[0].label };
      });
      assert.ok(pair.label.length > 0, 'getUserMedia gave a track');
      const sel = await selectedPair(page, 'window.pc');
      assert.ok(sel, 'a selected candidate pair');
      assert.ok(isLoopbackPair(sel), `loopback only: ${JSON.stringify(sel)}`);

      const heard = await remoteTone(page, 440, 2000);
      if (process.env.DEBUG_AUDIO) await writeWavFile(process.env.DEBUG_AUDIO, { sampleRate: heard.audio.sampleRate, channels: 1, samples: heard.audio.samples });
      const at1000 = toneIn(heard.audio, 1000);
      assert.ok(heard.presence >= 0.9, `440 Hz in ${(heard.presence * 100).toFixed(0)}% of frames (level ${heard.levelDbfs.toFixed(1)} dBFS)`);
      assert.ok(at1000 <= 0.05, `1000 Hz must not be detected: ${(at1000 * 100).toFixed(0)}% of frames`);
    } finally {
      await browser.close();
    }
  });

  test('page to werift (echo): a 1000 Hz microphone comes back as 1000 Hz, not 440', async () => {
    // Another tone than the default proves Chromium plays the file we give it.
    const browser = await launchBrowser({ micToneHz: 1000 });
    let peer: EchoPeer | undefined;
    try {
      const page = await browser.newPage();
      await page.goto(site.url);
      const offer = await pageOffer(page);
      assert.match(offer, /^a=candidate:.* 127\.0\.0\.1 /m, 'Chromium offers a loopback host candidate');
      peer = await echoAnswer(offer);
      assert.doesNotMatch(offer, /^a=candidate:(?!.* 127\.0\.0\.1 ).*$/m, 'the offer handed on has loopback candidates only');
      assert.doesNotMatch(peer.answer, /^a=candidate:(?!.* 127\.0\.0\.1 ).*$/m, `werift offers 127.0.0.1 only:\n${peer.answer}`);
      assert.match(peer.answer, /^a=candidate:.* 127\.0\.0\.1 /m);
      await pageAnswer(page, peer.answer);
      const sel = await selectedPair(page, 'window.pc');
      assert.ok(isLoopbackPair(sel), `the page sends to werift on loopback: ${JSON.stringify(sel)}`);

      const heard = await remoteTone(page, 1000, 2000);
      assert.ok(peer.received() > 50, `werift received ${peer.received()} RTP packets`);
      assert.ok(heard.presence >= 0.9, `1000 Hz in ${(heard.presence * 100).toFixed(0)}% of frames (level ${heard.levelDbfs.toFixed(1)} dBFS)`);
      assert.ok(toneIn(heard.audio, 440) <= 0.05, '440 Hz must not be detected');
    } finally {
      await peer?.close();
      await browser.close();
    }
  });
});
