/**
 * npm run fuzz -- [--cases N] [--seed S] [--target NAME]... [--replay INDEX]
 *
 * Structure-aware fuzzing of the SIP, SDP, STUN, RTP/RTCP and SRTP parsers
 * in-process and of a running Switchboard over UDP and TCP. Prints progress
 * while it runs and a table at the end; exits 1 when anything crashed, hung
 * or failed to round-trip.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_HANG_MS, replayCase, runFuzz, type Failure, type FuzzSummary } from './engine.js';
import { escapeInput } from './escape.js';
import { TARGETS } from './targets/index.js';

const HELP = `Structure-aware fuzzing of Switchboard's parsers and of a running server.

Usage: npm run fuzz -- [options]

Options:
  --cases N        number of cases (default 100000)
  --seed S         run seed, a 32-bit integer (default: random, printed)
  --target NAME    only this target (repeatable): ${TARGETS.map((t) => t.name).join(', ')}
  --hang-ms MS     a parser case slower than this, plus as much per 64 KiB of input,
                   at the best of three runs is a hang (default ${DEFAULT_HANG_MS})
  --workers N      parser worker threads (default 1)
  --batch N        server cases between two liveness probes (default 100)
  --replay INDEX   run case INDEX of --seed alone and print its input and outcome
  --save DIR       write each failing input to DIR/<target>-<seed>-<index>.bin
  --full           print failing inputs whole, not cut after 600 bytes
  --help           this text

Examples:
  npm run fuzz -- --cases 20000 --seed 20260101   the seed npm test uses (18,000 parser + 2,000 server cases)
  npm run fuzz -- --cases 1000000 --seed 1        the long run
  npm run fuzz -- --seed 1 --replay 4711          one case again, with its stack trace
  npm run fuzz -- --cases 50000 --target sdp --target stun
`;

interface Args {
  cases: number;
  seed: number;
  seedGiven: boolean;
  targets: string[];
  hangMs: number;
  workers: number;
  batch: number;
  replay?: number;
  save?: string;
  full: boolean;
}

function parseArgs(argv: string[]): Args | undefined {
  const a: Args = { cases: 100_000, seed: (Math.random() * 0x100000000) >>> 0, seedGiven: false, targets: [], hangMs: DEFAULT_HANG_MS, workers: 1, batch: 100, full: false };
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !/^\d+$/.test(v) || n < min || n > max) throw new Error(`${name} needs a whole number from ${min} to ${max}, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--help':
      case '-h':
        return undefined;
      case '--cases':
        a.cases = int(arg, argv[++i], 1, 1e9);
        break;
      case '--seed':
        a.seed = int(arg, argv[++i], 0, 0xffffffff);
        a.seedGiven = true;
        break;
      case '--target': {
        const name = argv[++i];
        if (!TARGETS.some((t) => t.name === name)) throw new Error(`unknown target ${name ?? '(none)'}; one of ${TARGETS.map((t) => t.name).join(', ')}`);
        a.targets.push(name);
        break;
      }
      case '--hang-ms':
        a.hangMs = int(arg, argv[++i], 1, 60_000);
        break;
      case '--workers':
        a.workers = int(arg, argv[++i], 1, 16);
        break;
      case '--batch':
        a.batch = int(arg, argv[++i], 1, 100_000);
        break;
      case '--replay':
        a.replay = int(arg, argv[++i], 0, 2 ** 40);
        break;
      case '--save':
        a.save = argv[++i];
        if (!a.save) throw new Error('--save needs a directory');
        break;
      case '--full':
        a.full = true;
        break;
      default:
        throw new Error(`unknown option ${arg} (see --help)`);
    }
  }
  return a;
}

function printFailure(f: Failure, full: boolean): void {
  console.log(`\n${f.kind.toUpperCase()} ${f.target} seed=${f.seed} index=${f.index}: ${f.message}`);
  console.log(`  replay: npm run fuzz -- --seed ${f.seed} --replay ${f.index}`);
  console.log(`  input (${f.input.length} bytes): ${escapeInput(f.input, full ? Infinity : 600)}`);
}

function rate(n: number, ms: number): string {
  const r = ms > 0 ? (n * 1000) / ms : 0;
  return r >= 1000 ? `${(r / 1000).toFixed(1)}k` : r.toFixed(0);
}

export function summaryTable(s: FuzzSummary): string {
  const rows = [['target', 'cases', 'accepted', 'rejected', 'crashes', 'hangs', 'round-trip', 'time (s)', 'cases/s']];
  let total = { cases: 0, accepted: 0, rejected: 0, crashes: 0, hangs: 0, roundTrip: 0, ms: 0 };
  for (const [name, t] of Object.entries(s.targets)) {
    const server = name.startsWith('server-');
    rows.push([name, String(t.cases), server ? '-' : String(t.accepted), server ? '-' : String(t.rejected), String(t.crashes), String(t.hangs), server ? '-' : String(t.roundTrip), (t.ms / 1000).toFixed(1), rate(t.cases, t.ms)]);
    total = { cases: total.cases + t.cases, accepted: total.accepted + t.accepted, rejected: total.rejected + t.rejected, crashes: total.crashes + t.crashes, hangs: total.hangs + t.hangs, roundTrip: total.roundTrip + t.roundTrip, ms: total.ms + t.ms };
  }
  rows.push(['total (wall)', String(total.cases), String(total.accepted), String(total.rejected), String(total.crashes), String(total.hangs), String(total.roundTrip), (s.elapsedMs / 1000).toFixed(1), rate(total.cases, s.elapsedMs)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]): string => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1, -1).map(line), widths.map((w) => '-'.repeat(w)).join('  '), line(rows[rows.length - 1])];
  if (s.server) {
    const t = s.server.totals;
    const byStatus = Object.entries(t.malformedByStatus).map(([k, v]) => `${k === '0' ? 'unanswerable' : k} ${v}`).join(', ');
    out.push('');
    out.push(`server: ${s.server.batches} batches, each followed by OPTIONS over UDP and over TCP; ${s.server.restarts} restarts`);
    out.push(`  sent ${s.server.datagramsSent} datagrams and ${s.server.connections} connections; the server counted ${t.received} messages,`);
    out.push(`  ${t.malformed} malformed (${byStatus || 'none'}), ${t.rejected} of them answered; the proxy handled ${t.requests} requests,`);
    out.push(`  forwarded ${t.forwarded} and accepted ${t.registrations} registrations; largest rss ${(t.maxRssBytes / 1e6).toFixed(0)} MB`);
    out.push(`  held back by the harness guard: ${t.blockedSends} sends to other ports, ${t.blockedConnects} outgoing connections, ${t.blockedLookups} DNS lookups`);
  }
  return out.join('\n');
}

async function main(): Promise<number> {
  let args: Args | undefined;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`fuzz: ${(err as Error).message}`);
    return 2;
  }
  if (!args) {
    console.log(HELP);
    return 0;
  }
  if (args.replay !== undefined) {
    if (!args.seedGiven) {
      console.error('fuzz: --replay needs the --seed of the run');
      return 2;
    }
    const r = await replayCase(args.seed, args.replay);
    console.log(`case ${args.replay} of seed ${args.seed}: target ${r.target}`);
    console.log(`input (${r.input.length} bytes): ${escapeInput(r.input, args.full ? Infinity : 600)}`);
    console.log(`outcome: ${r.outcome}`);
    if (r.error !== undefined) console.log(r.error instanceof Error ? r.error.stack : String(r.error));
    return r.outcome === 'threw' || r.outcome.startsWith('server failed') ? 1 : 0;
  }
  const a = args;
  console.log(`fuzz: ${a.cases} cases, seed ${a.seed}${a.targets.length ? `, targets ${a.targets.join(', ')}` : ''}, hang bound ${a.hangMs} ms`);
  const tty = process.stdout.isTTY === true;
  let lastLine = 0;
  const summary = await runFuzz({
    cases: a.cases,
    seed: a.seed,
    targets: a.targets.length ? a.targets : undefined,
    hangMs: a.hangMs,
    workers: a.workers,
    batch: a.batch,
    onProgress: (p) => {
      const text = `${(p.elapsedMs / 1000).toFixed(0)} s  ${p.done}/${p.total} cases (${((100 * p.done) / p.total).toFixed(1)}%, ${rate(p.done, p.elapsedMs)}/s)  crashes ${p.crashes}  hangs ${p.hangs}  round-trip ${p.roundTrip}`;
      if (tty) process.stdout.write(`\r${text}\x1b[K`);
      else if (p.elapsedMs - lastLine >= 10_000 || p.done === p.total) {
        lastLine = p.elapsedMs;
        console.log(text);
      }
    },
    onFailure: (f) => {
      if (tty) process.stdout.write('\n');
      printFailure(f, a.full);
      if (a.save) {
        mkdirSync(a.save, { recursive: true });
        writeFileSync(path.join(a.save, `${f.target}-${f.seed}-${f.index}.bin`), f.input);
      }
    },
  });
  if (tty) process.stdout.write('\n');
  console.log('');
  console.log(summaryTable(summary));
  const bad = Object.values(summary.targets).reduce((n, t) => n + t.crashes + t.hangs + t.roundTrip, 0);
  console.log(bad === 0 ? '\nno crash, hang or round-trip failure' : `\n${bad} failing cases (seed ${a.seed}); replay one with --seed ${a.seed} --replay INDEX`);
  return bad === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
