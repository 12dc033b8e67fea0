/**
 * `npm run bench:proxy` — SIPp UAC → proxy → SIPp UAS on 127.0.0.1, against
 * Switchboard and against Kamailio running an equivalent script (registrar
 * with a memory-only location table + record-routing stateful proxy, 2 UDP
 * workers). For each: the highest call rate with zero failed calls, CPU and
 * memory there, CPU µs per call at a fixed 1,000 calls/s, and the same for
 * REGISTER with 10,000 distinct users; then the ratio Switchboard/Kamailio.
 *
 *   npm run bench:proxy                     the comparison (about 12 minutes)
 *   npm run bench:proxy -- --profile        also profile Switchboard (V8 profiler, about 1 min more)
 *   npm run bench:proxy -- --no-kamailio    Switchboard only
 *   npm run bench:proxy -- --memory         memory only: a few fixed-rate steps (about 4 minutes)
 *
 * Memory is read before every step, right after it, and DRAIN_MS later (once
 * the 32 s transaction lifetimes have passed); Switchboard also reports its
 * V8 heap and the heap one registration costs.
 *
 * Results: a table on stdout and bench/results/proxy-<date>.json.
 * A benchmark, not a test: nothing here fails on a number.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasBinary } from '../test/helpers/peers.js';
import { sleep } from '../test/helpers/process.js';
import { runSipp, SCENARIOS_DIR, startSippUas, writeUsersCsv } from '../test/helpers/sipp.js';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { formatHeapSummary, summarizeHeapSnapshot, type HeapSummary } from './lib/heapsnapshot.js';
import { pidsWithArgs, processTree, type Memory } from './lib/procstat.js';
import { drain, DRAIN_MS, fmtPoint, memPoint, type MemPoint } from './lib/memory.js';
import { formatTable, ratio, type Row } from './lib/report.js';
import { SIPP_SOCKET_BUFFER } from './lib/sipp-load.js';
import { runMain } from './lib/run-main.js';
import { searchRate, settle, step, type SearchResult, type StepResult, type Workload } from './lib/search.js';
import { kamailioBinary, repoRoot, startKamailio, startSwitchboard, type BenchUser, type Target } from './lib/targets.js';

const ROOT = repoRoot();
const CALLEE = 'callee';
const CALLEE_PASSWORD = 'Callee-bench-pass-1';
const REGISTER_USERS = 10_000;
/** Kamailio's UDP workers; Switchboard is one Node process (one event loop). */
const KAMAILIO_CHILDREN = 2;
const FIXED_RATE = 1000;
const FIXED_CALLS = 5000;
const CALL_RATES = [500, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000];
const REGISTER_RATES = [2000, 5000, 10000, 15000, 20000, 25000, 30000, 35000, 40000, 50000];
/** Each call step runs 5 s at its rate. */
const callsFor = (rate: number): number => rate * 5;
/** Each REGISTER step covers all 10,000 users at least once, and at most 10 s. */
const registersFor = (rate: number): number => Math.min(rate * 10, Math.max(REGISTER_USERS, rate * 4));

/** The callee rings 20 ms before answering (see the scenario for why). */
const UAS_SCENARIO = path.join(ROOT, 'bench', 'scenarios', 'uas-ring-answer.xml');
/** The UAS gets the same large socket buffer as the UAC. */
const UAS_ARGS = ['-buff_size', String(SIPP_SOCKET_BUFFER)];

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

interface CallBench {
  /** The fixed-rate run with the lowest CPU per call (of FIXED_REPEATS, clean ones first). */
  fixed: StepResult;
  fixedRuns: StepResult[];
  search: SearchResult;
  /** Right after the last step. */
  memory: Memory;
  /** Before the warm-up, and once every transaction of the last step has ended (DRAIN_MS later). */
  memStart: MemPoint;
  memDrained: MemPoint;
  /** Switchboard's own view right after the runs: transactions and dialogs still held. */
  status?: Record<string, unknown>;
}

interface RegisterBench {
  search: SearchResult;
  /** Right after the last step. */
  memory: Memory;
  /** Before the first step and DRAIN_MS after the last (Switchboard: after a full GC, for the heap). */
  memStart: MemPoint;
  memDrained: MemPoint;
  memDrainedGc?: MemPoint;
  /** V8 heap per registered user in steady state, KB (Switchboard). */
  heapKbPerRegistration?: number;
}

interface TargetReport {
  processes: number;
  calls?: CallBench;
  register?: RegisterBench;
  registerNoAuth?: RegisterBench;
}

function users(): BenchUser[] {
  const list: BenchUser[] = [];
  for (let i = 1; i <= REGISTER_USERS; i++) {
    const id = String(i).padStart(5, '0');
    list.push({ user: `u${id}`, password: `Pw-${id}-bench` });
  }
  return list;
}

/** Points the callee at the SIPp UAS (REGISTER with credentials; Kamailio never challenges). */
async function bindCallee(target: Target, uasPort: number): Promise<void> {
  const r = await runSipp({
    scenario: 'register-contact.xml',
    target: target.sip,
    transport: 'u1',
    keys: { user: CALLEE, domain: '127.0.0.1', contact: `127.0.0.1:${uasPort}`, expires: '3600' },
    authUser: CALLEE,
    authPass: CALLEE_PASSWORD,
    calls: 1,
    timeoutS: 10,
  });
  if (r.successful !== 1) throw new Error(`could not register ${CALLEE} at ${target.name}: ${r.errors.slice(-1500)} ${r.stderr.slice(-500)}`);
}

const callWorkload: Workload = {
  label: 'calls',
  scenario: path.join(SCENARIOS_DIR, 'uac-call.xml'),
  service: CALLEE,
  callsFor,
};

/** The fixed-rate measurement is repeated: other jobs on a shared host inflate single runs. */
const FIXED_REPEATS = 2;

function lowestCpu(runs: StepResult[]): StepResult {
  const pool = runs.some((r) => r.clean) ? runs.filter((r) => r.clean) : runs;
  return pool.reduce((a, b) => (b.cpuUsPerCall < a.cpuUsPerCall ? b : a));
}

async function benchCalls(target: Target): Promise<CallBench> {
  // The UAS answers every call for the whole run; it outlives all steps.
  const uas = await startSippUas({ scenario: UAS_SCENARIO, service: CALLEE, timeoutS: 1200, extraArgs: UAS_ARGS });
  try {
    await bindCallee(target, uas.port);
    const w: Workload = { ...callWorkload, uasPid: pidsWithArgs('sipp', ['-p', String(uas.port)])[0] };
    const memStart = await memPoint(target);
    // Warm-up at the fixed rate (JIT, heap growth, Kamailio's first touch of its shm): not reported.
    await step(target, { ...w, label: 'warm-up' }, FIXED_RATE, log, FIXED_CALLS);
    const fixedRuns: StepResult[] = [];
    for (let i = 0; i < FIXED_REPEATS; i++) {
      await settle(target, log);
      fixedRuns.push(await step(target, { ...w, label: 'fixed 1000/s' }, FIXED_RATE, log, FIXED_CALLS));
    }
    const search = await searchRate(target, w, CALL_RATES, log);
    await settle(target);
    const memory = target.memory();
    const status = await target.status?.();
    const memDrained = await drainedPoint(target, search, false);
    return { fixed: lowestCpu(fixedRuns), fixedRuns, search, memory, memStart, memDrained, status };
  } finally {
    await uas.stop(1000);
  }
}

/** Memory once every transaction of the search's last step has ended; logged. */
async function drainedPoint(target: Target, search: SearchResult, gc: boolean): Promise<MemPoint> {
  const last = search.steps[search.steps.length - 1];
  if (last) await drain(last.endedAt);
  const p = await memPoint(target, gc);
  log(`  ${target.name} ${DRAIN_MS / 1000} s after the last step${gc ? ', after a full GC' : ''}: ${fmtPoint(p)}`);
  return p;
}

/** Registrations of the REGISTER warm-up: code paths compiled and tables grown before the heap is measured. */
const WARM_UP_REGISTRATIONS = 1000;

/**
 * Registers the first WARM_UP_REGISTRATIONS users and waits for their
 * transactions to end, so the heap measured next holds the JIT's code and
 * the tables' first growth, and a later difference is the bindings alone.
 */
async function registerWarmUp(target: Target, csv: string): Promise<void> {
  const w: Workload = { label: 'REG warm-up', scenario: path.join(SCENARIOS_DIR, 'register-auth.xml'), injectCsv: csv, callsFor: registersFor };
  const s = await step(target, w, REGISTER_RATES[0], log, WARM_UP_REGISTRATIONS);
  await drain(s.endedAt);
}

/** Heap per binding added between two points taken after a full GC, KB. */
function heapPerRegistration(before: MemPoint, after: MemPoint | undefined): number | undefined {
  if (after?.heapUsedMb === undefined || before.heapUsedMb === undefined || after.registrations === undefined || before.registrations === undefined) return undefined;
  const added = after.registrations - before.registrations;
  return added > 0 ? ((after.heapUsedMb - before.heapUsedMb) * 1024) / added : undefined;
}

async function benchRegister(target: Target, csv: string, scenario: string, label: string): Promise<RegisterBench> {
  const w: Workload = { label, scenario, injectCsv: csv, callsFor: registersFor };
  if (target.inside) await registerWarmUp(target, csv);
  // With a GC, so the heap difference below is what the registrations hold, not garbage.
  const memStart = await memPoint(target, target.inside !== undefined);
  const search = await searchRate(target, w, REGISTER_RATES, log);
  await settle(target);
  const memory = target.memory();
  const memDrained = await drainedPoint(target, search, false);
  const memDrainedGc = target.inside ? await memPoint(target, true) : undefined;
  const heapKbPerRegistration = heapPerRegistration(memStart, memDrainedGc);
  if (memDrainedGc) log(`  ${target.name} after a full GC: ${fmtPoint(memDrainedGc)}; ${heapKbPerRegistration?.toFixed(2)} KB of heap per registration`);
  return { search, memory, memStart, memDrained, memDrainedGc, heapKbPerRegistration };
}

function kamailioVersion(): string {
  const bin = kamailioBinary();
  if (!bin) return 'not installed';
  try {
    return execFileSync(bin, ['-v'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

/** Installs Kamailio when missing and we may (root); otherwise says how. */
function ensureKamailio(): boolean {
  if (kamailioBinary()) return true;
  const script = path.join(ROOT, 'scripts', 'install-peers.sh');
  if (process.getuid?.() !== 0) {
    log(`kamailio is not installed; install it with:  sudo bash ${script}   (Debian package "kamailio")`);
    return false;
  }
  log('kamailio is not installed; running scripts/install-peers.sh');
  const r = spawnSync('bash', [script], { stdio: 'inherit', timeout: 15 * 60_000 });
  if (r.status !== 0 || !kamailioBinary()) {
    log(`installing kamailio failed (exit ${r.status}); run by hand: sudo bash ${script}`);
    return false;
  }
  return true;
}

async function withTarget<T>(start: () => Promise<Target>, run: (t: Target) => Promise<T>): Promise<T> {
  const t = await start();
  try {
    return await run(t);
  } finally {
    await t.stop();
  }
}

interface ProfileReport {
  calls: ProfileSummary;
  register: ProfileSummary;
}

/**
 * Switchboard under the V8 CPU profiler, started after a warm-up so the
 * profile holds only the measured load: calls at 1,000/s, and REGISTER
 * (digest auth, 10,000 users) at 2,000/s.
 */
async function profileSwitchboard(work: string, csv: string, allUsers: BenchUser[]): Promise<ProfileReport> {
  const one = async (name: string, run: (t: Target) => Promise<void>): Promise<ProfileSummary> => {
    const dir = path.join(work, `profile-${name}`);
    mkdirSync(dir, { recursive: true });
    await withTarget(() => startSwitchboard({ workDir: path.join(work, `sb-prof-${name}`), users: allUsers, profileDir: dir }), run);
    const file = path.join(dir, 'switchboard.cpuprofile');
    // Kept outside the repository (they are megabytes): open in Chrome DevTools or speedscope.
    const keepDir = path.join(os.tmpdir(), 'switchboard-bench-profiles');
    mkdirSync(keepDir, { recursive: true });
    const keep = path.join(keepDir, `proxy-${name}.cpuprofile`);
    copyFileSync(file, keep);
    log(`  profile kept in ${keep}`);
    return summarizeProfile(file, ROOT);
  };
  const profiled = async (t: Target, measure: () => Promise<void>): Promise<void> => {
    await settle(t, log);
    t.startProfile?.();
    await sleep(300); // the profiler starts asynchronously in the target
    await measure();
  };
  const calls = await one('calls', async (t) => {
    const uas = await startSippUas({ scenario: UAS_SCENARIO, service: CALLEE, timeoutS: 600, extraArgs: UAS_ARGS });
    try {
      await bindCallee(t, uas.port);
      await step(t, { ...callWorkload, label: 'prof warm-up' }, FIXED_RATE, log, FIXED_CALLS);
      await profiled(t, async () => {
        await step(t, { ...callWorkload, label: 'prof 1000/s' }, FIXED_RATE, log, FIXED_CALLS);
      });
    } finally {
      await uas.stop(1000);
    }
  });
  const register = await one('register', async (t) => {
    const w: Workload = { label: 'prof REGISTER', scenario: path.join(SCENARIOS_DIR, 'register-auth.xml'), injectCsv: csv, callsFor: registersFor };
    await step(t, { ...w, label: 'prof warm-up' }, 2000, log, REGISTER_USERS);
    await profiled(t, async () => {
      await step(t, w, 2000, log, REGISTER_USERS);
    });
  });
  return { calls, register };
}

interface MemoryStepReport {
  label: string;
  step: StepResult;
  /** DRAIN_MS after the step, as the OS sees it, then after a full GC. */
  drained: MemPoint;
  drainedGc: MemPoint;
}

interface MemoryReport {
  start: MemPoint;
  steps: MemoryStepReport[];
  heapKbPerRegistration?: number;
  snapshots: Record<string, HeapSummary>;
}

/**
 * `--memory`: Switchboard alone, a few fixed-rate steps (calls at 1,000 and
 * 2,000/s, REGISTER for every user at 2,000/s), each measured before, right
 * after and DRAIN_MS later, plus the heap one registration costs. About three
 * minutes, to repeat while changing code; `--snapshot` also writes heap
 * snapshots (right after the REGISTER step, with every user registered, and
 * right after the 2,000/s calls) and prints what holds the heap.
 */
async function benchMemory(work: string, csv: string, allUsers: BenchUser[], snapshots: boolean, env: Record<string, string>, nodeArgs: string[]): Promise<MemoryReport> {
  const snapDir = path.join(os.tmpdir(), 'switchboard-bench-heap');
  if (snapshots) mkdirSync(snapDir, { recursive: true });
  return withTarget(
    () => startSwitchboard({ workDir: path.join(work, 'sb-mem'), users: allUsers, env, nodeArgs }),
    async (t): Promise<MemoryReport> => {
      const report: MemoryReport = { start: await memPoint(t, true), steps: [], snapshots: {} };
      log(`  at start, after a full GC: ${fmtPoint(report.start)}`);
      const snapshot = async (name: string): Promise<void> => {
        if (!snapshots || !t.heapSnapshot) return;
        log('  (writing a heap snapshot: the process keeps the memory it used for it, so RSS and PSS are inflated from here on)');
        const file = path.join(snapDir, `proxy-${name}.heapsnapshot`);
        await t.heapSnapshot(file);
        report.snapshots[name] = summarizeHeapSnapshot(file);
        log(`  heap snapshot ${file}:`);
        for (const line of formatHeapSummary(report.snapshots[name])) log(`    ${line}`);
      };
      const measured = async (w: Workload, rate: number, calls: number, snap?: string): Promise<MemoryStepReport> => {
        await settle(t, log);
        const s = await step(t, w, rate, log, calls);
        if (snap) await snapshot(snap);
        await drain(s.endedAt);
        const r: MemoryStepReport = { label: `${w.label} ${rate}/s`, step: s, drained: await memPoint(t), drainedGc: await memPoint(t, true) };
        log(`    before:       ${fmtPoint(s.memBefore)}`);
        log(`    right after:  ${fmtPoint(s.memAfter)}`);
        log(`    ${DRAIN_MS / 1000} s later:   ${fmtPoint(r.drained)}`);
        log(`    after GC:     ${fmtPoint(r.drainedGc)}`);
        log(`    PSS after ${DRAIN_MS / 1000} s minus before: ${(r.drained.pssMb - s.memBefore.pssMb).toFixed(1)} MB`);
        report.steps.push(r);
        return r;
      };
      // Warm-ups first (the REGISTER and call paths compiled, tables grown), so the
      // registrations measured next are measured alone.
      const reg: Workload = { label: 'REGISTER auth', scenario: path.join(SCENARIOS_DIR, 'register-auth.xml'), injectCsv: csv, callsFor: registersFor };
      await registerWarmUp(t, csv);
      const before = await memPoint(t, true);
      log(`  after the REGISTER warm-up, after a full GC: ${fmtPoint(before)}`);
      const r = await measured(reg, REGISTER_RATES[0], REGISTER_USERS, 'registering');
      report.heapKbPerRegistration = heapPerRegistration(before, r.drainedGc);
      await snapshot('registered');
      const uas = await startSippUas({ scenario: UAS_SCENARIO, service: CALLEE, timeoutS: 900, extraArgs: UAS_ARGS });
      try {
        await bindCallee(t, uas.port);
        const w: Workload = { ...callWorkload, uasPid: pidsWithArgs('sipp', ['-p', String(uas.port)])[0] };
        await measured({ ...w, label: 'calls warm-up' }, FIXED_RATE, FIXED_CALLS);
        await measured(w, FIXED_RATE, FIXED_CALLS);
        await measured(w, 2 * FIXED_RATE, 2 * FIXED_CALLS, 'calls');
      } finally {
        await uas.stop(1000);
      }
      log('');
      const later = `+${DRAIN_MS / 1000} s`;
      log(`step                     PSS before  right after  ${later}  (${later})-(before)  heap before  after GC  CPU µs/call  failed`);
      for (const m of report.steps) {
        const f = (v: number | undefined, w: number, d = 0): string => (v === undefined ? '-' : v.toFixed(d)).padStart(w);
        log(
          `${m.label.padEnd(24)} ${f(m.step.memBefore.pssMb, 10)}  ${f(m.step.memAfter.pssMb, 11)}  ${f(m.drained.pssMb, 5)}  ${f(m.drained.pssMb - m.step.memBefore.pssMb, 16, 1)}` +
            `  ${f(m.step.memBefore.heapUsedMb, 11)}  ${f(m.drainedGc.heapUsedMb, 8)}  ${f(m.step.cpuUsPerCall, 11)}  ${f(m.step.failed, 6)}`,
        );
      }
      if (report.heapKbPerRegistration !== undefined) log(`heap per registration, steady state: ${report.heapKbPerRegistration.toFixed(2)} KB`);
      return report;
    },
  );
}

function printProfile(title: string, p: ProfileSummary): void {
  log(`\n${title}: ${p.totalMs.toFixed(0)} ms profiled, ${(p.totalMs - p.idleMs).toFixed(0)} ms busy; top self time (share of busy):`);
  for (const [i, t] of p.top.entries()) log(`  ${String(i + 1).padStart(2)}. ${t.pct.toFixed(1).padStart(5)}%  ${t.selfMs.toFixed(0).padStart(6)} ms  ${t.fn}`);
}

function buildRows(sb: TargetReport, kam: TargetReport | undefined): Row[] {
  const sbCall = sb.calls?.search.best;
  const kCall = kam?.calls?.search.best;
  const sbReg = sb.register?.search.best;
  const kReg = kam?.register?.search.best;
  const kRegPlain = kam?.registerNoAuth?.search.best;
  const firstReg = (r?: RegisterBench): StepResult | undefined => r?.search.steps.find((s) => s.clean);
  return [
    { metric: 'worker processes (total processes)', switchboard: sb.processes, kamailio: kam ? KAMAILIO_CHILDREN : undefined, note: `Switchboard: 1 Node event loop; Kamailio: ${KAMAILIO_CHILDREN} UDP workers + ${kam ? kam.processes - KAMAILIO_CHILDREN : '?'} others` },
    { metric: 'calls/s, highest with 0 failed calls', switchboard: sbCall?.rate, kamailio: kCall?.rate, note: 'INVITE/100/180/200/ACK/BYE/200, record-routed' },
    { metric: '  CPU % at that rate (100 = 1 core)', switchboard: sbCall?.cpuPct, kamailio: kCall?.cpuPct },
    { metric: '  SIPp UAC CPU % at that rate', switchboard: sbCall?.sippCpuPct, kamailio: kCall?.sippCpuPct, note: 'near 100 = the load generator is the limit' },
    { metric: '  SIPp UAS CPU % at that rate', switchboard: sbCall?.uasCpuPct, kamailio: kCall?.uasCpuPct },
    { metric: '  other jobs on the host, CPU %', switchboard: sbCall?.othersCpuPct, kamailio: kCall?.othersCpuPct, note: 'not ours: a shared machine; high = the step is suspect' },
    { metric: 'CPU µs per call at 1,000 calls/s', switchboard: sb.calls?.fixed.cpuUsPerCall, kamailio: kam?.calls?.fixed.cpuUsPerCall, note: `${FIXED_CALLS} calls, lowest of ${FIXED_REPEATS} runs after a warm-up` },
    { metric: '  failed calls in that run', switchboard: sb.calls?.fixed.failed, kamailio: kam?.calls?.fixed.failed },
    { metric: 'RSS MB after the call runs', switchboard: sb.calls?.memory.rssMb, kamailio: kam?.calls?.memory.rssMb, digits: 1, note: 'Kamailio: sum over processes (shm counted per process)' },
    { metric: 'PSS MB after the call runs', switchboard: sb.calls?.memory.pssMb, kamailio: kam?.calls?.memory.pssMb, digits: 1, note: 'shared pages split: the fair sum; transactions of the last step still held' },
    { metric: `PSS MB ${DRAIN_MS / 1000} s after the call runs`, switchboard: sb.calls?.memDrained.pssMb, kamailio: kam?.calls?.memDrained.pssMb, digits: 1, note: 'every transaction ended (Timers J/L: 32 s)' },
    { metric: '  growth over the call runs, PSS MB', switchboard: grown(sb.calls), kamailio: grown(kam?.calls), digits: 1, note: 'that minus PSS before the warm-up' },
    { metric: 'peak RSS MB (VmHWM)', switchboard: sb.calls?.memory.peakMb, kamailio: kam?.calls?.memory.peakMb, digits: 1 },
    { metric: 'REGISTER/s, highest with 0 failures', switchboard: sbReg?.rate, kamailio: kReg?.rate, note: `digest auth (401 + REGISTER), ${REGISTER_USERS.toLocaleString('en-US')} users, both` },
    { metric: '  CPU % at that rate', switchboard: sbReg?.cpuPct, kamailio: kReg?.cpuPct },
    { metric: '  SIPp UAC CPU % at that rate', switchboard: sbReg?.sippCpuPct, kamailio: kReg?.sippCpuPct },
    { metric: '  other jobs on the host, CPU %', switchboard: sbReg?.othersCpuPct, kamailio: kReg?.othersCpuPct },
    { metric: 'CPU µs per REGISTER at the first step', switchboard: firstReg(sb.register)?.cpuUsPerCall, kamailio: firstReg(kam?.register)?.cpuUsPerCall, note: `at ${REGISTER_RATES[0].toLocaleString('en-US')}/s, 2 requests each` },
    { metric: `RSS MB, ${REGISTER_USERS.toLocaleString('en-US')} users registered`, switchboard: sb.register?.memory.rssMb, kamailio: kam?.register?.memory.rssMb, digits: 1 },
    { metric: `PSS MB, ${REGISTER_USERS.toLocaleString('en-US')} users registered`, switchboard: sb.register?.memory.pssMb, kamailio: kam?.register?.memory.pssMb, digits: 1, note: 'right after the REGISTER runs' },
    { metric: `  ${DRAIN_MS / 1000} s later`, switchboard: sb.register?.memDrained.pssMb, kamailio: kam?.register?.memDrained.pssMb, digits: 1, note: 'steady state: only the bindings left' },
    { metric: 'heap KB per registration, steady state', switchboard: sb.register?.heapKbPerRegistration, digits: 2, note: `V8 heap after a full GC, minus before (after ${WARM_UP_REGISTRATIONS} warm-up registrations), / bindings added` },
    { metric: 'REGISTER/s, Kamailio without auth', switchboard: sbReg?.rate, kamailio: kRegPlain?.rate, note: 'NOT like for like: Switchboard always authenticates' },
    { metric: '  CPU % at that rate', switchboard: sbReg?.cpuPct, kamailio: kRegPlain?.cpuPct },
  ];
}

function grown(c: CallBench | undefined): number | undefined {
  return c ? c.memDrained.pssMb - c.memStart.pssMb : undefined;
}

function describeSearch(name: string, label: string, s: SearchResult | undefined): string {
  if (!s) return '';
  return `  ${name} ${label}: best ${s.best ? `${s.best.rate}/s` : 'none'}; stopped: ${s.stop}`;
}

const PROXY_USAGE = `usage: npm run bench:proxy [-- options]

SIPp calls and REGISTERs through Switchboard and through Kamailio (same
machine, same run): the highest rates with zero failures, CPU and memory,
and the ratio. About 12 minutes.

options:
  --profile       also profile Switchboard with the V8 profiler (about 1 min more)
  --no-kamailio   measure Switchboard only
  --memory        quick memory run instead (Switchboard only, about 4 min): calls at
                  1,000 and 2,000/s and REGISTER at 2,000/s, each measured before,
                  right after and ${DRAIN_MS / 1000} s later, and heap per registration
  --snapshot      with --memory: also write V8 heap snapshots and summarize them
  --arenas N      run Switchboard with MALLOC_ARENA_MAX=N (to compare glibc arenas)
  --semi-space N  run Switchboard with node --max-semi-space-size=N (MB; V8's default is 16)
  --help          this text

example:
  npm run bench:proxy -- --no-kamailio
`;

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  const known = new Set(['--profile', '--no-kamailio', '--memory', '--snapshot', '--arenas', '--semi-space', '--help', '-h']);
  const argv = process.argv.slice(2);
  const unknown: string[] = [];
  /** The number after an option, taken out of `args`. */
  const numberAfter = (name: string): string | undefined => {
    const at = argv.indexOf(name);
    if (at < 0) return undefined;
    const v = argv[at + 1];
    if (v === undefined || !/^\d+$/.test(v)) {
      unknown.push(`${name} needs a number`);
      return undefined;
    }
    args.delete(v);
    return v;
  };
  const arenas = numberAfter('--arenas');
  const semiSpace = numberAfter('--semi-space');
  unknown.push(...[...args].filter((a) => !known.has(a)));
  if (args.has('--help') || args.has('-h') || unknown.length > 0) {
    if (unknown.length > 0) process.stderr.write(`unknown option ${unknown.join(' ')}\n\n`);
    process.stdout.write(PROXY_USAGE);
    process.exitCode = unknown.length > 0 ? 2 : 0;
    return;
  }
  const wantProfile = args.has('--profile');
  const wantKamailio = !args.has('--no-kamailio');
  if (!hasBinary('sipp')) {
    log(`sipp is not installed; install it with: sudo bash ${path.join(ROOT, 'scripts', 'install-peers.sh')}`);
    process.exitCode = 1;
    return;
  }
  const haveKamailio = wantKamailio && ensureKamailio();
  const cpus = os.cpus();
  const env = {
    date: new Date().toISOString(),
    host: `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB`,
    node: process.version,
    kamailio: kamailioVersion(),
    // `sipp -v` exits non-zero after printing its version.
    sipp: spawnSync('sipp', ['-v'], { encoding: 'utf8' }).stdout?.match(/SIPp v[^\s,]+/)?.[0] ?? 'unknown',
  };
  log(`bench:proxy on ${env.host}; node ${env.node}; ${env.kamailio}; ${env.sipp}`);
  log('Everything runs on this machine: SIPp UAC and UAS share the cores with the proxy under test.');

  const work = mkdtempSync(path.join(os.tmpdir(), 'sb-bench-proxy-'));
  try {
    const regUsers = users();
    const csv = await writeUsersCsv(path.join(work, 'users.csv'), regUsers.map((u) => ({ ...u, domain: '127.0.0.1' })));
    const registerAuth = path.join(SCENARIOS_DIR, 'register-auth.xml');
    const registerPlain = path.join(ROOT, 'bench', 'scenarios', 'register-plain.xml');
    const allUsers = [{ user: CALLEE, password: CALLEE_PASSWORD }, ...regUsers];
    const sbEnv: Record<string, string> = arenas ? { MALLOC_ARENA_MAX: arenas } : {};
    const sbNodeArgs = semiSpace ? [`--max-semi-space-size=${semiSpace}`] : [];

    if (args.has('--memory')) {
      log('\n== Switchboard memory (quick run) ==');
      const mem = await benchMemory(work, csv, allUsers, args.has('--snapshot'), sbEnv, sbNodeArgs);
      const out = path.join(ROOT, 'bench', 'results', `proxy-memory-${env.date.slice(0, 10)}.json`);
      mkdirSync(path.dirname(out), { recursive: true });
      writeFileSync(out, JSON.stringify({ env: { ...env, mallocArenaMax: arenas, semiSpaceMb: semiSpace }, memory: mem }, null, 2) + '\n');
      log(`\nwrote ${path.relative(ROOT, out)}`);
      return;
    }

    log('\n== Switchboard (one process; REGISTER with digest auth) ==');
    const sb = await withTarget(
      () => startSwitchboard({ workDir: path.join(work, 'sb'), users: allUsers, env: sbEnv, nodeArgs: sbNodeArgs }),
      async (t): Promise<TargetReport> => ({
        processes: 1,
        calls: await benchCalls(t),
        register: await benchRegister(t, csv, registerAuth, 'REGISTER auth'),
      }),
    );

    let kam: TargetReport | undefined;
    if (haveKamailio) {
      log(`\n== Kamailio (children=${KAMAILIO_CHILDREN}, no auth: calls, then REGISTER without auth) ==`);
      kam = await withTarget(
        () => startKamailio({ workDir: path.join(work, 'kam'), children: KAMAILIO_CHILDREN }),
        async (t): Promise<TargetReport> => {
          const processes = processTree(t.pid).length;
          return { processes, calls: await benchCalls(t), registerNoAuth: await benchRegister(t, csv, registerPlain, 'REGISTER plain') };
        },
      );
      log(`\n== Kamailio (children=${KAMAILIO_CHILDREN}, REGISTER with digest auth, passwords in an htable) ==`);
      const reg = await withTarget(
        () => startKamailio({ workDir: path.join(work, 'kam-auth'), children: KAMAILIO_CHILDREN, authUsers: allUsers }),
        (t) => benchRegister(t, csv, registerAuth, 'REGISTER auth'),
      );
      kam.register = reg;
    }

    let profile: ProfileReport | undefined;
    if (wantProfile) {
      log('\n== Profiling Switchboard (V8 CPU profiler, measured step only) ==');
      profile = await profileSwitchboard(work, csv, allUsers);
    }

    const rows = buildRows(sb, kam);
    log('\n== Results ==');
    for (const line of [
      describeSearch('Switchboard', 'calls', sb.calls?.search),
      describeSearch('Switchboard', 'REGISTER auth', sb.register?.search),
      describeSearch('Kamailio', 'calls', kam?.calls?.search),
      describeSearch('Kamailio', 'REGISTER auth', kam?.register?.search),
      describeSearch('Kamailio', 'REGISTER plain', kam?.registerNoAuth?.search),
    ]) {
      if (line) log(line);
    }
    if (sb.calls?.status) {
      const st = sb.calls.status;
      log(`  Switchboard after the call runs: transactions ${JSON.stringify(st['transactions'])}, dialogs ${String(st['dialogs'])}, calls ${JSON.stringify(st['calls'])}`);
    }
    log('');
    log(formatTable(rows));
    if (profile) {
      printProfile(`Switchboard self time, calls at ${FIXED_RATE}/s`, profile.calls);
      printProfile('Switchboard self time, REGISTER with auth at 2,000/s', profile.register);
    }

    const out = path.join(ROOT, 'bench', 'results', `proxy-${env.date.slice(0, 10)}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    const summary = rows.map((r) => ({ ...r, ratio: ratio(r.switchboard, r.kamailio) }));
    writeFileSync(out, JSON.stringify({ env, summary, switchboard: sb, kamailio: kam, profile }, null, 2) + '\n');
    log(`\nwrote ${path.relative(ROOT, out)}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

runMain(main);
