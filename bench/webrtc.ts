/**
 * `npm run bench:webrtc` — the WebRTC gateway's job on 127.0.0.1, the
 * browser played by werift peers (ICE, DTLS-SRTP) speaking SIP over
 * WebSocket, the SIP phone a plain-RTP user agent on UDP:
 *
 *   setup  call setup time: INVITE sent -> the first audio packet at the
 *          WebRTC peer (ICE + DTLS + the relay's first forwarded packet
 *          included), median and p95 over N calls one after another.
 *   load   N concurrent WebRTC <-> SIP calls, 20 ms packets both ways, each
 *          packet's transit through the system (p50/p99/max), loss, and the
 *          system's CPU per call; once with Opus relayed (DTLS-SRTP <-> RTP)
 *          and once with Opus <-> PCMU transcoded.
 *
 * Every system under test does the same job in the same run: today the
 * reference, Kamailio (websocket + rtpengine modules) with rtpengine-daemon
 * in userspace with one forwarding thread ("one core"); Switchboard joins
 * at the TODO in bench/lib/webrtc-systems.ts.
 *
 *   npm run bench:webrtc                              (about 1 minute)
 *   npm run bench:webrtc -- --setup-calls 20 --calls 20 --measure 10
 *   npm run bench:webrtc -- --modes relay             relay, transcode or both
 *
 * Results: tables on stdout and bench/results/webrtc-<date>.json.
 * A benchmark, not a test: nothing here fails on a number, and CI never runs it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { realClock } from '../src/util/clock.js';
import { sleep } from '../test/helpers/process.js';
import { hasRtpengine, rtpengineVersion } from './lib/rtpengine.js';
import { runMain } from './lib/run-main.js';
import { kamailioBinary, repoRoot } from './lib/targets.js';
import { hostBusySeconds } from './lib/procstat.js';
import type { CallMode } from './lib/webrtc-media.js';
import { KamailioRtpengine, kamailioHasWebsocket, newHistograms, type Histograms, type PlacedCall, type SystemUnderTest } from './lib/webrtc-systems.js';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

interface Plan {
  setupCalls: number;
  calls: number;
  /** Seconds the load runs before the window opens (jitter of set-up settles). */
  warmupS: number;
  measureS: number;
  modes: CallMode[];
}

function plan(): Plan {
  const { values } = parseArgs({
    options: {
      'setup-calls': { type: 'string', default: '20' },
      calls: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '2' },
      measure: { type: 'string', default: '10' },
      modes: { type: 'string', default: 'relay,transcode' },
    },
  });
  const int = (name: string, v: string | undefined, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer 1..${max}, got ${v}`);
    return n;
  };
  const modes = (values.modes ?? '').split(',').map((m) => m.trim());
  for (const m of modes) if (m !== 'relay' && m !== 'transcode') throw new Error(`--modes: relay or transcode, not ${m}`);
  return {
    setupCalls: int('setup-calls', values['setup-calls'], 200),
    calls: int('calls', values.calls, 200),
    warmupS: int('warmup', values.warmup, 60),
    measureS: int('measure', values.measure, 120),
    modes: modes as CallMode[],
  };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

interface SetupResult {
  calls: number;
  failed: number;
  firstAudio: { p50: number; p95: number; max: number };
  answer: { p50: number; p95: number };
  connected: { p50: number; p95: number };
  ice: { p50: number; p95: number };
}

interface LoadResult {
  mode: CallMode;
  calls: number;
  failed: number;
  seconds: number;
  toPhone: { sent: number; received: number; p50: number; p99: number; max: number };
  toBrowser: { sent: number; received: number; p50: number; p99: number; max: number };
  /** 100 = one core. */
  cpuPct: number;
  mediaCpuPct?: number;
  signallingCpuPct?: number;
  /** Everyone else on the host, 100 = one core (this bench's own load generator included). */
  othersCpuPct: number;
  error?: string;
}

interface SystemResult {
  name: string;
  setup?: SetupResult;
  load: LoadResult[];
  error?: string;
}

async function measureSetup(sut: SystemUnderTest, n: number): Promise<SetupResult> {
  const first: number[] = [];
  const answer: number[] = [];
  const connected: number[] = [];
  const ice: number[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    let call: PlacedCall | undefined;
    try {
      call = await sut.placeCall('relay');
      first.push(call.times.firstAudioMs);
      answer.push(call.times.answerMs);
      connected.push(call.times.connectedMs);
      ice.push(call.times.iceMs);
    } catch (err) {
      failed++;
      log(`  setup call ${i + 1}: ${(err as Error).stack ?? String(err)}`);
    } finally {
      await call?.hangup();
    }
  }
  const s = (a: number[]): number[] => [...a].sort((x, y) => x - y);
  const f = s(first);
  return {
    calls: n,
    failed,
    firstAudio: { p50: quantile(f, 0.5), p95: quantile(f, 0.95), max: f[f.length - 1] ?? NaN },
    answer: { p50: quantile(s(answer), 0.5), p95: quantile(s(answer), 0.95) },
    connected: { p50: quantile(s(connected), 0.5), p95: quantile(s(connected), 0.95) },
    ice: { p50: quantile(s(ice), 0.5), p95: quantile(s(ice), 0.95) },
  };
}

async function measureLoad(sut: SystemUnderTest, hist: Histograms, mode: CallMode, p: Plan): Promise<LoadResult> {
  sut.resetCounts();
  const calls: PlacedCall[] = [];
  let failed = 0;
  try {
    // Calls are set up one after another (bounded: p.calls), then held together.
    for (let i = 0; i < p.calls; i++) {
      try {
        calls.push(await sut.placeCall(mode));
      } catch (err) {
        failed++;
        log(`  ${mode} call ${i + 1}: ${(err as Error).message}`);
      }
    }
    await sleep(p.warmupS * 1000);
    hist.toPhone.reset();
    hist.toBrowser.reset();
    const c0 = sut.cpuSeconds();
    const h0 = hostBusySeconds();
    const t0 = realClock.now();
    sut.measure(true);
    await sleep(p.measureS * 1000);
    sut.measure(false);
    const t1 = realClock.now();
    const c1 = sut.cpuSeconds();
    const h1 = hostBusySeconds();
    // What was sent in the window may still be on its way.
    await sleep(500);
    const secs = (t1 - t0) / 1000;
    const pct = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : ((b - a) / secs) * 100);
    const pk = sut.packets();
    return {
      mode,
      calls: calls.length,
      failed,
      seconds: secs,
      toPhone: { ...pk.toPhone, p50: hist.toPhone.quantileMs(0.5), p99: hist.toPhone.quantileMs(0.99), max: hist.toPhone.maxNs / 1e6 },
      toBrowser: { ...pk.toBrowser, p50: hist.toBrowser.quantileMs(0.5), p99: hist.toBrowser.quantileMs(0.99), max: hist.toBrowser.maxNs / 1e6 },
      cpuPct: pct(c0.total, c1.total)!,
      mediaCpuPct: pct(c0.media, c1.media),
      signallingCpuPct: pct(c0.signalling, c1.signalling),
      othersCpuPct: Math.max(0, ((h1 - h0 - (c1.total - c0.total)) / secs) * 100),
    };
  } finally {
    for (const c of calls) await c.hangup();
  }
}

async function runSystem(sut: SystemUnderTest, hist: Histograms, p: Plan): Promise<SystemResult> {
  const out: SystemResult = { name: sut.name, load: [] };
  log(`\n== ${sut.name}`);
  try {
    await sut.start();
  } catch (err) {
    out.error = (err as Error).message;
    log(`  not run: ${out.error}`);
    await sut.stop().catch(() => undefined);
    return out;
  }
  try {
    log(`  setup: ${p.setupCalls} calls, one after another`);
    out.setup = await measureSetup(sut, p.setupCalls);
    for (const mode of p.modes) {
      log(`  load: ${p.calls} concurrent ${mode === 'relay' ? 'Opus relayed' : 'Opus <-> PCMU transcoded'} calls, ${p.measureS} s measured`);
      try {
        out.load.push(await measureLoad(sut, hist, mode, p));
      } catch (err) {
        const error = (err as Error).message;
        log(`  ${mode}: ${error}`);
        out.load.push({ mode, calls: 0, failed: p.calls, seconds: 0, toPhone: { sent: 0, received: 0, p50: NaN, p99: NaN, max: NaN }, toBrowser: { sent: 0, received: 0, p50: NaN, p99: NaN, max: NaN }, cpuPct: NaN, othersCpuPct: NaN, error });
      }
    }
  } finally {
    await sut.stop();
  }
  return out;
}

const f = (v: number | undefined, d = 1): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const lossPct = (d: { sent: number; received: number }): number => (d.sent === 0 ? NaN : (Math.max(0, d.sent - d.received) / d.sent) * 100);

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(w[i]) : v.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function report(results: SystemResult[], p: Plan, notes: string[]): void {
  log('\n## Call setup: INVITE sent -> first audio packet at the WebRTC peer (ms)');
  log(
    table(
      ['system', 'calls', 'failed', 'first audio p50', 'p95', 'max', '200 OK p50', 'ICE up p50', 'ICE+DTLS up p50'],
      results.map((r) =>
        r.setup
          ? [r.name, String(r.setup.calls), String(r.setup.failed), f(r.setup.firstAudio.p50), f(r.setup.firstAudio.p95), f(r.setup.firstAudio.max), f(r.setup.answer.p50), f(r.setup.ice.p50), f(r.setup.connected.p50)]
          : [r.name, '-', '-', '-', '-', '-', '-', '-', r.error ? 'not run' : '-'],
      ),
    ),
  );
  log(`\n## ${p.calls} concurrent WebRTC <-> SIP calls, ${p.measureS} s: per-packet transit (ms), loss, CPU (100% = one core)`);
  const rows: string[][] = [];
  for (const r of results) {
    for (const l of r.load) {
      rows.push([
        r.name,
        l.mode === 'relay' ? 'Opus relayed' : 'Opus<->PCMU',
        `${l.calls}/${l.calls + l.failed}`,
        `${f(l.toPhone.p50, 2)}/${f(l.toPhone.p99, 2)}/${f(l.toPhone.max, 1)}`,
        `${f(l.toBrowser.p50, 2)}/${f(l.toBrowser.p99, 2)}/${f(l.toBrowser.max, 1)}`,
        `${f(lossPct(l.toPhone), 2)}/${f(lossPct(l.toBrowser), 2)}`,
        f(l.cpuPct, 1),
        f(l.mediaCpuPct !== undefined && l.calls ? l.mediaCpuPct / l.calls : l.calls ? l.cpuPct / l.calls : NaN, 2),
        f(l.othersCpuPct, 0),
      ]);
    }
    if (r.load.length === 0) rows.push([r.name, r.error ? 'not run' : '-', '-', '-', '-', '-', '-', '-', '-']);
  }
  log(table(['system', 'media', 'calls up', 'to phone p50/p99/max', 'to browser p50/p99/max', 'loss % ->/<-', 'CPU %', 'media CPU %/call', 'others %'], rows));
  for (const n of notes) log(`note: ${n}`);
}

async function main(): Promise<void> {
  const p = plan();
  const notes: string[] = [
    'transit is one-way through the system, measured by the two ends in this process (the load generator and its werift SRTP share the host).',
    'transcoded transit matches packets by RTP sequence number (payloads are re-encoded; rtpengine keeps the numbers).',
    'media CPU %/call: rtpengine alone for the reference; the whole process for a one-process system.',
  ];
  const work = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-webrtc-'));
  const systems: SystemUnderTest[] = [];
  const hist = newHistograms();
  const missing: string[] = [];
  if (!kamailioBinary()) missing.push('kamailio (apt install kamailio)');
  if (!kamailioHasWebsocket()) missing.push('Kamailio websocket module (apt install kamailio-websocket-modules)');
  if (!hasRtpengine()) missing.push('rtpengine (apt install rtpengine-daemon; userspace, no kernel module)');
  if (missing.length) log(`reference not run, missing: ${missing.join('; ')}`);
  else {
    notes.push(`${rtpengineVersion()} with one forwarding thread, userspace (--table=-1); transcoding: ${rtpengineTranscodes() ? 'built in (libavcodec)' : 'not available in this build'}.`);
    systems.push(new KamailioRtpengine(hist, path.join(work, 'kamailio')));
  }
  // TODO(issue 9, lead): systems.push(new SwitchboardGateway(hist, path.join(work, 'switchboard'))) once the gateway runs.
  const results: SystemResult[] = [];
  try {
    for (const sut of systems) results.push(await runSystem(sut, hist, p));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  report(results, p, notes);
  const dir = path.join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `webrtc-${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify({ when: new Date().toISOString(), plan: p, results, notes }, null, 2)}\n`);
  log(`\nresults: ${path.relative(repoRoot(), file)}`);
}

/** Debian's rtpengine links libavcodec when it was built with transcoding. */
function rtpengineTranscodes(): boolean {
  try {
    const maps = readLinkedLibraries('/usr/bin/rtpengine');
    return maps.some((l) => l.includes('libavcodec'));
  } catch {
    return false;
  }
}

function readLinkedLibraries(bin: string): string[] {
  const r = spawnSync('ldd', [bin], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n');
}

runMain(main);
