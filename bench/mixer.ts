/**
 * Conference mixing cost: µs per 20 ms tick for rooms of 3, 10 and 50
 * participants, and per participant, for the codec mixes a PBX sees:
 *
 *   g711    everyone 8 kHz: mixed at 8 kHz, no resampling
 *   g722    everyone 16 kHz: mixed at 16 kHz, no resampling
 *   mixed   one 8 kHz phone among 16 kHz ones: the room drops to 8 kHz and
 *           every wideband member is resampled in and out
 *   opus    everyone 48 kHz: mixed at 16 kHz, resampled 48 <-> 16 kHz
 *
 * Every member pushes a frame every tick (two talk, the rest send line
 * noise, as phones without silence suppression do); a tick's cost is the
 * pushes, tick() and reading every member's mix. Timed over ~1 s of ticks
 * per case after a warm-up.
 *
 *   npm run build && node dist/bench/mixer.js        (or npx tsx bench/mixer.ts)
 *   node dist/bench/mixer.js --sizes 3,10,50,100 --seconds 2
 *
 * A benchmark, not a test: nothing here fails on a number. "members/core"
 * is how many participants one core could mix if it did nothing else
 * (20 000 µs of CPU per 20 ms tick).
 */
import { pathToFileURL } from 'node:url';
import { ToneGenerator } from '../src/media/dsp/tone.js';
import { ConferenceMixer } from '../src/media/mixer/index.js';

interface Case {
  name: string;
  rates: (n: number) => number[];
}

const CASES: Case[] = [
  { name: 'g711', rates: (n) => Array<number>(n).fill(8000) },
  { name: 'g722', rates: (n) => Array<number>(n).fill(16000) },
  { name: 'mixed', rates: (n) => [8000, ...Array<number>(n - 1).fill(16000)] },
  { name: 'opus', rates: (n) => Array<number>(n).fill(48000) },
];

const WARMUP_TICKS = 250;
const MAX_TICKS = 50_000;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Frames to replay: a second of each member's audio, so generating it is not timed. */
function feed(rate: number, talker: boolean, seed: number): Int16Array[] {
  const frame = rate / 50;
  const frames: Int16Array[] = [];
  const gen = new ToneGenerator({ freqs: [300 + 37 * seed], levelDbfs: -20 }, rate);
  let s = seed * 2654435761;
  for (let i = 0; i < 50; i++) {
    const f = new Int16Array(frame);
    if (talker) gen.fill(f);
    else {
      for (let k = 0; k < frame; k++) {
        s = (s * 1103515245 + 12345) >>> 0;
        f[k] = (s >>> 24) - 128; // about -50 dBFS of noise
      }
    }
    frames.push(f);
  }
  return frames;
}

/** One room of members at `rates` (Hz), timed over `seconds` of ticks: µs per 20 ms tick, mean and p99. */
export function measure(rates: number[], seconds: number): { usPerTick: number; p99: number } {
  const mixer = new ConferenceMixer();
  const ids = rates.map((_, i) => `p${i}`);
  rates.forEach((r, i) => mixer.add(ids[i], r));
  const feeds = rates.map((r, i) => feed(r, i < 2, i + 1));
  let sink = 0;
  const tickOnce = (t: number) => {
    for (let i = 0; i < ids.length; i++) mixer.push(ids[i], feeds[i][t % 50]);
    mixer.tick();
    for (const id of ids) sink += mixer.mixFor(id)[7];
  };
  for (let t = 0; t < WARMUP_TICKS; t++) tickOnce(t);
  const samples: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  let t = 0;
  const start = performance.now();
  while (t < MAX_TICKS && performance.now() < deadline) {
    const t0 = performance.now();
    tickOnce(t++);
    samples.push(performance.now() - t0);
  }
  const total = performance.now() - start;
  samples.sort((a, b) => a - b);
  if (sink === 0.5) process.stdout.write(''); // keeps the reads from being optimised away
  return { usPerTick: (total / t) * 1000, p99: samples[Math.floor(samples.length * 0.99)] * 1000 };
}

function main(): void {
  const sizes = (arg('--sizes') ?? '3,10,50').split(',').map(Number);
  const seconds = Number(arg('--seconds') ?? 1);
  if (sizes.some((n) => !(Number.isInteger(n) && n >= 2 && n <= 1000)) || !(seconds > 0 && seconds <= 30)) {
    throw new Error('--sizes takes room sizes 2..1000 (e.g. 3,10,50); --seconds 0..30');
  }
  const rows: string[][] = [['case', 'members', 'mix rate', 'µs/tick', 'p99 µs/tick', 'µs/member', 'members/core']];
  for (const c of CASES) {
    for (const n of sizes) {
      const rates = c.rates(n);
      const m = new ConferenceMixer();
      rates.forEach((r, i) => m.add(`p${i}`, r));
      const r = measure(rates, seconds);
      const per = r.usPerTick / n;
      rows.push([c.name, String(n), `${m.rate / 1000} kHz`, r.usPerTick.toFixed(1), r.p99.toFixed(1), per.toFixed(2), String(Math.floor(20000 / per))]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) process.stdout.write(`${row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')}\n`);
  process.stdout.write(`node ${process.version}, one thread; a tick is every member's push + tick() + every member's mixFor()\n`);
}

// Run as a script; bench/pbx.ts imports measure() for its reference numbers.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
