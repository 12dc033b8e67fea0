/**
 * `npm run bench:webrtc` — the WebRTC gateway's job on 127.0.0.1, the
 * browser played by werift peers (ICE, DTLS-SRTP) speaking SIP over
 * WebSocket, the SIP phone a plain-RTP user agent on UDP:
 *
 *   setup  call setup time: INVITE sent -> the first audio packet at the
 *          WebRTC peer (ICE + DTLS + the relay's first forwarded packet
 *          included), median and p95 over N calls one after another.
 *   load   concurrent WebRTC <-> SIP calls in rising steps (20, 50, 100), 20 ms
 *          packets both ways: each packet's transit through the system
 *          (p50/p99/max), loss, the system's CPU per call, and the most calls
 *          with p99 under 1 ms and nothing lost; once with Opus relayed
 *          (DTLS-SRTP <-> RTP) and once with Opus <-> PCMU transcoded (the
 *          phone takes PCMU only).
 *
 * Every system under test does the same job in the same run: Switchboard
 * (`switchboard serve`'s server in a child process, ws: + udp: listeners,
 * the PBX's B2BUA anchoring the media) and the reference, Kamailio
 * (websocket + rtpengine modules) with rtpengine-daemon in userspace with
 * one forwarding thread ("one core").
 *
 *   npm run bench:webrtc                              (about 4 minutes)
 *   npm run bench:webrtc -- --setup-calls 20 --steps 20,50,100 --measure 6
 *   npm run bench:webrtc -- --modes relay             relay, transcode or both
 *   npm run bench:webrtc -- --systems switchboard     switchboard, reference or both
 *   npm run bench:webrtc -- --profile                 V8 CPU profile of Switchboard, last step of the last mode
 *
 * Results: tables on stdout and bench/results/webrtc-<date>.json.
 * A benchmark, not a test: nothing here fails on a number, and CI never runs it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { realClock } from '../src/util/clock.js';
import { sleep } from '../test/helpers/process.js';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { hasRtpengine, rtpengineVersion } from './lib/rtpengine.js';
import { runMain } from './lib/run-main.js';
import { kamailioBinary, repoRoot } from './lib/targets.js';
import { hostBusySeconds } from './lib/procstat.js';
import type { CallMode } from './lib/webrtc-media.js';
import { KamailioRtpengine, kamailioHasWebsocket, newHistograms, SwitchboardGateway, type Histograms, type PlacedCall, type SystemUnderTest } from './lib/webrtc-systems.js';

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

interface Plan {
  setupCalls: number;
  /** Concurrent calls, step by step (the calls of a step stay up into the next). */
  steps: number[];
  /** Seconds the load runs before the window opens (jitter of set-up settles). */
  warmupS: number;
  measureS: number;
  modes: CallMode[];
  systems: string[];
  /** A V8 CPU profile of Switchboard over the last step's measuring window of each mode. */
  profile: boolean;
}

function plan(): Plan {
  const { values } = parseArgs({
    options: {
      'setup-calls': { type: 'string', default: '20' },
      steps: { type: 'string', default: '20,50,100' },
      warmup: { type: 'string', default: '2' },
      measure: { type: 'string', default: '6' },
      modes: { type: 'string', default: 'relay,transcode' },
      systems: { type: 'string', default: 'switchboard,reference' },
      profile: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, v: string | undefined, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer 1..${max}, got ${v}`);
    return n;
  };
  const modes = (values.modes ?? '').split(',').map((m) => m.trim());
  for (const m of modes) if (m !== 'relay' && m !== 'transcode') throw new Error(`--modes: relay or transcode, not ${m}`);
  const steps = (values.steps ?? '').split(',').map((v) => int('steps', v.trim(), 300));
  if (steps.some((n, i) => i > 0 && n <= steps[i - 1])) throw new Error(`--steps must rise, got ${values.steps}`);
  const systems = (values.systems ?? '').split(',').map((v) => v.trim());
  for (const v of systems) if (v !== 'switchboard' && v !== 'reference') throw new Error(`--systems: switchboard or reference, not ${v}`);
  return {
    setupCalls: int('setup-calls', values['setup-calls'], 200),
    steps,
    systems,
    profile: values.profile ?? false,
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
  profile?: ProfileSummary;
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

/** The bar for a step: p99 per-packet transit under 1 ms both ways and nothing lost. */
const BAR_P99_MS = 1;
function meetsBar(l: LoadResult): boolean {
  return l.failed === 0 && l.toPhone.p99 < BAR_P99_MS && l.toBrowser.p99 < BAR_P99_MS && lossPct(l.toPhone) === 0 && lossPct(l.toBrowser) === 0;
}

/**
 * Concurrent calls in rising steps: each step adds calls (one after another)
 * to those already up, lets them settle, then measures; the ramp ends after
 * the last step, or early when calls fail or more than 1% is lost (the
 * system is overrun and more calls only say so louder).
 */
async function measureRamp(sut: SystemUnderTest, hist: Histograms, mode: CallMode, p: Plan, profileLast: boolean): Promise<LoadResult[]> {
  sut.resetCounts();
  const calls: PlacedCall[] = [];
  const out: LoadResult[] = [];
  let failed = 0;
  try {
    for (const [i, target] of p.steps.entries()) {
      // Three failed calls say the system is overrun; each costs up to 20 s, so the step stops there.
      while (calls.length + failed < target && failed < 3) {
        try {
          calls.push(await sut.placeCall(mode));
        } catch (err) {
          failed++;
          log(`  ${mode} call ${calls.length + failed}: ${(err as Error).message}`);
        }
      }
      await sleep(p.warmupS * 1000);
      if (profileLast && i === p.steps.length - 1) sut.startProfile?.();
      hist.toPhone.reset();
      hist.toBrowser.reset();
      const before = sut.packets();
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
      await sleep(1000);
      const after = sut.packets();
      const secs = (t1 - t0) / 1000;
      const pct = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : ((b - a) / secs) * 100);
      const d = (k: 'toPhone' | 'toBrowser'): { sent: number; received: number } => ({ sent: after[k].sent - before[k].sent, received: after[k].received - before[k].received });
      const r: LoadResult = {
        mode,
        calls: calls.length,
        failed,
        seconds: secs,
        toPhone: { ...d('toPhone'), p50: hist.toPhone.quantileMs(0.5), p99: hist.toPhone.quantileMs(0.99), max: hist.toPhone.maxNs / 1e6 },
        toBrowser: { ...d('toBrowser'), p50: hist.toBrowser.quantileMs(0.5), p99: hist.toBrowser.quantileMs(0.99), max: hist.toBrowser.maxNs / 1e6 },
        cpuPct: pct(c0.total, c1.total)!,
        mediaCpuPct: pct(c0.media, c1.media),
        signallingCpuPct: pct(c0.signalling, c1.signalling),
        othersCpuPct: Math.max(0, ((h1 - h0 - (c1.total - c0.total)) / secs) * 100),
      };
      out.push(r);
      log(
        `    ${target} calls: up ${r.calls}, p99 ->phone ${f(r.toPhone.p99, 2)} ms <-phone ${f(r.toBrowser.p99, 2)} ms, loss ${f(lossPct(r.toPhone), 2)}/${f(lossPct(r.toBrowser), 2)} %, CPU ${f(r.cpuPct)} %, others ${f(r.othersCpuPct, 0)} %`,
      );
      if (failed > 0 || lossPct(r.toPhone) > 1 || lossPct(r.toBrowser) > 1) break;
    }
  } finally {
    for (const c of calls) await c.hangup();
  }
  return out;
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
      log(`  load: ${mode === 'relay' ? 'Opus relayed' : 'Opus <-> PCMU transcoded'} calls in steps of ${p.steps.join(', ')}, ${p.measureS} s measured each`);
      try {
        out.load.push(...(await measureRamp(sut, hist, mode, p, p.profile && mode === p.modes[p.modes.length - 1])));
      } catch (err) {
        const error = (err as Error).message;
        log(`  ${mode}: ${error}`);
        out.load.push({ mode, calls: 0, failed: p.steps[0], seconds: 0, toPhone: { sent: 0, received: 0, p50: NaN, p99: NaN, max: NaN }, toBrowser: { sent: 0, received: 0, p50: NaN, p99: NaN, max: NaN }, cpuPct: NaN, othersCpuPct: NaN, error });
      }
    }
  } finally {
    await sut.stop();
  }
  const file = sut.profileFile;
  if (p.profile && file && existsSync(file)) {
    const keep = path.join(repoRoot(), 'bench', 'results', 'webrtc-switchboard.cpuprofile');
    mkdirSync(path.dirname(keep), { recursive: true });
    copyFileSync(file, keep);
    out.profile = summarizeProfile(file, repoRoot());
    log(`  profile kept in ${path.relative(repoRoot(), keep)}`);
  }
  return out;
}

const f = (v: number | undefined, d = 1): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
const lossPct = (d: { sent: number; received: number }): number => (d.sent === 0 ? NaN : (Math.max(0, d.sent - d.received) / d.sent) * 100);
/** A transit quantile: the histogram ends at 50 ms. */
const ms = (v: number): string => (v >= 50 ? '>=50' : f(v, 2));
const perCall = (l: LoadResult): number => (l.calls === 0 ? NaN : (l.mediaCpuPct ?? l.cpuPct) / l.calls);

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
  log(`\n## Concurrent WebRTC <-> SIP calls, ${p.measureS} s a step: transit (ms), loss, CPU (100% = one core)`);
  const rows: string[][] = [];
  for (const r of results) {
    for (const l of r.load) {
      rows.push([
        r.name,
        l.mode === 'relay' ? 'Opus relayed' : 'Opus<->PCMU',
        `${l.calls}/${l.calls + l.failed}`,
        `${ms(l.toPhone.p50)}/${ms(l.toPhone.p99)}/${f(l.toPhone.max, 1)}`,
        `${ms(l.toBrowser.p50)}/${ms(l.toBrowser.p99)}/${f(l.toBrowser.max, 1)}`,
        `${f(lossPct(l.toPhone), 2)}/${f(lossPct(l.toBrowser), 2)}`,
        f(l.cpuPct, 1),
        f(perCall(l), 2),
        f(l.othersCpuPct, 0),
        l.error ? 'error' : meetsBar(l) ? 'met' : 'not met',
      ]);
    }
    if (r.load.length === 0) rows.push([r.name, r.error ? 'not run' : '-', '-', '-', '-', '-', '-', '-', '-', '-']);
  }
  log(table(['system', 'media', 'calls up', 'to phone p50/p99/max', 'to browser p50/p99/max', 'loss % ->/<-', 'CPU %', 'media CPU %/call', 'others %', `bar (p99 < ${BAR_P99_MS} ms, 0 loss)`], rows));

  const sb = results.find((r) => r.name === 'Switchboard');
  const ref = results.find((r) => r.name !== 'Switchboard');
  log('\n## Side by side');
  const summary: string[][] = [];
  const ratioOf = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
  const row = (metric: string, a: number | undefined, b: number | undefined, d: number, note = ''): void => {
    summary.push([metric, f(a, d), f(b, d), ratioOf(a, b), note]);
  };
  row('call setup p50, ms (INVITE -> first audio)', sb?.setup?.firstAudio.p50, ref?.setup?.firstAudio.p50, 1);
  row('call setup p95, ms', sb?.setup?.firstAudio.p95, ref?.setup?.firstAudio.p95, 1);
  for (const mode of p.modes) {
    const name = mode === 'relay' ? 'Opus relayed' : 'Opus<->PCMU';
    const most = (r: SystemResult | undefined): number | undefined => {
      if (!r || r.load.length === 0) return undefined;
      const ok = r.load.filter((l) => l.mode === mode && meetsBar(l));
      return ok.length ? Math.max(...ok.map((l) => l.calls)) : 0;
    };
    // CPU per call at the biggest step both ran: the like-for-like point (fixed costs spread alike).
    const at = (r: SystemResult | undefined, n: number): LoadResult | undefined => r?.load.find((l) => l.mode === mode && l.calls === n);
    const both = p.steps.filter((n) => at(sb, n) && at(ref, n));
    const n = both.length ? both[both.length - 1] : undefined;
    const lone = (r: SystemResult | undefined): LoadResult | undefined => r?.load.filter((l) => l.mode === mode).at(-1);
    const a = n !== undefined ? at(sb, n) : lone(sb);
    const b = n !== undefined ? at(ref, n) : lone(ref);
    row(`${name}: most calls meeting the bar`, most(sb), most(ref), 0, `p99 < ${BAR_P99_MS} ms both ways, 0 loss; steps ${p.steps.join(', ')}`);
    row(`${name}: media CPU % per call`, a && perCall(a), b && perCall(b), 2, n !== undefined ? `at ${n} calls; reference: rtpengine alone` : 'at the last step each ran');
    row(`${name}: p99 transit to phone, ms`, a?.toPhone.p99, b?.toPhone.p99, 2);
    row(`${name}: p99 transit to browser, ms`, a?.toBrowser.p99, b?.toBrowser.p99, 2);
  }
  log(table(['metric', sb?.name ?? 'Switchboard', ref?.name ?? 'reference', 'SB/ref', 'note'], summary));
  for (const r of results) {
    if (!r.profile) continue;
    log(`\n## ${r.name} CPU profile (last step of ${p.modes[p.modes.length - 1]}, self time)`);
    for (const t of r.profile.top) log(`${t.pct.toFixed(1).padStart(5)}%  ${t.fn}`);
  }
  for (const n of notes) log(`note: ${n}`);
}

async function main(): Promise<void> {
  const p = plan();
  const notes: string[] = [
    'relayed transit is one-way per packet (stamped payloads), measured by the two ends in this process (the load generator and its werift SRTP share the host).',
    'transcoded transit is audio in -> audio out: the onset of an 80 ms tone burst sent every 500 ms (loss: bursts never heard); a re-clocking B2BUA adds its jitter buffer and up to one 20 ms tick.',
    'media CPU %/call: rtpengine alone for the reference; the whole Switchboard process (SIP, B2BUA, ICE/DTLS/SRTP, codecs).',
  ];
  const work = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-webrtc-'));
  const systems: SystemUnderTest[] = [];
  const hist = newHistograms();
  const missing: string[] = [];
  if (!kamailioBinary()) missing.push('kamailio (apt install kamailio)');
  if (!kamailioHasWebsocket()) missing.push('Kamailio websocket module (apt install kamailio-websocket-modules)');
  if (!hasRtpengine()) missing.push('rtpengine (apt install rtpengine-daemon; userspace, no kernel module)');
  const maxCallers = p.setupCalls + p.modes.length * p.steps[p.steps.length - 1];
  if (p.systems.includes('switchboard')) {
    systems.push(new SwitchboardGateway(hist, path.join(work, 'switchboard'), maxCallers, { profileDir: p.profile ? path.join(work, 'profile') : undefined }));
  }
  if (!p.systems.includes('reference')) log('reference not run (--systems)');
  else if (missing.length) log(`reference not run, missing: ${missing.join('; ')}`);
  else {
    notes.push(`${rtpengineVersion()} with one forwarding thread, userspace (--table=-1); transcoding: ${rtpengineTranscodes() ? 'built in (libavcodec)' : 'not available in this build'}.`);
    systems.push(new KamailioRtpengine(hist, path.join(work, 'kamailio')));
  }
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
