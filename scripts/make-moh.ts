/**
 * Makes the music on hold that ships in assets/moh/: a gentle chord
 * progression in C major (C Am F G | C Am Dm G, 72 bpm, four beats a chord)
 * of soft pads, a quiet bass and a bell-like arpeggio, all pure sines from
 * our own ToneGenerator, so the file is ours (MIT, like the code) and owes
 * nothing to anyone's recording.
 *
 * Choices a listener on a phone notices:
 * - every note is below 690 Hz: no tone in the DTMF high group (1209-1633 Hz)
 *   nor near it, so held music echoed back can never read as a key press;
 * - notes are mixed into a circular buffer, so what rings past the end wraps
 *   to the start: the loop has no seam and no click;
 * - the last chord (G) leads back to the first (C) when the file loops;
 * - 8 kHz mono 16-bit: what G.711 carries (wideband legs get it upsampled),
 *   and 26.7 s stays under 430 KB.
 *
 *   npx tsx scripts/make-moh.ts                       writes assets/moh/acme-chords-8k.wav
 *   npx tsx scripts/make-moh.ts OUT.wav [--rate 16000]
 *
 * The output is the same on every run (no randomness), so the shipped file
 * can be checked by making it again and comparing.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToneGenerator } from '../src/media/dsp/tone.js';
import { writeWavFile } from '../src/media/wav.js';

const BPM = 72;
const BEATS_PER_CHORD = 4;
/** Loudness of the finished file (RMS): about where telephone prompts sit. */
const TARGET_RMS_DBFS = -21;

// Equal temperament, A4 = 440 Hz.
const NOTE: Record<string, number> = {};
const NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
for (let octave = 2; octave <= 5; octave++) {
  NAMES.forEach((n, i) => {
    NOTE[`${n}${octave}`] = 440 * Math.pow(2, (octave - 4) + (i - 9) / 12);
  });
}

interface Chord {
  bass: string;
  pad: string[];
  /** Eight eighth-notes per chord. */
  arp: string[];
}

const C: Chord = { bass: 'C3', pad: ['C4', 'E4', 'G4'], arp: ['C4', 'E4', 'G4', 'C5', 'E5', 'C5', 'G4', 'E4'] };
const Am: Chord = { bass: 'A2', pad: ['A3', 'C4', 'E4'], arp: ['A3', 'C4', 'E4', 'A4', 'C5', 'A4', 'E4', 'C4'] };
const F: Chord = { bass: 'F3', pad: ['A3', 'C4', 'F4'], arp: ['F4', 'A4', 'C5', 'A4', 'F4', 'C4', 'A3', 'C4'] };
const G: Chord = { bass: 'G3', pad: ['G3', 'B3', 'D4'], arp: ['G4', 'B4', 'D5', 'B4', 'G4', 'D4', 'B3', 'D4'] };
const Dm: Chord = { bass: 'D3', pad: ['D4', 'F4', 'A4'], arp: ['D4', 'F4', 'A4', 'D5', 'A4', 'F4', 'D4', 'A3'] };
const PROGRESSION = [C, Am, F, G, C, Am, Dm, G];

/** Raised-cosine ramp 0..1 over `len` samples. */
function rise(i: number, len: number): number {
  return i >= len ? 1 : 0.5 - 0.5 * Math.cos((Math.PI * i) / len);
}

/** Adds one sine note into the circular `mix`, shaped by `env(i)` for i in [0, length). */
function addNote(mix: Float64Array, rate: number, hz: number, start: number, length: number, gain: number, env: (i: number) => number): void {
  const gen = new ToneGenerator({ freqs: [hz], levelDbfs: -10 }, rate);
  const wave = new Int16Array(length);
  gen.fill(wave);
  const peak = 32768 * Math.SQRT2 * Math.pow(10, -10 / 20);
  for (let i = 0; i < length; i++) mix[(start + i) % mix.length] += (wave[i] / peak) * gain * env(i);
}

export function makeMoh(rate: number): Int16Array {
  const beat = Math.round((60 / BPM) * rate);
  const chordLen = beat * BEATS_PER_CHORD;
  const mix = new Float64Array(chordLen * PROGRESSION.length);
  const sec = (s: number) => Math.round(s * rate);

  PROGRESSION.forEach((chord, c) => {
    const t0 = c * chordLen;
    // Pads: slow swell, held into the next chord and released under it.
    const padLen = chordLen + sec(0.6);
    const padEnv = (i: number) => rise(i, sec(0.45)) * rise(padLen - i, sec(0.9));
    for (const n of chord.pad) addNote(mix, rate, NOTE[n], t0, padLen, 0.11, padEnv);
    // Bass: one soft note per chord.
    const bassEnv = (i: number) => rise(i, sec(0.25)) * rise(padLen - i, sec(0.7));
    addNote(mix, rate, NOTE[chord.bass], t0, padLen, 0.14, bassEnv);
    // Arpeggio: eighth notes, quick soft attack, long exponential decay (a bell or a Rhodes, roughly).
    const eighth = beat / 2;
    const noteLen = sec(1.4);
    const decay = sec(0.45);
    chord.arp.forEach((n, k) => {
      const accent = k % 4 === 0 ? 1 : 0.75;
      const env = (i: number) => rise(i, sec(0.02)) * Math.exp(-i / decay) * rise(noteLen - i, sec(0.2));
      addNote(mix, rate, NOTE[n], t0 + k * eighth, noteLen, 0.2 * accent, env);
    });
  });

  let sum = 0;
  for (const v of mix) sum += v * v;
  const rms = Math.sqrt(sum / mix.length);
  // RMS of full scale (a square wave) is 1 on our dBFS scale.
  const scale = (Math.pow(10, TARGET_RMS_DBFS / 20) / rms) * 32768;
  const out = new Int16Array(mix.length);
  for (let i = 0; i < mix.length; i++) {
    const s = Math.round(mix[i] * scale);
    out[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let rate = 8000;
  const rateAt = args.indexOf('--rate');
  if (rateAt >= 0) {
    rate = Number(args[rateAt + 1]);
    args.splice(rateAt, 2);
    if (rate !== 8000 && rate !== 16000) throw new Error('--rate must be 8000 or 16000');
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = args[0] ?? path.join(root, 'assets', 'moh', 'acme-chords-8k.wav');
  const samples = makeMoh(rate);
  await writeWavFile(out, { sampleRate: rate, channels: 1, samples });
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, Math.abs(s));
  const seconds = samples.length / rate;
  process.stdout.write(`${out}: ${seconds.toFixed(1)} s at ${rate} Hz, peak ${(20 * Math.log10(peak / 32768)).toFixed(1)} dBFS\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
