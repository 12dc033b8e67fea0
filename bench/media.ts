/**
 * `npm run bench:media` — how many concurrent media streams one core (one
 * Node process) bridges with p99 per-packet processing time under 1 ms and
 * no packet lost, for
 *
 *   relay      G.711 ↔ G.711, packet relay without decoding (RtpRelay)
 *   transcode  PCMU ↔ Opus, decode + resample + encode per packet (TranscodeBridge)
 *
 * A stream is one call through the bridge: two legs, 50 packets/s each way.
 * The load comes from a child process (bench/lib/media-load.ts) so this
 * process's CPU is the bridge's alone. The stream count steps up (50, 100,
 * 200, ...) until the bar fails, within a time budget per mode.
 *
 *   npm run bench:media                          both modes (under 3 minutes each)
 *   npm run bench:media -- --mode relay          one mode
 *   npm run bench:media -- --steps 100,300,500 --seconds 3
 *
 * Results: a table on stdout and bench/results/media-<date>.json.
 * A benchmark, not a test: nothing here fails on a number.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { ChildInbox } from './lib/child-inbox.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { RtpRelay } from '../src/media/bridge/relay.js';
import { DEFAULT_OPUS_COMPLEXITY } from '../src/media/codecs/opus.js';
import { TranscodeBridge } from '../src/media/bridge/transcode-bridge.js';
import type { BridgeLegStats, PacketTimer } from '../src/media/bridge/leg.js';
import {
  Histogram, loadGenerator, PPS, PT_OPUS, PT_PCMU,
  type CloseMsg, type FromChild, type GenResult, type Mode, type OpenMsg, type RunMsg,
} from './lib/media-load.js';
import { hostBusySeconds, udpReceiveBufferErrors } from './lib/procstat.js';
import { runMain } from './lib/run-main.js';
import { repoRoot } from './lib/targets.js';

const MODES: readonly Mode[] = ['relay', 'transcode'];

const DEFAULT_STEPS = [50, 100, 200, 400, 800, 1200, 1600, 2400, 3200];
const WARMUP_MS = 1500;
const DEFAULT_MEASURE_S = 5;
/** After the senders stop: a packet not arrived by then counts as lost, as a jitter buffer would. */
const DRAIN_MS = 300;
/** Per mode, everything included; a step that would not fit is not started. */
const MODE_BUDGET_MS = 170_000;
const P99_LIMIT_MS = 1;
/** The generator must reach this share of the asked packet rate for a step to say anything. */
const RATE_TOLERANCE = 0.97;
const MAX_STREAMS = 5000;

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

// ---------------------------------------------------------------- the measured process


interface BenchBridge {
  ports: [number, number];
  stats(): { a: BridgeLegStats; b: BridgeLegStats };
  close(): Promise<void>;
}

/** `opusComplexity`: the Opus encoder's complexity on the transcoding legs (0-1 halves the encode cost). */
async function openBridge(mode: Mode, portA: number, portB: number, timer: PacketTimer, opusComplexity: number): Promise<BenchBridge> {
  // Connected legs send synchronously inside the handler, so the timed section includes the
  // sendto() itself (unconnected, Node defers it past an address lookup, out of the timer's sight).
  const connectOnLatch = true;
  const port = { min: 20000, max: 59999 };
  const remoteA = { address: '127.0.0.1', port: portA };
  const remoteB = { address: '127.0.0.1', port: portB };
  const bridge =
    mode === 'relay'
      ? await RtpRelay.open({ a: { remote: remoteA, payloadType: PT_PCMU, connectOnLatch, port }, b: { remote: remoteB, payloadType: PT_PCMU, connectOnLatch, port }, timer })
      : await TranscodeBridge.open({
          a: { remote: remoteA, payloadType: PT_PCMU, codec: 'pcmu', connectOnLatch, port },
          b: { remote: remoteB, payloadType: PT_OPUS, codec: 'opus', connectOnLatch, port, codecOptions: { complexity: opusComplexity } },
          timer,
        });
  return { ports: [bridge.a.localPort, bridge.b.localPort], stats: () => bridge.stats(), close: () => bridge.close() };
}

export interface StepResult {
  streams: number;
  /** Per-packet handling time inside the bridge, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  packetsTimed: number;
  /** Packets the bridges dropped (any reason) and socket errors they saw. */
  bridgeDropped: number;
  /** Packets the generator sent that never came back through the bridge. */
  sinkMissing: number;
  sinkSeqGaps: number;
  /** Datagrams the kernel dropped for full receive buffers, whole host. */
  kernelDrops: number;
  /** The bridge process's CPU over the measured window, 100 = one core. */
  cpuPct: number;
  /** CPU per stream: µs of CPU per second of one stream (both directions). */
  cpuUsPerStreamS: number;
  /** Event-loop delay in the bridge process, p99, ms. */
  loopDelayP99Ms: number;
  generator: Omit<GenResult, 'type'>;
  /** Everything else on the host (other people's jobs share it), 100 = one core. */
  othersCpuPct: number;
  pass: boolean;
  /** The generator could not send the full rate: the step says nothing about the bridge. */
  generatorLimited: boolean;
  why: string;
}

async function runStep(mode: Mode, streams: number, measureMs: number, opusComplexity: number, child: ChildProcess, inbox: ChildInbox<FromChild>): Promise<StepResult> {
  const timer = new Histogram();
  child.send({ type: 'open', mode, streams } satisfies OpenMsg);
  const { ports } = await inbox.next('opened', 60_000);
  const bridges: BenchBridge[] = [];
  try {
    for (let i = 0; i < streams; i++) bridges.push(await openBridge(mode, ports[2 * i], ports[2 * i + 1], timer, opusComplexity));
    const targets = bridges.flatMap((b) => b.ports);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    child.send({ type: 'run', targets, warmupMs: WARMUP_MS, measureMs, drainMs: DRAIN_MS } satisfies RunMsg);
    await inbox.next('measure-start', WARMUP_MS + 30_000);
    timer.reset();
    loop.enable();
    const cpu0 = process.cpuUsage();
    const kernel0 = udpReceiveBufferErrors();
    const host0 = hostBusySeconds();
    const t0 = performance.now();
    await inbox.next('measure-end', measureMs + 30_000);
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    loop.disable();
    const hostS = hostBusySeconds() - host0;
    const p50Ms = timer.quantileMs(0.5);
    const p99Ms = timer.quantileMs(0.99);
    const maxMs = timer.maxNs / 1e6;
    const packetsTimed = timer.count;
    const gen = await inbox.next('result', DRAIN_MS + 30_000);
    const kernelDrops = udpReceiveBufferErrors() - kernel0;
    let bridgeDropped = 0;
    for (const b of bridges) {
      const s = b.stats();
      bridgeDropped += s.a.dropped.total + s.b.dropped.total + s.a.socketErrors + s.b.socketErrors;
    }
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const cpuPct = (cpuS / wallS) * 100;
    const { type: _t, ...generator } = gen;
    const reasons: string[] = [];
    if (p99Ms >= P99_LIMIT_MS) reasons.push(`p99 ${p99Ms.toFixed(3)} ms`);
    if (bridgeDropped > 0) reasons.push(`${bridgeDropped} dropped in the bridge`);
    if (gen.missing > 0) reasons.push(`${gen.missing} missing at the sink`);
    const generatorLimited = gen.achievedPps < PPS * RATE_TOLERANCE;
    if (generatorLimited) reasons.push(`generator reached only ${gen.achievedPps.toFixed(1)} pkt/s per direction`);
    return {
      streams,
      p50Ms,
      p99Ms,
      maxMs,
      packetsTimed,
      bridgeDropped,
      sinkMissing: gen.missing,
      sinkSeqGaps: gen.seqGaps,
      kernelDrops,
      cpuPct,
      cpuUsPerStreamS: (cpuS * 1e6) / wallS / streams,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      generator,
      othersCpuPct: Math.max(0, ((hostS - cpuS - (gen.cpuPct / 100) * wallS) / wallS) * 100),
      pass: reasons.length === 0,
      generatorLimited,
      why: reasons.join('; '),
    };
  } finally {
    await Promise.all(bridges.map((b) => b.close()));
    child.send({ type: 'close' } satisfies CloseMsg);
    await inbox.next('closed', 30_000);
  }
}

interface ModeReport {
  mode: Mode;
  steps: StepResult[];
  /** The most streams that met the bar. */
  best: StepResult | undefined;
  stop: string;
}

const fmt = (v: number, d: number): string => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

function verdict(r: StepResult): string {
  return r.pass ? 'ok' : r.generatorLimited ? 'GEN-LIMIT' : 'FAIL';
}

function progressLine(mode: Mode, r: StepResult): string {
  return (
    `  ${mode.padEnd(9)} ${String(r.streams).padStart(5)} streams: p50 ${fmt(r.p50Ms, 3)} ms, p99 ${fmt(r.p99Ms, 3)} ms, max ${fmt(r.maxMs, 2)} ms; ` +
    `dropped ${r.bridgeDropped}, missing ${r.sinkMissing}; CPU ${fmt(r.cpuPct, 1)}% (${fmt(r.cpuUsPerStreamS, 0)} µs/s per stream); ` +
    `kernel drops ${r.kernelDrops}; loop p99 ${fmt(r.loopDelayP99Ms, 1)} ms; generator ${fmt(r.generator.cpuPct, 0)}% CPU; others ${fmt(r.othersCpuPct, 0)}% → ${r.pass ? 'ok' : `FAIL (${r.why})`}`
  );
}

async function benchMode(mode: Mode, steps: number[], measureMs: number, opusComplexity: number): Promise<ModeReport> {
  const started = performance.now();
  const child = fork(fileURLToPath(import.meta.url), ['--load-generator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox = new ChildInbox<FromChild>(child, 'load generator');
  const results: StepResult[] = [];
  let stop = 'all steps passed';
  try {
    for (const n of steps) {
      const estimateMs = WARMUP_MS + measureMs + DRAIN_MS + 2000 + n * 4;
      if (performance.now() - started + estimateMs > MODE_BUDGET_MS) {
        stop = `time budget (${MODE_BUDGET_MS / 1000} s) reached before ${n} streams`;
        break;
      }
      log(`  ${mode}: ${n} streams ...`);
      const r = await runStep(mode, n, measureMs, opusComplexity, child, inbox);
      results.push(r);
      log(progressLine(mode, r));
      if (!r.pass) {
        stop = `${r.generatorLimited ? 'load generator could not keep up' : 'failed'} at ${n} streams: ${r.why}`;
        break;
      }
    }
  } finally {
    child.disconnect();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  const passing = results.filter((r) => r.pass);
  return { mode, steps: results, best: passing[passing.length - 1], stop };
}

function table(reports: ModeReport[]): string {
  const head = ['mode', 'streams', 'p50 ms', 'p99 ms', 'max ms', 'dropped', 'missing', 'CPU %', 'µs CPU/s/stream', 'loop p99 ms', 'gen CPU %', 'others %', 'result'];
  const rows: string[][] = [];
  for (const rep of reports) {
    for (const r of rep.steps) {
      rows.push([
        rep.mode, String(r.streams), fmt(r.p50Ms, 3), fmt(r.p99Ms, 3), fmt(r.maxMs, 2), String(r.bridgeDropped), String(r.sinkMissing),
        fmt(r.cpuPct, 1), fmt(r.cpuUsPerStreamS, 0), fmt(r.loopDelayP99Ms, 1), fmt(r.generator.cpuPct, 0), fmt(r.othersCpuPct, 0), verdict(r),
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i].length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 || i === 12 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const USAGE = `usage: npm run bench:media [-- options]

Finds how many concurrent streams one Node process bridges with p99
per-packet processing time < ${P99_LIMIT_MS} ms and no packet lost (${PPS} packets/s
each way per stream, load from a child process over 127.0.0.1 UDP).

options:
  --mode relay|transcode|both   what to measure (default both)
                                  relay:     G.711 <-> G.711 packet relay (RtpRelay)
                                  transcode: PCMU <-> Opus (TranscodeBridge)
  --steps N,N,...               stream counts to try, ascending
                                (default ${DEFAULT_STEPS.join(',')})
  --seconds S                   measured seconds per step (default ${DEFAULT_MEASURE_S})
  --opus-complexity N           Opus encoder complexity 0-10 for transcoding (default ${DEFAULT_OPUS_COMPLEXITY})
  --help                        this text

Each mode stops at the first failing step or after ${MODE_BUDGET_MS / 1000} s.
Results: a table on stdout and bench/results/media-<date>.json.

example:
  npm run bench:media -- --mode transcode --steps 50,100,150,200 --seconds 3
`;

interface Args {
  modes: Mode[];
  steps: number[];
  measureMs: number;
  opusComplexity: number;
}

function parseArgs(argv: string[]): Args | undefined {
  const args: Args = { modes: [...MODES], steps: DEFAULT_STEPS, measureMs: DEFAULT_MEASURE_S * 1000, opusComplexity: DEFAULT_OPUS_COMPLEXITY };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') return undefined;
    else if (a === '--mode') {
      const v = value();
      if (v === 'both') args.modes = [...MODES];
      else if ((MODES as readonly string[]).includes(v)) args.modes = [v as Mode];
      else throw new Error(`--mode must be relay, transcode or both, got ${v}`);
    } else if (a === '--steps') {
      const list = value().split(',').map(Number);
      if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_STREAMS)) {
        throw new Error(`--steps takes stream counts 1..${MAX_STREAMS}`);
      }
      args.steps = list.sort((x, y) => x - y);
    } else if (a === '--seconds') {
      const s = Number(value());
      if (!(s >= 1 && s <= 30)) throw new Error('--seconds must be 1..30');
      args.measureMs = s * 1000;
    } else if (a === '--opus-complexity') {
      const c = Number(value());
      if (!Number.isInteger(c) || c < 0 || c > 10) throw new Error('--opus-complexity must be 0..10');
      args.opusComplexity = c;
    } else throw new Error(`unknown option ${a} (try --help)`);
  }
  return args;
}

async function main(): Promise<void> {
  let args: Args | undefined;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (!args) {
    process.stdout.write(USAGE);
    return;
  }
  const cpus = os.cpus();
  const env = {
    date: new Date().toISOString(),
    host: `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GB`,
    node: process.version,
    opusComplexity: args.opusComplexity,
    loadAverage: os.loadavg(),
  };
  log(`bench:media on ${env.host}; node ${env.node}; load average ${env.loadAverage.map((l) => l.toFixed(2)).join(' ')}`);
  log(`Bar: p99 per-packet time < ${P99_LIMIT_MS} ms and nothing lost; ${PPS} packets/s each way per stream; ${args.measureMs / 1000} s measured per step after ${WARMUP_MS / 1000} s warm-up.`);
  log('The load generator is a child process on the same machine: it shares the cores with the bridge.');
  const reports: ModeReport[] = [];
  for (const mode of args.modes) {
    log(`\n== ${mode} ==`);
    reports.push(await benchMode(mode, args.steps, args.measureMs, args.opusComplexity));
  }
  log('\n== Results ==');
  for (const r of reports) {
    const b = r.best;
    log(
      `  ${r.mode}: ${b ? `${b.streams} streams (p99 ${fmt(b.p99Ms, 3)} ms, CPU ${fmt(b.cpuPct, 1)}%, ${fmt(b.cpuUsPerStreamS, 0)} µs CPU per stream-second)` : 'no step met the bar'}; stopped: ${r.stop}`,
    );
  }
  log('');
  log(table(reports));
  const out = path.join(repoRoot(), 'bench', 'results', `media-${env.date.slice(0, 10)}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ env, bar: { p99Ms: P99_LIMIT_MS, pps: PPS, warmupMs: WARMUP_MS, measureMs: args.measureMs }, modes: reports }, null, 2) + '\n');
  log(`\nwrote ${path.relative(repoRoot(), out)}`);
}

if (process.argv.includes('--load-generator')) {
  loadGenerator();
} else {
  runMain(main);
}
