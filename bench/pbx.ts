/**
 * `npm run bench:pbx` — the PBX under load, on 127.0.0.1:
 *
 *   relay       concurrent bridged calls: SIPp callers streaming G.711 through
 *               the PBX (an IP trunk's calls dialling a user) to a SIPp callee
 *               that echoes every packet, in steps of N calls held together;
 *               per step failed calls, CPU, and the media latency the relay
 *               adds, read from outside by a probe call among them. The same
 *               load through Kamailio + rtpengine (userspace forwarding) in
 *               the same run is the reference.
 *   ivr         calls per second into an IVR (answer + say from the TTS cache +
 *               gather), callers hanging up after 4 s, in steps of rate.
 *   conference  N callers with media in one room: CPU per participant, beside
 *               the mixer's own cost (bench/mixer.ts).
 *
 *   npm run bench:pbx                         all parts (about 9 minutes)
 *   npm run bench:pbx -- --quick              fewer, shorter steps (about 3 minutes)
 *   npm run bench:pbx -- --parts relay        some parts: relay, ivr, conference
 *   npm run bench:pbx -- --no-reference       Switchboard only
 *   npm run bench:pbx -- --steps 100,300 --hold 30
 *   npm run bench:pbx -- --profile            V8 profiles of the PBX at the last relay step and IVR rate
 *
 * Results: tables on stdout and bench/results/pbx-<date>.json.
 * A benchmark, not a test: nothing here fails on a number, and CI never runs it.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { realClock } from '../src/util/clock.js';
import { hasBinary } from '../test/helpers/peers.js';
import { sleep } from '../test/helpers/process.js';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { measure as measureMixer } from './mixer.js';
import { cpuSeconds, dropsBetween, hostBusySeconds, processTree, udpReceiveBufferErrors, udpSocketDrops } from './lib/procstat.js';
import { formatTable, ratio, type Row } from './lib/report.js';
import { probeChild, RtpProbe, type ProbeResult } from './lib/rtp-probe.js';
import { hasRtpengine, rtpengineVersion, startKamailioRtpengine, type RelayReference } from './lib/rtpengine.js';
import { runLoad, type LoadOptions, type LoadResult } from './lib/sipp-load.js';
import { mediaArgs, mediaCallScenario, mediaPort, registerContact, startEchoUas, startProbeCall, startProbeUas, writeToneFile } from './lib/sipp-media.js';
import { runMain } from './lib/run-main.js';
import { settle, step, type StepResult, type Workload } from './lib/search.js';
import type { LoopReport } from './lib/inspect.js';
import { kamailioBinary, repoRoot, startSwitchboard, type Target } from './lib/targets.js';

const ROOT = repoRoot();
const PROBE_ARG = '--rtp-probe';

/** The callee of the load calls, and the probe call's own callee. */
const CALLEE = { user: '2000', password: 'Bench-callee-pass-1' };
const PROBE_CALLEE = { user: '2001', password: 'Bench-probe-pass-1' };
const IVR_EXTEN = '3000';
const ROOM = '6000';
/** The IVR caller hangs up this long after the answer, in the middle of the menu prompt. */
const IVR_HOLD_MS = 4000;
const IVR_PROMPT = 'Thank you for calling Acme Corporation. For sales, press 1. For support, press 2. For the company directory, press 3.';

/** The issue's bar for the relay. */
const BAR = { failed: 0, p99AddedMs: 5 };
/** Kamailio's UDP workers and rtpengine's forwarding threads: the host's two cores. */
const KAMAILIO_CHILDREN = 2;
const RTPENGINE_THREADS = 2;
/** A step starts only while the host is this quiet, for at most this long (other people's jobs share it). */
const SETTLE_MAX_MS = 5000;

/**
 * The PBX half of Switchboard's config: SIPp's calls arrive as an IP trunk's
 * (no digest round trip per call, as a carrier's would) and start in the
 * `bench` context; the fraud caps are off so the load is not refused.
 */
const PBX_YAML = `trunks:
  loadgen: { host: 127.0.0.1, allow: [127.0.0.1], context: bench }
fraud: { max_calls: 0, user_max_calls: 0, user_calls_per_minute: 0 }
conferences:
  "${ROOM}": {}
dialplan:
  bench:
    "${CALLEE.user}":
      - dial: { to: "${CALLEE.user}", timeout: 10 }
    "${PROBE_CALLEE.user}":
      - dial: { to: "${PROBE_CALLEE.user}", timeout: 10 }
    "${IVR_EXTEN}":
      - answer
      - gather: { num_digits: 1, timeout: 10, say: "${IVR_PROMPT}" }
      - hangup
    "${ROOM}":
      - conference: "${ROOM}"
`;

interface Plan {
  relaySteps: number[];
  /** Calls per second while a relay step's calls are being set up. */
  relayRate: number;
  relayHoldS: number;
  ivrRates: number[];
  ivrStepS: number;
  confSizes: number[];
  confMeasureS: number;
  mixerSeconds: number;
}

const FULL: Plan = {
  relaySteps: [50, 100, 200, 300, 400],
  relayRate: 50,
  relayHoldS: 20,
  ivrRates: [10, 20, 40, 80, 120, 160, 200],
  ivrStepS: 8,
  confSizes: [3, 10, 30],
  confMeasureS: 8,
  mixerSeconds: 1,
};

const QUICK: Plan = {
  relaySteps: [50, 200],
  relayRate: 50,
  relayHoldS: 12,
  ivrRates: [10, 40],
  ivrStepS: 5,
  confSizes: [3, 10],
  confMeasureS: 5,
  mixerSeconds: 0.5,
};

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

// ---------------------------------------------------------------- measuring a window

/** CPU counters read at both ends of a measured window. */
interface Counters {
  at: number;
  target: number;
  signalling?: number;
  media?: number;
  host: number;
  uac: number;
  uas: number;
  /** Host-wide receive-buffer drops (any socket of anyone). */
  hostUdpDrops: number;
  /** Per-socket drop counters of the system under test and of SIPp. */
  targetDrops: Map<string, number>;
  sippDrops: Map<string, number>;
}

/** The processes of the system under test: Switchboard, or Kamailio's and rtpengine. */
function targetPids(target: Target): number[] {
  const ref = target as Partial<RelayReference>;
  return [...processTree(target.pid), ...(ref.rtpengine ? [ref.rtpengine.pid] : [])];
}

function readCounters(target: Target, uacPids: number[], uasPids: (number | undefined)[]): Counters {
  const ref = target as Partial<RelayReference>;
  const sipp = [...uacPids, ...uasPids].filter((p): p is number => p !== undefined);
  const sum = (pids: (number | undefined)[]): number => pids.reduce<number>((t, pid) => t + (pid === undefined ? 0 : cpuSeconds(pid)), 0);
  return {
    at: realClock.now(),
    target: target.cpuSeconds(),
    signalling: ref.signallingCpuSeconds?.(),
    media: ref.mediaCpuSeconds?.(),
    host: hostBusySeconds(),
    uac: sum(uacPids),
    uas: sum(uasPids),
    hostUdpDrops: udpReceiveBufferErrors(),
    targetDrops: udpSocketDrops(targetPids(target)),
    sippDrops: udpSocketDrops(sipp),
  };
}

interface Window {
  seconds: number;
  /** 100 = one core. */
  cpuPct: number;
  signallingCpuPct?: number;
  mediaCpuPct?: number;
  uacCpuPct: number;
  uasCpuPct: number;
  /** Everything else on the host, 100 = one core: other people's jobs; high = the step is suspect. */
  othersCpuPct: number;
  /** Datagrams dropped at the system under test's sockets (lost media), at SIPp's, and host-wide (anyone's). */
  targetUdpDrops: number;
  sippUdpDrops: number;
  hostUdpDrops: number;
}

function windowOf(a: Counters, b: Counters): Window {
  const s = Math.max((b.at - a.at) / 1000, 1e-3);
  const pct = (x: number): number => (x / s) * 100;
  const target = b.target - a.target;
  const uac = b.uac - a.uac;
  const uas = b.uas - a.uas;
  return {
    seconds: s,
    cpuPct: pct(target),
    signallingCpuPct: a.signalling === undefined || b.signalling === undefined ? undefined : pct(b.signalling - a.signalling),
    mediaCpuPct: a.media === undefined || b.media === undefined ? undefined : pct(b.media - a.media),
    uacCpuPct: pct(uac),
    uasCpuPct: pct(uas),
    othersCpuPct: Math.max(0, pct(b.host - a.host - target - uac - uas)),
    targetUdpDrops: dropsBetween(a.targetDrops, b.targetDrops),
    sippUdpDrops: dropsBetween(a.sippDrops, b.sippDrops),
    hostUdpDrops: b.hostUdpDrops - a.hostUdpDrops,
  };
}

async function sleepUntil(t: number): Promise<void> {
  const left = t - realClock.now();
  if (left > 0) await sleep(left);
}

// ---------------------------------------------------------------- part 1: bridged calls

/**
 * SIPp processes the relay load is split over. One SIPp sends every call's
 * packet in the same instant (its RTP threads wake on one 20 ms grid, counted
 * from its own start), a burst no set of real phones makes; several,
 * started apart, put their bursts at different phases of the 20 ms.
 */
const UAC_PROCESSES = 5;

type CallerOptions = Omit<LoadOptions, 'extraArgs' | 'maxConcurrent'>;

/** `o.calls` at `o.rate` split over `k` SIPp callers with media, started a few ms apart; their results summed. */
async function runCallers(k: number, o: CallerOptions): Promise<LoadResult> {
  const runs: Promise<LoadResult>[] = [];
  for (let i = 0; i < k; i++) {
    const calls = Math.floor(o.calls / k) + (i < o.calls % k ? 1 : 0);
    if (calls === 0) continue;
    const rate = Math.max(1, Math.round((o.rate * calls) / o.calls));
    runs.push(runLoad({ ...o, calls, rate, maxConcurrent: calls + 5, extraArgs: mediaArgs(await mediaPort()) }));
    await sleep(4 + Math.random() * 4);
  }
  const all = await Promise.all(runs);
  const sum = (f: (r: LoadResult) => number): number => all.reduce((t, r) => t + f(r), 0);
  return {
    successful: sum((r) => r.successful),
    failed: sum((r) => r.failed),
    created: sum((r) => r.created),
    retransmissions: sum((r) => r.retransmissions),
    achievedRate: sum((r) => r.achievedRate),
    wallS: Math.max(...all.map((r) => r.wallS)),
    sippCpuS: sum((r) => r.sippCpuS),
    exitCode: Math.max(...all.map((r) => r.exitCode)),
    killed: all.some((r) => r.killed),
    errorsTail: all.map((r) => r.errorsTail).filter(Boolean).join('\n').slice(-1500),
  };
}

interface RelayStep {
  calls: number;
  successful: number;
  failed: number;
  window: Window;
  /** Calls held per core busy: calls / (CPU % / 100). */
  callsPerCore: number;
  probe?: ProbeResult;
  /** Switchboard's event loop over the plateau. */
  loop?: LoopReport;
  /** Relay transit minus direct transit, at the same quantile. */
  addedP50Ms?: number;
  addedP99Ms?: number;
  /** Met the bar (clean) / every call completed and the relay kept pace (p50 added under the bar, no probe loss) / completed, media late / calls failed. */
  verdict: 'met' | 'kept up' | 'behind' | 'failed';
  clean: boolean;
  why?: string;
}

interface RelayReport {
  target: string;
  steps: RelayStep[];
  /** The largest step that met the bar. */
  best?: RelayStep;
  /** The largest step it kept up with: every call completed, p50 added under the bar, no probe packet lost. */
  kept?: RelayStep;
  /** The largest step with every call completed, however late the media. */
  held?: RelayStep;
  stop: string;
}

interface Env {
  work: string;
  scenario: string;
  probe: RtpProbe;
  plan: Plan;
  profile: boolean;
}

/** The probe's histogram ends at 50 ms: a quantile there means "50 ms or more". */
function fmtMs(v: number | undefined): string {
  if (v === undefined) return '-';
  return v > 50 ? '>=50' : v.toFixed(3);
}

/**
 * One step: the probe call first, then `n` calls at the plan's rate, each
 * held so that all are up together for a while; CPU and the probe's
 * latency are measured over that plateau only.
 */
async function relayStep(target: Target, env: Env, n: number, uasPids: (number | undefined)[], profileNow: boolean): Promise<RelayStep> {
  const { plan, probe } = env;
  const rampMs = (n / plan.relayRate) * 1000;
  // Calls are set up within the ramp (plus a margin); the first one ends `holdMs` after it began.
  const holdMs = Math.max(plan.relayHoldS * 1000, rampMs + 8000);
  const plateauFrom = rampMs + 1500;
  const plateauTo = holdMs - 500;
  const probeCall = await startProbeCall(target.sip, PROBE_CALLEE.user, probe.callerPort, holdMs + rampMs + 2500);
  const reasons: string[] = [];
  let probeResult: ProbeResult | undefined;
  let probing = false;
  try {
    const media = await probeCall.media();
    await probe.begin(media.address, media.port);
    probing = true;
  } catch (err) {
    reasons.push(`no probe: ${(err as Error).message}`);
  }
  const uacPids: number[] = [];
  const started = realClock.now();
  const load = runCallers(UAC_PROCESSES, {
    scenario: env.scenario,
    target: target.sip,
    calls: n,
    rate: plan.relayRate,
    service: CALLEE.user,
    holdMs,
    recvTimeoutMs: 10_000,
    onSpawn: (pid) => uacPids.push(pid),
  });
  await sleepUntil(started + plateauFrom);
  const c0 = readCounters(target, uacPids, uasPids);
  if (probing) await probe.measure(true);
  await target.eventLoopStart?.();
  if (profileNow) target.startProfile?.();
  await sleepUntil(started + plateauTo);
  if (probing) await probe.measure(false);
  const loop = await target.eventLoop?.();
  const c1 = readCounters(target, uacPids, uasPids);
  const r = await load;
  if (probing) probeResult = await probe.end();
  const probeEnd = await Promise.race([probeCall.done, sleep(10_000).then(() => undefined)]);
  if (!probeEnd) {
    await probeCall.stop();
    reasons.push('the probe call did not end');
  } else if (!probeEnd.ok) reasons.push(probeEnd.why);
  const w = windowOf(c0, c1);
  if (r.failed > 0) reasons.push(`${r.failed} failed`);
  if (r.successful < n) reasons.push(`${n - r.successful} not completed`);
  if (r.killed) reasons.push('SIPp hit its deadline');
  const addedP50 = probeResult ? probeResult.relay.p50Ms - probeResult.direct.p50Ms : undefined;
  const addedP99 = probeResult ? probeResult.relay.p99Ms - probeResult.direct.p99Ms : undefined;
  if (probeResult && probeResult.relay.received === 0) reasons.push('no probe packet came through');
  if (addedP99 !== undefined && addedP99 >= BAR.p99AddedMs) reasons.push(`p99 added latency ${addedP99.toFixed(2)} ms`);
  const s: RelayStep = {
    calls: n,
    successful: r.successful,
    failed: r.failed,
    window: w,
    callsPerCore: w.cpuPct > 0 ? n / (w.cpuPct / 100) : NaN,
    probe: probeResult,
    loop,
    addedP50Ms: addedP50,
    addedP99Ms: addedP99,
    verdict: 'failed',
    clean: reasons.length === 0,
    why: reasons.length ? reasons.join('; ') : undefined,
  };
  s.verdict = verdictOf(s);
  const split = w.mediaCpuPct === undefined ? '' : ` (Kamailio ${w.signallingCpuPct?.toFixed(0)}%, rtpengine ${w.mediaCpuPct.toFixed(0)}%)`;
  const pr = probeResult;
  log(
    `  ${target.name.padEnd(18)} ${String(n).padStart(4)} calls: ${r.successful}/${n} ok, ${r.failed} failed; ` +
      `over ${w.seconds.toFixed(0)} s with all up: CPU ${w.cpuPct.toFixed(0)}%${split}, ${s.callsPerCore.toFixed(0)} calls/core ` +
      `(SIPp UAC ${w.uacCpuPct.toFixed(0)}%, UAS ${w.uasCpuPct.toFixed(0)}%, others ${w.othersCpuPct.toFixed(0)}%; UDP drops: ${w.targetUdpDrops} at the target, ${w.sippUdpDrops} at SIPp); ` +
      (pr
        ? `probe through relay p50 ${fmtMs(pr.relay.p50Ms)} p99 ${fmtMs(pr.relay.p99Ms)} max ${fmtMs(pr.relay.maxMs)} ms, direct p50 ${fmtMs(pr.direct.p50Ms)} p99 ${fmtMs(pr.direct.p99Ms)} ms, ` +
          `${pr.relay.lost}/${pr.relay.sent} lost`
        : 'no probe') +
      (loop ? `; event loop p99 ${loop.p99Ms.toFixed(1)} max ${loop.maxMs.toFixed(1)} ms, ${loop.idleCollections} quiet-time full GCs (${loop.idleCollectionMs.toFixed(0)} ms)` : '') +
      `  ${s.verdict}${s.why ? `: ${s.why}` : ''}`,
  );
  if ((r.failed > 0 || r.successful < n) && r.errorsTail) log(`    SIPp: ${r.errorsTail.split('\n').filter(Boolean).slice(-3).join(' | ')}`);
  return s;
}

function completed(s: RelayStep): boolean {
  return s.successful === s.calls && s.failed === 0;
}

function verdictOf(s: RelayStep): RelayStep['verdict'] {
  if (!completed(s)) return 'failed';
  if (s.clean) return 'met';
  const keptPace = s.addedP50Ms !== undefined && s.addedP50Ms < BAR.p99AddedMs && s.probe !== undefined && s.probe.relay.lost === 0;
  return keptPace ? 'kept up' : 'behind';
}

async function benchRelay(target: Target, env: Env, passwords: boolean): Promise<RelayReport> {
  const { plan } = env;
  const lifeS = 20 * 60;
  const uas = await startEchoUas(CALLEE.user, lifeS);
  const probeUas = await startProbeUas(PROBE_CALLEE.user, env.probe.calleePort, lifeS);
  const steps: RelayStep[] = [];
  let stop = `highest step tried (${plan.relaySteps[plan.relaySteps.length - 1]} calls) met the bar`;
  try {
    // Kamailio does not challenge REGISTER here; SIPp answers a challenge only when one comes.
    await registerContact(target.sip, CALLEE.user, passwords ? CALLEE.password : 'unused', uas.port);
    await registerContact(target.sip, PROBE_CALLEE.user, passwords ? PROBE_CALLEE.password : 'unused', probeUas.port);
    // Warm-up (JIT, pools, first-touch of tables): not reported.
    const warm = await runCallers(UAC_PROCESSES, { scenario: env.scenario, target: target.sip, calls: 20, rate: 20, service: CALLEE.user, holdMs: 3000 });
    log(`  ${target.name} warm-up: ${warm.successful}/20 ok, ${warm.failed} failed`);
    const last = plan.relaySteps[plan.relaySteps.length - 1];
    for (const n of plan.relaySteps) {
      await settle(target, log, SETTLE_MAX_MS);
      const s = await relayStep(target, env, n, [uas.pid, probeUas.pid], env.profile && n === last);
      steps.push(s);
      // A step that only misses the latency bar still says what the CPU does at the next; failed calls end the ladder.
      if (!completed(s)) {
        stop = `calls failed at ${n} calls (${s.why})`;
        break;
      }
    }
    const missed = steps.filter((s) => !s.clean);
    if (missed.length && steps.length === plan.relaySteps.length) stop = `all calls held; bar missed at ${missed.map((s) => s.calls).join(', ')} calls (${missed[missed.length - 1].why})`;
  } finally {
    await probeUas.stop(1000);
    await uas.stop(1000);
  }
  const last = (ok: (s: RelayStep) => boolean): RelayStep | undefined => [...steps].reverse().find(ok);
  return { target: target.name, steps, best: last((s) => s.verdict === 'met'), kept: last((s) => s.verdict === 'met' || s.verdict === 'kept up'), held: last(completed), stop };
}

// ---------------------------------------------------------------- part 2: IVR calls per second

interface IvrReport {
  steps: StepResult[];
  best?: StepResult;
  stop: string;
}

async function benchIvr(target: Target, env: Env): Promise<IvrReport> {
  const { plan } = env;
  const w: Workload = {
    label: 'IVR',
    scenario: env.scenario,
    service: IVR_EXTEN,
    callsFor: (rate) => Math.round(rate * plan.ivrStepS),
    holdMs: IVR_HOLD_MS,
    extraArgs: mediaArgs(await mediaPort()),
  };
  // The first call has the prompt synthesised (espeak-ng) and cached; then JIT warm-up.
  await step(target, { ...w, label: 'IVR warm-up' }, 5, log, 10);
  const steps: StepResult[] = [];
  let stop = `highest rate tried (${plan.ivrRates[plan.ivrRates.length - 1]}/s) was clean`;
  const last = plan.ivrRates[plan.ivrRates.length - 1];
  for (const rate of plan.ivrRates) {
    await settle(target, log, SETTLE_MAX_MS);
    if (env.profile && rate === last) target.startProfile?.();
    const s = await step(target, w, rate, log);
    steps.push(s);
    if (!s.clean) {
      stop = `first unclean rate ${rate}/s: ${s.why}`;
      if (s.errorsTail) log(`    SIPp: ${s.errorsTail.split('\n').filter(Boolean).slice(-3).join(' | ')}`);
      break;
    }
  }
  return { steps, best: [...steps].reverse().find((s) => s.clean), stop };
}

// ---------------------------------------------------------------- part 3: conference

interface ConfStep {
  participants: number;
  successful: number;
  failed: number;
  /** Switchboard with nobody in a call, just before. */
  idleCpuPct: number;
  window: Window;
  loop?: LoopReport;
  cpuPctPerParticipant: number;
  /** The mixer alone (bench/mixer.ts, G.711 room of this size): µs of CPU per participant per 20 ms tick, and that as CPU %. */
  mixerUsPerParticipant: number;
  mixerCpuPctPerParticipant: number;
  clean: boolean;
  why?: string;
}

async function benchConference(target: Target, env: Env): Promise<ConfStep[]> {
  const { plan } = env;
  const out: ConfStep[] = [];
  // Warm-up (JIT of the codec and mixer paths, the room's first use): not reported.
  const warm = await runLoad({ scenario: env.scenario, target: target.sip, calls: 3, rate: 3, service: ROOM, holdMs: 4000, extraArgs: mediaArgs(await mediaPort()) });
  log(`  conference warm-up: ${warm.successful}/3 ok, ${warm.failed} failed`);
  // What Switchboard burns with nobody in a call (timers, housekeeping): taken once, after the warm-up's calls are gone.
  await settle(target, log, SETTLE_MAX_MS);
  await sleep(1000);
  const i0 = readCounters(target, [], []);
  await sleep(3000);
  const idle = windowOf(i0, readCounters(target, [], []));
  for (const n of plan.confSizes) {
    await settle(target, log, SETTLE_MAX_MS);
    const rate = Math.min(n, 10);
    const rampMs = (n / rate) * 1000;
    const holdMs = rampMs + 2000 + plan.confMeasureS * 1000 + 1000;
    const uacPids: number[] = [];
    const started = realClock.now();
    const load = runLoad({
      scenario: env.scenario,
      target: target.sip,
      calls: n,
      rate,
      service: ROOM,
      holdMs,
      maxConcurrent: n + 5,
      extraArgs: mediaArgs(await mediaPort()),
      onSpawn: (pid) => uacPids.push(pid),
    });
    await sleepUntil(started + rampMs + 2000);
    const c0 = readCounters(target, uacPids, []);
    await target.eventLoopStart?.();
    await sleep(plan.confMeasureS * 1000);
    const loop = await target.eventLoop?.();
    const c1 = readCounters(target, uacPids, []);
    const r = await load;
    const w = windowOf(c0, c1);
    const mixer = measureMixer(Array<number>(n).fill(8000), plan.mixerSeconds);
    const mixerUs = mixer.usPerTick / n;
    const reasons: string[] = [];
    if (r.failed > 0) reasons.push(`${r.failed} failed`);
    if (r.successful < n) reasons.push(`${n - r.successful} not completed`);
    const s: ConfStep = {
      participants: n,
      successful: r.successful,
      failed: r.failed,
      idleCpuPct: idle.cpuPct,
      window: w,
      loop,
      cpuPctPerParticipant: (w.cpuPct - idle.cpuPct) / n,
      mixerUsPerParticipant: mixerUs,
      mixerCpuPctPerParticipant: (mixerUs / 20_000) * 100,
      clean: reasons.length === 0,
      why: reasons.length ? reasons.join('; ') : undefined,
    };
    log(
      `  conference of ${String(n).padStart(3)}: ${r.successful}/${n} ok, ${r.failed} failed; CPU ${w.cpuPct.toFixed(1)}% (idle ${idle.cpuPct.toFixed(1)}%), ` +
        `${s.cpuPctPerParticipant.toFixed(2)}% per participant (SIPp UAC ${w.uacCpuPct.toFixed(0)}%, others ${w.othersCpuPct.toFixed(0)}%); ` +
        (loop ? `event loop p99 ${loop.p99Ms.toFixed(1)} ms; ` : '') +
        `mixer alone ${mixerUs.toFixed(1)} µs/participant/tick = ${s.mixerCpuPctPerParticipant.toFixed(3)}%  ${s.clean ? 'ok' : `NOT CLEAN: ${s.why}`}`,
    );
    out.push(s);
  }
  return out;
}

// ---------------------------------------------------------------- report

interface Report {
  relay?: { switchboard: RelayReport; reference?: RelayReport };
  ivr?: IvrReport;
  conference?: ConfStep[];
  /** Switchboard's self time: the last relay step's plateau onwards, the last IVR rate onwards. */
  profiles?: { relay?: ProfileSummary; ivr?: ProfileSummary };
}

function relayTable(reports: RelayReport[]): string {
  const head = ['target', 'calls', 'failed', 'CPU %', 'calls/core', 'relay p50', 'relay p99', 'direct p50', 'direct p99', 'added p50', 'added p99', 'probe lost', 'drops', 'loop p99', 'full GCs', 'others %', 'verdict'];
  const rows = reports.flatMap((rep) =>
    rep.steps.map((s) => [
      rep.target,
      String(s.calls),
      String(s.failed + (s.calls - s.successful - s.failed)),
      s.window.cpuPct.toFixed(0),
      s.callsPerCore.toFixed(0),
      fmtMs(s.probe?.relay.p50Ms),
      fmtMs(s.probe?.relay.p99Ms),
      fmtMs(s.probe?.direct.p50Ms),
      fmtMs(s.probe?.direct.p99Ms),
      fmtMs(s.addedP50Ms),
      fmtMs(s.addedP99Ms),
      s.probe ? `${s.probe.relay.lost}/${s.probe.relay.sent}` : '-',
      String(s.window.targetUdpDrops),
      s.loop ? s.loop.p99Ms.toFixed(1) : '-',
      s.loop ? `${s.loop.idleCollections} (${s.loop.idleCollectionMs.toFixed(0)} ms)` : '-',
      s.window.othersCpuPct.toFixed(0),
      s.verdict,
    ]),
  );
  return grid([head, ...rows], 1);
}

function grid(rows: string[][], leftCols: number): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i < leftCols ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The largest step both targets kept up with: the like-for-like CPU comparison (neither starved nor behind). */
function commonStep(sb: RelayReport, ref: RelayReport | undefined): [RelayStep | undefined, RelayStep | undefined] {
  const keeps = (s: RelayStep): boolean => s.verdict === 'met' || s.verdict === 'kept up';
  if (!ref) return [sb.kept, undefined];
  const refKept = new Map(ref.steps.filter(keeps).map((s) => [s.calls, s]));
  const both = sb.steps.filter((s) => keeps(s) && refKept.has(s.calls));
  const s = both[both.length - 1];
  return s ? [s, refKept.get(s.calls)] : [undefined, undefined];
}

function buildRows(r: Report, plan: Plan): Row[] {
  const rows: Row[] = [];
  if (r.relay) {
    const sb = r.relay.switchboard;
    const ref = r.relay.reference;
    const [cs, cr] = commonStep(sb, ref);
    const top = plan.relaySteps[plan.relaySteps.length - 1];
    const split = (st: RelayStep | undefined): string =>
      st?.window.mediaCpuPct === undefined ? '' : `reference: Kamailio ${st.window.signallingCpuPct?.toFixed(0)}% + rtpengine ${st.window.mediaCpuPct.toFixed(0)}%`;
    rows.push(
      { metric: 'bridged calls, most meeting the bar', switchboard: sb.best?.calls, kamailio: ref?.best?.calls, note: `0 failed, p99 added < ${BAR.p99AddedMs} ms; steps ${plan.relaySteps.join(', ')}` },
      { metric: 'bridged calls, most kept up with', switchboard: sb.kept?.calls, kamailio: ref?.kept?.calls, note: `0 failed, p50 added < ${BAR.p99AddedMs} ms, no probe loss: the relay keeps pace` },
      { metric: '  CPU % there (100 = 1 core)', switchboard: sb.kept?.window.cpuPct, kamailio: ref?.kept?.window.cpuPct, note: split(ref?.kept) },
      { metric: '  calls per core busy', switchboard: sb.kept?.callsPerCore, kamailio: ref?.kept?.callsPerCore, note: 'calls / (CPU % / 100); Asterisk and FreeSWITCH: several hundred' },
      { metric: '  p50 added media latency, ms', switchboard: sb.kept?.addedP50Ms, kamailio: ref?.kept?.addedP50Ms, digits: 3, note: 'probe through the relay minus socket to socket' },
      { metric: '  p99 added media latency, ms', switchboard: sb.kept?.addedP99Ms, kamailio: ref?.kept?.addedP99Ms, digits: 3, note: `the bar: under ${BAR.p99AddedMs} ms` },
      { metric: '  datagrams dropped at its sockets', switchboard: sb.kept?.window.targetUdpDrops, kamailio: ref?.kept?.window.targetUdpDrops },
      { metric: '  other jobs on the host, CPU %', switchboard: sb.kept?.window.othersCpuPct, kamailio: ref?.kept?.window.othersCpuPct, note: 'not ours: a shared machine; high = latency suspect' },
      { metric: 'bridged calls, most held with 0 failed', switchboard: sb.held?.calls, kamailio: ref?.held?.calls, note: `however late the media; ${top} is the most tried` },
      { metric: `CPU % at ${cs?.calls ?? '-'} calls (both kept up)`, switchboard: cs?.window.cpuPct, kamailio: cr?.window.cpuPct, digits: 1, note: `the like-for-like point; ${split(cr)}` },
      { metric: '  p99 added media latency there, ms', switchboard: cs?.addedP99Ms, kamailio: cr?.addedP99Ms, digits: 3 },
      {
        metric: '  Switchboard event-loop delay p99 there, ms',
        switchboard: cs?.loop?.p99Ms,
        digits: 1,
        note: cs?.loop?.idleCollections ? `${cs.loop.idleCollections} quiet-time full GC(s), ${cs.loop.idleCollectionMs.toFixed(0)} ms` : 'no quiet-time full GC',
      },
    );
  }
  if (r.ivr) {
    const b = r.ivr.best;
    rows.push(
      { metric: 'IVR calls/s, highest with 0 failed', switchboard: b?.rate, note: `answer + say (cached) + gather, caller leaves after ${IVR_HOLD_MS / 1000} s; no Kamailio equivalent` },
      { metric: '  achieved calls/s', switchboard: b?.achievedRate, digits: 1 },
      { metric: '  CPU % at that rate', switchboard: b?.cpuPct },
      { metric: '  CPU ms per IVR call', switchboard: b ? b.cpuUsPerCall / 1000 : undefined, digits: 2, note: 'set-up, prompt playout, tear-down' },
    );
  }
  for (const c of r.conference ?? []) {
    rows.push({
      metric: `conference of ${c.participants}: CPU % per participant`,
      switchboard: c.cpuPctPerParticipant,
      digits: 2,
      note: `room ${(c.window.cpuPct - c.idleCpuPct).toFixed(1)}% over idle; mixer alone ${c.mixerCpuPctPerParticipant.toFixed(3)}% a participant (${c.mixerUsPerParticipant.toFixed(1)} µs per 20 ms)`,
    });
  }
  return rows;
}

// ---------------------------------------------------------------- main

const USAGE = `usage: npm run bench:pbx [-- options]

The PBX under SIPp load with media on 127.0.0.1: concurrent bridged calls
(against Kamailio + rtpengine in the same run), IVR calls per second, and
conference cost per participant. About 9 minutes; never run in CI.

options:
  --quick            fewer and shorter steps (about 3 minutes)
  --parts LIST       some of: relay, ivr, conference (comma-separated; default all)
  --no-reference     no Kamailio + rtpengine run
  --steps LIST       relay steps, concurrent calls (default ${FULL.relaySteps.join(',')})
  --hold S           seconds each relay call is held (default ${FULL.relayHoldS}; at least ramp + 8)
  --profile          V8 CPU profiles of Switchboard: the last relay step's plateau, the last IVR rate
  --help             this text
`;

interface Options {
  plan: Plan;
  parts: Set<string>;
  reference: boolean;
  profile: boolean;
}

function parseArgs(argv: string[]): Options | string {
  const flags = new Set(['--quick', '--no-reference', '--profile', '--help', '-h']);
  const valued = new Set(['--parts', '--steps', '--hold']);
  const values = new Map<string, string>();
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (flags.has(a)) seen.add(a);
    else if (valued.has(a)) {
      const v = argv[++i];
      if (v === undefined) return `${a} needs a value`;
      values.set(a, v);
    } else return `unknown option ${a}`;
  }
  if (seen.has('--help') || seen.has('-h')) return '';
  const plan: Plan = { ...(seen.has('--quick') ? QUICK : FULL) };
  const steps = values.get('--steps');
  if (steps !== undefined) {
    const list = steps.split(',').map(Number);
    if (!list.every((n) => Number.isInteger(n) && n >= 1 && n <= 5000)) return '--steps takes concurrent call counts 1..5000, e.g. 50,100,200';
    plan.relaySteps = list;
  }
  const hold = values.get('--hold');
  if (hold !== undefined) {
    const h = Number(hold);
    if (!(h >= 5 && h <= 300)) return '--hold takes seconds, 5..300';
    plan.relayHoldS = h;
  }
  const all = ['relay', 'ivr', 'conference'];
  const parts = new Set((values.get('--parts') ?? all.join(',')).split(',').map((p) => p.trim()));
  const bad = [...parts].filter((p) => !all.includes(p));
  if (bad.length) return `unknown part ${bad.join(', ')}; parts are ${all.join(', ')}`;
  return { plan, parts, reference: !seen.has('--no-reference'), profile: seen.has('--profile') };
}

async function withTarget<T extends Target, R>(start: () => Promise<T>, run: (t: T) => Promise<R>): Promise<R> {
  const t = await start();
  try {
    return await run(t);
  } finally {
    await t.stop();
  }
}

async function main(): Promise<void> {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === 'string') {
    if (parsed) process.stderr.write(`${parsed}\n\n`);
    process.stdout.write(USAGE);
    process.exitCode = parsed ? 2 : 0;
    return;
  }
  const { plan, parts } = parsed;
  if (!hasBinary('sipp')) {
    log(`sipp is not installed; install it with: sudo bash ${path.join(ROOT, 'scripts', 'install-peers.sh')}`);
    process.exitCode = 1;
    return;
  }
  let reference = parsed.reference && parts.has('relay');
  if (reference && (!kamailioBinary() || !hasRtpengine())) {
    log('the reference needs kamailio (with its rtpengine module) and rtpengine (Debian: kamailio, rtpengine-daemon); running Switchboard only');
    reference = false;
  }
  const cpus = os.cpus();
  const env = {
    date: new Date().toISOString(),
    host: `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB`,
    node: process.version,
    sipp: spawnSync('sipp', ['-v'], { encoding: 'utf8' }).stdout?.match(/SIPp v[^\s,]+/)?.[0] ?? 'unknown',
    kamailio: reference ? (spawnSync(kamailioBinary() as string, ['-v'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() ?? 'unknown') : undefined,
    rtpengine: reference ? rtpengineVersion() : undefined,
    plan,
  };
  log(`bench:pbx on ${env.host}; node ${env.node}; ${env.sipp}${reference ? `; ${env.kamailio}; ${env.rtpengine}` : ''}`);
  log('Everything runs on this machine: SIPp callers and callees share the cores with the system under test.');

  const work = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-pbx-'));
  const probe = await RtpProbe.start(fileURLToPath(import.meta.url), PROBE_ARG);
  const report: Report = {};
  try {
    const scenario = mediaCallScenario(work, writeToneFile(path.join(work, 'tone-1k.ulaw')));
    const ctx: Env = { work, scenario, probe, plan, profile: parsed.profile };
    const users = [CALLEE, PROBE_CALLEE];
    const profileDir = (part: string): string | undefined => (parsed.profile ? path.join(work, `profile-${part}`) : undefined);
    /** The profile a part's Switchboard wrote when it stopped, kept outside the repository (megabytes: open in Chrome DevTools). */
    const profileOf = (part: string): ProfileSummary | undefined => {
      const dir = profileDir(part);
      const file = dir && path.join(dir, 'switchboard.cpuprofile');
      if (!file || !existsSync(file)) return undefined;
      const keepDir = path.join(os.tmpdir(), 'switchboard-bench-profiles');
      mkdirSync(keepDir, { recursive: true });
      copyFileSync(file, path.join(keepDir, `pbx-${part}.cpuprofile`));
      log(`  profile kept in ${path.join(keepDir, `pbx-${part}.cpuprofile`)}`);
      return summarizeProfile(file, ROOT);
    };
    const switchboard = (part: string): Promise<Target> => {
      const dir = profileDir(part);
      if (dir) mkdirSync(dir, { recursive: true });
      return startSwitchboard({ workDir: path.join(work, `sb-${part}`), users, extraYaml: PBX_YAML, profileDir: dir });
    };

    if (parts.has('relay')) {
      log(`\n== Bridged calls: Switchboard PBX (relay, one Node process); steps ${plan.relaySteps.join(', ')} calls at ${plan.relayRate} calls/s, held ${plan.relayHoldS} s ==`);
      const sb = await withTarget(() => switchboard('relay'), (t) => benchRelay(t, ctx, true));
      const p = profileOf('relay');
      if (p) report.profiles = { ...report.profiles, relay: p };
      let ref: RelayReport | undefined;
      if (reference) {
        log(`\n== Bridged calls: Kamailio (children=${KAMAILIO_CHILDREN}) + rtpengine (userspace, ${RTPENGINE_THREADS} threads) ==`);
        ref = await withTarget(
          () => startKamailioRtpengine({ workDir: path.join(work, 'kam'), children: KAMAILIO_CHILDREN, threads: RTPENGINE_THREADS }),
          (t) => benchRelay(t, ctx, false),
        );
      }
      report.relay = { switchboard: sb, reference: ref };
    }
    if (parts.has('ivr')) {
      log(`\n== IVR calls per second: answer + say (cached) + gather; rates ${plan.ivrRates.join(', ')}/s for ${plan.ivrStepS} s each ==`);
      report.ivr = await withTarget(() => switchboard('ivr'), (t) => benchIvr(t, ctx));
      const p = profileOf('ivr');
      if (p) report.profiles = { ...report.profiles, ivr: p };
    }
    if (parts.has('conference')) {
      log(`\n== Conference: ${plan.confSizes.join(', ')} callers with media in one room ==`);
      report.conference = await withTarget(() => switchboard('conference'), (t) => benchConference(t, ctx));
    }
  } finally {
    probe.close();
    rmSync(work, { recursive: true, force: true });
  }

  log('\n== Results ==');
  if (report.relay) {
    for (const r of [report.relay.switchboard, report.relay.reference]) if (r) log(`  ${r.target}: ${r.stop}`);
    log('');
    log(relayTable([report.relay.switchboard, ...(report.relay.reference ? [report.relay.reference] : [])]));
  }
  if (report.ivr) log(`  IVR: ${report.ivr.stop}`);
  const rows = buildRows(report, plan);
  log('');
  log(formatTable(rows, { reference: 'Kamailio+rtpengine', ratio: 'SB/ref' }));
  const printProfile = (title: string, p: ProfileSummary | undefined): void => {
    if (!p) return;
    log(`\n${title}: ${p.totalMs.toFixed(0)} ms profiled, ${(p.totalMs - p.idleMs).toFixed(0)} ms busy; top self time (share of busy):`);
    for (const [i, t] of p.top.entries()) log(`  ${String(i + 1).padStart(2)}. ${t.pct.toFixed(1).padStart(5)}%  ${t.selfMs.toFixed(0).padStart(6)} ms  ${t.fn}`);
  };
  printProfile(`Switchboard, ${plan.relaySteps[plan.relaySteps.length - 1]} bridged calls (plateau onwards)`, report.profiles?.relay);
  printProfile(`Switchboard, IVR at ${plan.ivrRates[plan.ivrRates.length - 1]} calls/s`, report.profiles?.ivr);
  const out = path.join(ROOT, 'bench', 'results', `pbx-${env.date.slice(0, 10)}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  const summary = rows.map((r) => ({ ...r, ratio: ratio(r.switchboard, r.kamailio) }));
  writeFileSync(out, JSON.stringify({ env, summary, ...report }, null, 2) + '\n');
  log(`\nwrote ${path.relative(ROOT, out)}`);
}

if (process.argv.includes(PROBE_ARG)) probeChild();
else runMain(main);
