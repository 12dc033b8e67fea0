/// <reference lib="dom" />
/**
 * Headless Debian Chromium for the browser tests, driven by playwright-core
 * (no downloaded browser). Its fake microphone plays a WAV tone of ours
 * (440 Hz by default) so the far side can tell our audio from Chromium's
 * built-in beep, and `remoteTone()` says whether a tone arrives at the page:
 * it records what the page's `<audio id="remote-audio">` stream carries
 * through WebAudio and measures it per 20 ms frame with the media layer's
 * tone detector.
 *
 * Chromium only feeds remote WebRTC audio into WebAudio while the stream is
 * also attached to a media element: the page does that (srcObject on
 * #remote-audio), the recorder here only reads `srcObject`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tonePresence, type TonePresenceOptions } from '../../src/media/dsp/tone-detect.js';
import { meanPower, powerToDbfs } from '../../src/media/dsp/level.js';
import { requirePeers } from './peers.js';
import { writeToneWav } from './wav.js';

export const CHROMIUM_BIN = '/usr/bin/chromium';

/** Flags of ../shared/PEERS.md; loopback ICE candidates need the last one on a loopback-only host. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  // The recorder's AudioContext (and the page's ringtone) start without a click.
  '--autoplay-policy=no-user-gesture-required',
];

/** Skip reason when Chromium is missing (a failure in CI, like every real peer). */
export function requireBrowser(): string | undefined {
  return requirePeers('chromium');
}

export interface BrowserOptions {
  /** The fake microphone's tone, Hz (default 440). */
  micToneHz?: number;
  /** More Chromium flags. */
  args?: string[];
}

export interface TestBrowser {
  context: BrowserContext;
  /** The WAV the fake microphone loops. */
  micFile: string;
  micToneHz: number;
  newPage(): Promise<Page>;
  /** Closes Chromium and removes its profile and the tone file. */
  close(): Promise<void>;
}

/** Chromium with a fresh profile under a temp dir of its own, removed on close. */
export async function launchBrowser(opts: BrowserOptions = {}): Promise<TestBrowser> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  const micToneHz = opts.micToneHz ?? 440;
  try {
    // 48 kHz mono 16-bit: what Chromium's fake capture reads without resampling surprises.
    // 30 s: the device loops the file, and a short loop's seam would be heard as a click.
    const micFile = await writeToneWav(path.join(dir, `mic-${micToneHz}.wav`), { freqHz: micToneHz, sampleRate: 48000, seconds: 30, amplitude: 0.3 });
    // launchPersistentContext: the only playwright way to choose the --user-data-dir.
    const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM_BIN,
      headless: true,
      args: [...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${micFile}`, ...(opts.args ?? [])],
      // Playwright mutes headless audio by default; the page's <audio> must play for WebAudio to get it.
      ignoreDefaultArgs: ['--mute-audio'],
      timeout: 30_000,
    });
    let closed = false;
    return {
      context,
      micFile,
      micToneHz,
      newPage: () => context.newPage(),
      async close() {
        if (closed) return;
        closed = true;
        try {
          await context.close();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface RecordedAudio {
  sampleRate: number;
  samples: Int16Array;
}

/**
 * Records `ms` of the stream on the page's media element `elementId`
 * (`srcObject`) through WebAudio, as 16-bit mono. Throws when the element has
 * no stream within `waitMs`.
 */
export async function recordRemoteAudio(page: Page, ms: number, elementId = 'remote-audio', waitMs = 10_000): Promise<RecordedAudio> {
  await page.waitForFunction(
    (id) => {
      const el = document.getElementById(id) as HTMLMediaElement | null;
      return !!el && el.srcObject instanceof MediaStream && el.srcObject.getAudioTracks().length > 0;
    },
    elementId,
    { timeout: waitMs },
  );
  const got = await page.evaluate(
    async ({ id, ms }) => {
      const el = document.getElementById(id) as HTMLMediaElement;
      const stream = el.srcObject as MediaStream;
      const ctx = new AudioContext({ sampleRate: 48000 });
      await ctx.resume();
      const src = ctx.createMediaStreamSource(stream);
      // ScriptProcessor is deprecated but needs no module URL; it is pulled only while connected to the destination.
      const proc = ctx.createScriptProcessor(2048, 1, 1);
      const want = Math.round((ms / 1000) * ctx.sampleRate);
      const out = new Int16Array(want);
      let have = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`WebAudio delivered ${have} of ${want} samples`)), ms + 5000);
        proc.onaudioprocess = (ev: AudioProcessingEvent) => {
          const input = ev.inputBuffer.getChannelData(0);
          for (let i = 0; i < input.length && have < want; i++) out[have++] = Math.max(-32768, Math.min(32767, Math.round(input[i] * 32767)));
          if (have >= want) {
            clearTimeout(timer);
            resolve();
          }
        };
        src.connect(proc);
        proc.connect(ctx.destination);
      });
      proc.onaudioprocess = null;
      src.disconnect();
      proc.disconnect();
      await ctx.close();
      return { sampleRate: ctx.sampleRate, samples: Array.from(out) };
    },
    { id: elementId, ms },
  );
  return { sampleRate: got.sampleRate, samples: Int16Array.from(got.samples) };
}

export interface ToneResult {
  /** Share of 20 ms frames in which the tone is present (0..1). */
  presence: number;
  /** Level of the whole recording, dBFS (-Infinity for digital silence). */
  levelDbfs: number;
  audio: RecordedAudio;
}

/** Tone presence at `freqHz` in `ms` of what the page hears on `elementId` (default #remote-audio). */
export async function remoteTone(page: Page, freqHz: number, ms = 2000, opts: TonePresenceOptions & { elementId?: string } = {}): Promise<ToneResult> {
  const audio = await recordRemoteAudio(page, ms, opts.elementId);
  return { presence: tonePresence(audio.samples, audio.sampleRate, freqHz, opts), levelDbfs: powerToDbfs(meanPower(audio.samples, 0, audio.samples.length)), audio };
}

/** The same measure on a recording already made (one recording, several frequencies). */
export function toneIn(audio: RecordedAudio, freqHz: number, opts: TonePresenceOptions = {}): number {
  return tonePresence(audio.samples, audio.sampleRate, freqHz, opts);
}

/** getStats' selected candidate pair of the page's RTCPeerConnection exposed as `window[name]`. */
export interface SelectedPair {
  localType: string;
  remoteType: string;
  localAddress: string;
  remoteAddress: string;
  bytesSent: number;
  bytesReceived: number;
}

/**
 * The page's selected pair sends to loopback: its remote is 127.0.0.1, or is a
 * peer-reflexive candidate (the far end's check arrived before its candidates
 * were signalled), whose address Chromium's stats leave empty; then a local
 * side on 127.0.0.1 says the far end is loopback too (a loopback socket
 * reaches nothing else). Chromium may send from another interface's socket
 * (192.0.2.2 here) to 127.0.0.1: the traffic still stays on this host.
 */
export function isLoopbackPair(sel: SelectedPair | undefined): boolean {
  if (!sel) return false;
  return sel.remoteAddress.startsWith('127.0.0.1:') || (sel.remoteType === 'prflx' && sel.localAddress.startsWith('127.0.0.1:'));
}

export async function selectedPair(page: Page, pcExpr: string): Promise<SelectedPair | undefined> {
  return page.evaluate(async (expr) => {
    // The expression names a page global holding an RTCPeerConnection (e.g. "window.pc").
    const pc = (0, eval)(expr) as RTCPeerConnection;
    const stats = await pc.getStats();
    let pairId: string | undefined;
    stats.forEach((s: { type: string; selectedCandidatePairId?: string }) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    if (!pairId) return undefined;
    const pair = stats.get(pairId) as { localCandidateId: string; remoteCandidateId: string; bytesSent: number; bytesReceived: number };
    const local = stats.get(pair.localCandidateId) as { candidateType: string; address: string; port: number };
    const remote = stats.get(pair.remoteCandidateId) as { candidateType: string; address: string; port: number };
    return {
      localType: local.candidateType,
      remoteType: remote.candidateType,
      localAddress: `${local.address}:${local.port}`,
      remoteAddress: `${remote.address}:${remote.port}`,
      bytesSent: pair.bytesSent,
      bytesReceived: pair.bytesReceived,
    };
  }, pcExpr);
}

/** A blank page with the `<audio id="remote-audio">` the recorder reads, served on 127.0.0.1 (getUserMedia needs a secure origin; 127.0.0.1 is one). */
export const HARNESS_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>harness</title></head><body><audio id="remote-audio" autoplay></audio></body></html>';

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

export async function serveHtml(html = HARNESS_HTML): Promise<StaticServer> {
  const server = http.createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** ICE servers as the page hands them to RTCPeerConnection. */
export interface PageIceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface PageCallOptions {
  iceServers?: PageIceServer[];
  iceTransportPolicy?: 'all' | 'relay';
  /** Offer only this codec (e.g. "PCMU"); default: Chromium's list. */
  codec?: string;
}

/**
 * The SDP without candidates outside 127.0.0.0/8. Chromium gathers on every
 * interface (no flag limits it to loopback), so whatever hands its SDP to a
 * peer drops the others: the peer then only ever sends to 127.0.0.1.
 */
export function loopbackCandidatesOnly(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((line) => !line.startsWith('a=candidate:') || / 127\.\d+\.\d+\.\d+ \d+ typ /.test(line))
    .join('\r\n');
}

/**
 * In the page: `window.pc` with the fake microphone's track, the remote
 * stream on #remote-audio, and a non-trickle offer (ICE gathering waited for),
 * which is returned with its loopback candidates only.
 */
export async function pageOffer(page: Page, opts: PageCallOptions = {}): Promise<string> {
  return page.evaluate(async (o) => {
    const w = window as unknown as { pc: RTCPeerConnection };
    const pc = new RTCPeerConnection({ iceServers: o.iceServers ?? [], iceTransportPolicy: o.iceTransportPolicy ?? 'all' });
    w.pc = pc;
    const mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false });
    const tr = pc.addTransceiver(mic.getAudioTracks()[0], { direction: 'sendrecv', streams: [mic] });
    if (o.codec) {
      const want = o.codec.toLowerCase();
      const codecs = (RTCRtpReceiver.getCapabilities('audio')?.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === `audio/${want}`);
      if (codecs.length === 0) throw new Error(`Chromium has no ${o.codec}`);
      tr.setCodecPreferences(codecs);
    }
    pc.ontrack = (ev) => {
      const el = document.getElementById('remote-audio') as HTMLAudioElement;
      el.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
      el.play().catch(() => undefined);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
      setTimeout(resolve, 5000);
    });
    return pc.localDescription!.sdp;
  }, opts).then(loopbackCandidatesOnly);
}

/** In the page: applies the far end's answer to `window.pc` and waits for `connected` (throws after `timeoutMs`). */
export async function pageAnswer(page: Page, answer: string, timeoutMs = 10_000): Promise<void> {
  await page.evaluate(
    async ({ sdp, timeoutMs }) => {
      const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
      await pc.setRemoteDescription({ type: 'answer', sdp });
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pc.connectionState === 'connected') resolve();
          else if (pc.connectionState === 'failed') reject(new Error('connection failed'));
        };
        pc.addEventListener('connectionstatechange', check);
        check();
        setTimeout(() => reject(new Error(`not connected after ${timeoutMs} ms (ice ${pc.iceConnectionState}, dtls/pc ${pc.connectionState})`)), timeoutMs);
      });
    },
    { sdp: answer, timeoutMs },
  );
}
