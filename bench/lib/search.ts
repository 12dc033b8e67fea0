/**
 * Measuring a target under SIPp load: one step at a fixed rate, and the
 * search for the highest rate it sustains with zero failed calls.
 */
import { realClock } from '../../src/util/clock.js';
import { sleep } from '../../test/helpers/process.js';
import { memPoint, type MemPoint } from './memory.js';
import { cpuSeconds, hostBusySeconds, udpReceiveBufferErrors, type Memory } from './procstat.js';
import { runLoad, type LoadOptions } from './sipp-load.js';
import type { Target } from './targets.js';

/** What one SIPp "call" is: a whole INVITE dialog, or one (challenged) registration. */
export interface Workload {
  label: string;
  scenario: string;
  service?: string;
  injectCsv?: string;
  /** How many calls a step at `rate` makes. */
  callsFor(rate: number): number;
  /** The SIPp UAS answering the calls, to count its CPU too. */
  uasPid?: number;
  /** -d for each call's <pause/>, ms. */
  holdMs?: number;
  /** More SIPp options for the UAC. */
  extraArgs?: string[];
}

export interface StepResult {
  rate: number;
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** Datagrams the kernel dropped (full receive buffers, any socket) during the step. */
  udpDrops: number;
  achievedRate: number;
  /** The target's CPU over the run, 100 = one core. */
  cpuPct: number;
  /** The SIPp UAC's CPU, 100 = one core. */
  sippCpuPct: number;
  /** The SIPp UAS's CPU (call steps). */
  uasCpuPct?: number;
  /** CPU used by everything else on the host (other people's jobs share this machine), 100 = one core. */
  othersCpuPct: number;
  cpuUsPerCall: number;
  memory: Memory;
  /** Memory just before the step and right after it (transactions of the step still alive). */
  memBefore: MemPoint;
  memAfter: MemPoint;
  /** realClock.now() when SIPp finished, for a later drain(). */
  endedAt: number;
  clean: boolean;
  /** Why a step is not clean. */
  why?: string;
  errorsTail?: string;
}

/** A step counts as sustained if SIPp got within this fraction of the asked rate. */
const RATE_TOLERANCE = 0.9;

export type Log = (line: string) => void;

function fmtRate(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export async function step(target: Target, w: Workload, rate: number, log: Log, calls = w.callsFor(rate)): Promise<StepResult> {
  const memBefore = await memPoint(target);
  const cpu0 = target.cpuSeconds();
  const drops0 = udpReceiveBufferErrors();
  const host0 = hostBusySeconds();
  const uas0 = w.uasPid ? cpuSeconds(w.uasPid) : 0;
  const opts: LoadOptions = { scenario: w.scenario, target: target.sip, calls, rate, service: w.service, injectCsv: w.injectCsv, holdMs: w.holdMs, extraArgs: w.extraArgs };
  const r = await runLoad(opts);
  const cpu = target.cpuSeconds() - cpu0;
  const udpDrops = udpReceiveBufferErrors() - drops0;
  const host = hostBusySeconds() - host0;
  const uas = w.uasPid ? cpuSeconds(w.uasPid) - uas0 : 0;
  const endedAt = realClock.now();
  const memAfter = await memPoint(target);
  const pct = (sec: number): number => (r.wallS > 0 ? (sec / r.wallS) * 100 : 0);
  const mem = target.memory();
  const reasons: string[] = [];
  if (r.failed > 0) reasons.push(`${r.failed} failed`);
  if (r.successful < calls) reasons.push(`${calls - r.successful} not completed`);
  if (r.killed) reasons.push('SIPp hit its deadline');
  if (r.achievedRate < rate * RATE_TOLERANCE) reasons.push(`SIPp reached only ${fmtRate(r.achievedRate)}/s`);
  const res: StepResult = {
    rate,
    calls,
    successful: r.successful,
    failed: r.failed,
    retransmissions: r.retransmissions,
    udpDrops,
    achievedRate: r.achievedRate,
    cpuPct: pct(cpu),
    sippCpuPct: pct(r.sippCpuS),
    uasCpuPct: w.uasPid ? pct(uas) : undefined,
    othersCpuPct: Math.max(0, pct(host - cpu - r.sippCpuS - uas)),
    cpuUsPerCall: r.successful > 0 ? (cpu * 1e6) / r.successful : NaN,
    memory: mem,
    memBefore,
    memAfter,
    endedAt,
    clean: reasons.length === 0,
    why: reasons.length ? reasons.join(', ') : undefined,
    errorsTail: reasons.length ? r.errorsTail : undefined,
  };
  log(
    `  ${target.name.padEnd(11)} ${w.label.padEnd(14)} ${fmtRate(rate).padStart(6)}/s: ` +
      `${r.successful}/${calls} ok, ${r.failed} failed, ${r.retransmissions} retrans, ${udpDrops} UDP drops, ` +
      `achieved ${fmtRate(r.achievedRate)}/s, CPU ${res.cpuPct.toFixed(0)}% ` +
      `(SIPp UAC ${res.sippCpuPct.toFixed(0)}%${res.uasCpuPct === undefined ? '' : `, UAS ${res.uasCpuPct.toFixed(0)}%`}, others ${res.othersCpuPct.toFixed(0)}%), ` +
      `${res.cpuUsPerCall.toFixed(0)} µs/call, PSS ${memBefore.pssMb.toFixed(0)} -> ${memAfter.pssMb.toFixed(0)} MB` +
      `${memAfter.heapUsedMb === undefined ? '' : ` (heap ${memBefore.heapUsedMb?.toFixed(0)} -> ${memAfter.heapUsedMb.toFixed(0)} MB)`}` +
      `  ${res.clean ? 'ok' : `NOT CLEAN: ${res.why}`}`,
  );
  return res;
}

/** Host CPU (100 = one core) that is not ours, below which a step may start. */
const QUIET_HOST_PCT = 30;

/**
 * Waits until the target is idle (retransmissions and transaction timers of
 * the previous step have died down), so one step's tail does not load the
 * next, and, for at most `maxMs`, until the rest of the machine is quiet:
 * other jobs on a shared 2-core host skew every number. Returns whether it was.
 */
export async function settle(target: Target, log?: Log, maxMs = 30_000): Promise<boolean> {
  const deadline = realClock.now() + maxMs;
  let waitedForHost = false;
  while (realClock.now() < deadline) {
    const c0 = target.cpuSeconds();
    const h0 = hostBusySeconds();
    await sleep(500);
    const targetPct = ((target.cpuSeconds() - c0) / 0.5) * 100;
    const othersPct = ((hostBusySeconds() - h0) / 0.5) * 100 - targetPct;
    if (targetPct < 5 && othersPct < QUIET_HOST_PCT) return true;
    if (targetPct < 5 && !waitedForHost) {
      waitedForHost = true;
      log?.(`  (waiting up to ${Math.round((deadline - realClock.now()) / 1000)} s for other processes to quiet down: ${othersPct.toFixed(0)}% CPU not ours)`);
    }
  }
  log?.('  (host still busy; measuring anyway, see "others" in the step line)');
  return false;
}

export interface SearchResult {
  best?: StepResult;
  steps: StepResult[];
  /** Why the search stopped. */
  stop: string;
}

/**
 * Walks up `rates` until a step is not clean, then tries up to two rates
 * between the last clean one and the failing one. Bounded by the list and
 * by `budgetMs` of wall time.
 */
export async function searchRate(target: Target, w: Workload, rates: number[], log: Log, budgetMs = 150_000): Promise<SearchResult> {
  const started = realClock.now();
  const steps: StepResult[] = [];
  let best: StepResult | undefined;
  let failedAt: StepResult | undefined;
  for (const rate of rates) {
    if (realClock.now() - started > budgetMs) break;
    await settle(target, log);
    const s = await step(target, w, rate, log);
    steps.push(s);
    if (!s.clean) {
      failedAt = s;
      break;
    }
    best = s;
  }
  // Refine between the last clean rate and the first failing one (at most twice).
  for (let i = 0; i < 2 && failedAt && realClock.now() - started <= budgetMs; i++) {
    const low = best?.rate ?? 0;
    const mid = Math.round((low + failedAt.rate) / 2 / 250) * 250;
    if (mid <= low || mid >= failedAt.rate || failedAt.rate - low < Math.max(500, low * 0.15)) break;
    await settle(target, log);
    const s = await step(target, w, mid, log);
    steps.push(s);
    if (s.clean) best = s;
    else failedAt = s;
  }
  const stop = failedAt
    ? `first unclean step ${fmtRate(failedAt.rate)}/s: ${failedAt.why}`
    : steps.length === rates.length
      ? `highest step tried (${fmtRate(rates[rates.length - 1])}/s) was clean`
      : 'time budget used up';
  return { best, steps, stop };
}
