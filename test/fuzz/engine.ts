/**
 * The fuzz engine: decides each case's target from (seed, index), runs the
 * parser cases in worker threads under a watchdog and the server cases
 * against a forked Switchboard, and sums it all up. Used by the `npm run
 * fuzz` command line and by the tests.
 *
 * Hangs: a parser case slower than `hangMs` (plus `hangMs` per 64 KiB of
 * input) at the best of three runs is a hang; a case
 * that never returns is caught by the watchdog, which terminates the worker
 * when its heartbeat has not moved for `watchdogMs` (10 s), records a hang for the
 * case it was in, and starts a new worker after it.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { caseInput, isParserTarget, targetOf } from './case.js';
import { FuzzedServer } from './server/driver.js';
import type { HarnessStats } from './server/protocol.js';
import { TARGETS } from './targets/index.js';
import { COUNTERS, PHASE, SLOT, type ChunkRequest, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Target names to run; all by default. */
  targets?: readonly string[];
  /** A parser case slower than this (plus as much again per 64 KiB of input) at the best of three runs is a hang. */
  hangMs?: number;
  /** A worker whose heartbeat stands still this long is stuck in one case. */
  watchdogMs?: number;
  workers?: number;
  /** Server cases sent between two liveness probes. */
  batch?: number;
  onProgress?: (p: Progress) => void;
  onFailure?: (f: Failure) => void;
  /** How many failures to keep in the summary (all are counted). */
  keepFailures?: number;
  /** For the engine's own test of its watchdog: parser case INDEX loops forever in its worker. */
  stallAt?: number;
}

export interface Progress {
  done: number;
  total: number;
  elapsedMs: number;
  crashes: number;
  hangs: number;
  roundTrip: number;
}

export interface TargetStats {
  cases: number;
  accepted: number;
  rejected: number;
  crashes: number;
  hangs: number;
  roundTrip: number;
  ms: number;
}

export interface Failure {
  kind: 'crash' | 'hang' | 'round-trip';
  target: string;
  seed: number;
  index: number;
  message: string;
  stack?: string;
  input: Buffer;
}

export interface ServerSummary {
  batches: number;
  restarts: number;
  datagramsSent: number;
  connections: number;
  /** What the server processes counted, summed over restarts. */
  totals: ServerTotals;
}

/** What the server processes counted, summed over restarts: the harness's counters, with the largest RSS seen. */
export type ServerTotals = Omit<HarnessStats, 'errorsLogged' | 'lastErrors' | 'uncaught' | 'dropped' | 'rssBytes'> & { maxRssBytes: number };

function addTotals(t: ServerTotals, s: HarnessStats | undefined): void {
  if (!s) return;
  t.received += s.received;
  t.malformed += s.malformed;
  t.rejected += s.rejected;
  t.requests += s.requests;
  t.forwarded += s.forwarded;
  t.registrations += s.registrations;
  for (const [k, v] of Object.entries(s.malformedByStatus)) t.malformedByStatus[Number(k)] = (t.malformedByStatus[Number(k)] ?? 0) + v;
  t.blockedSends += s.blockedSends;
  t.blockedConnects += s.blockedConnects;
  t.blockedLookups += s.blockedLookups;
  t.maxRssBytes = Math.max(t.maxRssBytes, s.rssBytes);
}

export interface FuzzSummary {
  seed: number;
  cases: number;
  elapsedMs: number;
  targets: Record<string, TargetStats>;
  failures: Failure[];
  server?: ServerSummary;
}

export const DEFAULT_HANG_MS = 100;

const CHUNK = 1000;

function emptyStats(): TargetStats {
  return { cases: 0, accepted: 0, rejected: 0, crashes: 0, hangs: 0, roundTrip: 0, ms: 0 };
}

/** Splits the first `cases` cases of the enabled targets into parser and server indices. */
export function planCases(seed: number, cases: number, names?: readonly string[]): { parser: number[]; server: number[] } {
  const enabled = new Set(names ?? TARGETS.map((t) => t.name));
  for (const n of enabled) if (!TARGETS.some((t) => t.name === n)) throw new Error(`unknown target ${n}; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  const parser: number[] = [];
  const server: number[] = [];
  for (let i = 0; parser.length + server.length < cases; i++) {
    const t = targetOf(seed, i);
    if (!enabled.has(t.name)) continue;
    (t.kind === 'parser' ? parser : server).push(i);
  }
  return { parser, server };
}

interface WorkerSlot {
  worker: Worker;
  counts: Int32Array;
  times: Float64Array;
  slots: Int32Array;
  chunk?: { id: number; indices: number[]; resolve: () => void };
  lastBeat: number;
  lastBeatAt: number;
}

class ParserPool {
  private readonly slots: WorkerSlot[] = [];
  /** Counters of workers terminated for a hang, kept so nothing they counted is lost. */
  private readonly retired: { counts: Int32Array; times: Float64Array }[] = [];
  private readonly queue: { id: number; indices: number[]; resolve: () => void }[] = [];
  private watchdog?: NodeJS.Timeout;
  private nextId = 0;

  constructor(
    private readonly seed: number,
    private readonly hangMs: number,
    private readonly watchdogMs: number,
    size: number,
    private readonly failed: (f: Failure) => void,
    private readonly stallAt?: number,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
    this.watchdog = setInterval(() => this.check(), Math.min(250, this.watchdogMs / 4));
  }

  private spawn(): WorkerSlot {
    const init: WorkerInit = {
      counts: new SharedArrayBuffer(TARGETS.length * COUNTERS.width * 4),
      times: new SharedArrayBuffer(TARGETS.length * 8),
      slots: new SharedArrayBuffer(SLOT.size * 4),
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    const slot: WorkerSlot = {
      worker,
      counts: new Int32Array(init.counts),
      times: new Float64Array(init.times),
      slots: new Int32Array(init.slots),
      lastBeat: 0,
      lastBeatAt: performance.now(),
    };
    // No case yet: a worker still loading its modules (slow on a busy machine) is not stuck.
    Atomics.store(slot.slots, SLOT.current, -1);
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'failure') {
        this.failed({ kind: m.kind, target: m.target, seed: this.seed, index: m.index, message: m.message, stack: m.stack, input: Buffer.from(m.input) });
      } else if (slot.chunk?.id === m.chunk) {
        const done = slot.chunk;
        slot.chunk = undefined;
        done.resolve();
        this.feed(slot);
      }
    });
    worker.on('error', (err) => {
      // A worker that died outside any case (it should not): count its chunk as crashed where it stood.
      const index = Atomics.load(slot.slots, SLOT.current);
      this.failed({ kind: 'crash', target: index >= 0 ? targetOf(this.seed, index).name : 'worker', seed: this.seed, index, message: `worker died: ${err.message}`, stack: err.stack, input: Buffer.alloc(0) });
      this.replace(slot, 0);
    });
    return slot;
  }

  run(indices: number[]): Promise<void> {
    const work: Promise<void>[] = [];
    for (let i = 0; i < indices.length; i += CHUNK) {
      const part = indices.slice(i, i + CHUNK);
      work.push(new Promise<void>((resolve) => this.queue.push({ id: this.nextId++, indices: part, resolve })));
    }
    for (const s of this.slots) this.feed(s);
    return Promise.all(work).then(() => undefined);
  }

  private feed(slot: WorkerSlot): void {
    if (slot.chunk) return;
    const next = this.queue.shift();
    if (!next) return;
    slot.chunk = next;
    slot.lastBeat = Atomics.load(slot.slots, SLOT.heartbeat);
    slot.lastBeatAt = performance.now();
    const req: ChunkRequest = { chunk: next.id, seed: this.seed, indices: next.indices, hangMs: this.hangMs, stallAt: this.stallAt };
    slot.worker.postMessage(req);
  }

  private check(): void {
    const now = performance.now();
    for (const slot of [...this.slots]) {
      if (!slot.chunk) continue;
      const beat = Atomics.load(slot.slots, SLOT.heartbeat);
      if (beat !== slot.lastBeat) {
        slot.lastBeat = beat;
        slot.lastBeatAt = now;
        continue;
      }
      const index = Atomics.load(slot.slots, SLOT.current);
      if (index < 0) {
        slot.lastBeatAt = now;
        continue;
      }
      if (now - slot.lastBeatAt < this.watchdogMs) continue;
      const pos = Atomics.load(slot.slots, SLOT.position);
      const generating = Atomics.load(slot.slots, SLOT.phase) === PHASE.generating;
      const target = targetOf(this.seed, index);
      let input = Buffer.alloc(0);
      try {
        input = caseInput(this.seed, index).input;
      } catch {
        // Reported by the worker's own run of the generator, if it ever got that far.
      }
      const ti = TARGETS.indexOf(target);
      slot.counts[ti * COUNTERS.width + COUNTERS.cases]++;
      slot.counts[ti * COUNTERS.width + COUNTERS.hangs]++;
      this.failed({ kind: 'hang', target: target.name, seed: this.seed, index, message: `no progress for ${Math.round(now - slot.lastBeatAt)} ms: stuck ${generating ? 'making this input (a bug in the fuzzer)' : 'in the parser on this input'} (worker terminated)`, input });
      this.replace(slot, pos + 1);
    }
  }

  /** Terminates a stuck or dead worker; the rest of its chunk goes to a fresh one. */
  private replace(slot: WorkerSlot, resumeAt: number): void {
    const chunk = slot.chunk;
    slot.chunk = undefined;
    this.retired.push({ counts: slot.counts, times: slot.times });
    slot.worker.removeAllListeners('message');
    slot.worker.removeAllListeners('error');
    slot.worker.on('error', () => undefined);
    slot.worker.terminate().catch(() => undefined);
    const fresh = this.spawn();
    this.slots[this.slots.indexOf(slot)] = fresh;
    if (chunk) {
      const rest = chunk.indices.slice(resumeAt);
      if (rest.length) this.queue.unshift({ id: this.nextId++, indices: rest, resolve: chunk.resolve });
      else chunk.resolve();
    }
    this.feed(fresh);
  }

  addTo(stats: TargetStats[]): void {
    for (const src of [...this.slots, ...this.retired]) {
      TARGETS.forEach((_, ti) => {
        const b = ti * COUNTERS.width;
        const s = stats[ti];
        s.cases += src.counts[b + COUNTERS.cases];
        s.accepted += src.counts[b + COUNTERS.accepted];
        s.rejected += src.counts[b + COUNTERS.rejected];
        s.crashes += src.counts[b + COUNTERS.crashes];
        s.hangs += src.counts[b + COUNTERS.hangs];
        s.roundTrip += src.counts[b + COUNTERS.roundTrip];
        s.ms += src.times[ti];
      });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** Cases and time per target as the engine saw them so far. */
function snapshot(pool: ParserPool | undefined, server: TargetStats[]): TargetStats[] {
  const stats = TARGETS.map(emptyStats);
  pool?.addTo(stats);
  server.forEach((s, i) => {
    stats[i].cases += s.cases;
    stats[i].accepted += s.accepted;
    stats[i].rejected += s.rejected;
    stats[i].crashes += s.crashes;
    stats[i].hangs += s.hangs;
    stats[i].ms += s.ms;
  });
  return stats;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const hangMs = opts.hangMs ?? DEFAULT_HANG_MS;
  // Far above any case's time, even on a machine shared by several busy processes.
  const watchdogMs = opts.watchdogMs ?? Math.max(10_000, hangMs * 100);
  const keep = opts.keepFailures ?? 100;
  const failures: Failure[] = [];
  const failed = (f: Failure): void => {
    if (failures.length < keep) failures.push(f);
    opts.onFailure?.(f);
  };
  const plan = planCases(opts.seed, opts.cases, opts.targets);
  const serverStats = TARGETS.map(emptyStats);
  const pool = plan.parser.length ? new ParserPool(opts.seed, hangMs, watchdogMs, opts.workers ?? 1, failed, opts.stallAt) : undefined;

  const progress = (): Progress => {
    const s = snapshot(pool, serverStats);
    const sum = (k: keyof TargetStats): number => s.reduce((a, x) => a + x[k], 0);
    return { done: sum('cases'), total: opts.cases, elapsedMs: performance.now() - started, crashes: sum('crashes'), hangs: sum('hangs'), roundTrip: sum('roundTrip') };
  };
  const ticker = opts.onProgress ? setInterval(() => opts.onProgress?.(progress()), 1000) : undefined;

  let server: ServerSummary | undefined;
  try {
    const work: Promise<unknown>[] = [];
    if (pool) work.push(pool.run(plan.parser));
    if (plan.server.length) {
      work.push(
        fuzzServer(opts.seed, plan.server, opts.batch ?? 100, serverStats, failed).then((s) => {
          server = s;
        }),
      );
    }
    await Promise.all(work);
  } finally {
    if (ticker) clearInterval(ticker);
    await pool?.close();
  }
  opts.onProgress?.(progress());
  const stats = snapshot(pool, serverStats);
  const targets: Record<string, TargetStats> = {};
  TARGETS.forEach((t, i) => {
    if (stats[i].cases > 0) targets[t.name] = stats[i];
  });
  failures.sort((a, b) => a.index - b.index);
  return { seed: opts.seed, cases: opts.cases, elapsedMs: performance.now() - started, targets, failures, server };
}

/** What went wrong after a batch, or undefined: probes, IPC, logged errors, escaped exceptions. */
async function verdict(srv: FuzzedServer, before: HarnessStats | undefined): Promise<{ problem?: string; stats?: HarnessStats }> {
  const probe = await srv.probe();
  const stats = await srv.stats();
  if (probe) return { problem: probe, stats };
  if (!stats) return { problem: srv.dead ?? 'the server process stopped answering (busy in a loop?)' };
  if (before && stats.uncaught > before.uncaught) return { problem: `an exception escaped every handler in the server`, stats };
  if (before && stats.errorsLogged > before.errorsLogged) {
    return { problem: `the server logged an error: ${stats.lastErrors[stats.lastErrors.length - 1] ?? ''}`.slice(0, 1500), stats };
  }
  return { stats };
}

async function sendCase(srv: FuzzedServer, seed: number, index: number, stats: TargetStats[]): Promise<{ name: string; input: Buffer }> {
  const t0 = performance.now();
  const made = caseInput(seed, index, { sipPort: srv.port, localPort: srv.localPort });
  const target = made.target;
  // Credentials valid for this server (a fresh nonce each run), so cases get past authentication.
  const input = target.name === 'server-udp' ? srv.authorize(made.input) : made.input;
  if (target.name === 'server-udp') await srv.sendUdp(input);
  else await srv.sendTcp(input);
  const s = stats[TARGETS.indexOf(target)];
  s.cases++;
  s.ms += performance.now() - t0;
  return { name: target.name, input };
}

async function fuzzServer(seed: number, indices: number[], batch: number, stats: TargetStats[], failed: (f: Failure) => void): Promise<ServerSummary> {
  const summary: ServerSummary = {
    batches: 0, restarts: 0, datagramsSent: 0, connections: 0,
    totals: { received: 0, malformed: 0, malformedByStatus: {}, rejected: 0, requests: 0, forwarded: 0, registrations: 0, blockedSends: 0, blockedConnects: 0, blockedLookups: 0, maxRssBytes: 0 },
  };
  const restart = async (): Promise<void> => {
    addTotals(summary.totals, await srv.stats());
    await srv.stop();
    srv = await FuzzedServer.start();
    summary.restarts++;
  };
  let srv = await FuzzedServer.start();
  let before = await srv.stats();
  try {
    for (let b = 0; b < indices.length; b += batch) {
      const part = indices.slice(b, b + batch);
      await srv.refreshChallenge();
      const udp = part.filter((i) => targetOf(seed, i).name === 'server-udp');
      const tcp = part.filter((i) => targetOf(seed, i).name === 'server-tcp');
      // Datagrams in a burst, a few connections at a time.
      for (const i of udp) await sendCase(srv, seed, i, stats);
      for (let k = 0; k < tcp.length; k += 32) await Promise.all(tcp.slice(k, k + 32).map((i) => sendCase(srv, seed, i, stats)));
      summary.datagramsSent += udp.length;
      summary.connections += tcp.length;
      summary.batches++;
      const v = await verdict(srv, before);
      if (!v.problem) {
        before = v.stats;
        continue;
      }
      // Find which case did it: a fresh server, each case of the batch alone followed by the checks.
      await restart();
      let culprit: { index: number; name: string; input: Buffer; problem: string } | undefined;
      for (const i of part) {
        await srv.refreshChallenge();
        const base = await srv.stats();
        const sent = await sendCase(srv, seed, i, TARGETS.map(emptyStats));
        const again = await verdict(srv, base);
        if (again.problem) {
          culprit = { index: i, name: sent.name, input: sent.input, problem: again.problem };
          await restart();
          break;
        }
      }
      const index = culprit?.index ?? part[0];
      const name = culprit?.name ?? targetOf(seed, index).name;
      stats[TARGETS.findIndex((t) => t.name === name)].crashes++;
      failed({
        kind: 'crash',
        target: name,
        seed,
        index,
        message: culprit ? culprit.problem : `${v.problem} (after the batch of cases ${part[0]}..${part[part.length - 1]}; no single case of it reproduces alone)`,
        input: culprit?.input ?? caseInput(seed, index, { sipPort: srv.port, localPort: srv.localPort }).input,
      });
      before = await srv.stats();
    }
    addTotals(summary.totals, await srv.stats());
  } finally {
    await srv.stop();
  }
  return summary;
}

/** Regenerates one case and runs it alone (in this thread), for --replay. */
export async function replayCase(seed: number, index: number): Promise<{ target: string; input: Buffer; outcome: string; error?: unknown }> {
  const target = targetOf(seed, index);
  if (isParserTarget(target)) {
    const { input } = caseInput(seed, index);
    const t0 = performance.now();
    try {
      const verdict = target.run(input);
      return { target: target.name, input, outcome: `${verdict} in ${(performance.now() - t0).toFixed(2)} ms` };
    } catch (error) {
      return { target: target.name, input, outcome: 'threw', error };
    }
  }
  const srv = await FuzzedServer.start();
  try {
    await srv.refreshChallenge();
    const base = await srv.stats();
    const sent = await sendCase(srv, seed, index, TARGETS.map(emptyStats));
    const v = await verdict(srv, base);
    return { target: target.name, input: sent.input, outcome: v.problem ? `server failed: ${v.problem}` : 'server still answers; nothing logged' };
  } finally {
    await srv.stop();
  }
}
