/**
 * In-band DTMF detection on 8 kHz 16-bit PCM (a G.711 call whose far end
 * sends keys as tones). Each block (20 ms, or 10 ms) runs eight Goertzel
 * filters; a block counts as key K only if
 *   - the strongest row and column tones are both above `minToneDbfs`,
 *   - their twist is within limits (row may be up to 8 dB stronger than
 *     column, column up to 4 dB stronger than row — lines lose highs),
 *   - each is clearly stronger than the other tones of its group, and
 *   - the two tones hold most of the block's energy (rejects speech/music
 *     that happens to have energy at a row and a column frequency).
 * A key is reported once it holds for `minDurationMs` and is not reported
 * again until it has been absent for `minGapMs`, so one press is one digit
 * even if a block in the middle fails the checks.
 */
import { eventToDigit, type DtmfDigit, type DtmfListener } from './digits.js';
import { GoertzelBank } from './goertzel-bank.js';

const ROWS = [697, 770, 852, 941] as const;
const COLS = [1209, 1336, 1477, 1633] as const;
/** Key code (RFC 4733 numbering) by row*4+col on the standard keypad. */
const KEYPAD = [1, 2, 3, 12, 4, 5, 6, 13, 7, 8, 9, 14, 10, 0, 11, 15] as const;
const NO_DIGITS: readonly DtmfDigit[] = Object.freeze([]);

export interface InbandDtmfOptions {
  /** Only 8000 is supported: the codec path this serves is G.711. */
  sampleRate?: number;
  /** Analysis block, 20 (default) or 10 ms. */
  blockMs?: 10 | 20;
  /** Each tone must be at least this loud (peak level, 0 dBFS = full-scale sine). */
  minToneDbfs?: number;
  /** How much stronger the row (low) tone may be than the column (high) tone. */
  maxRowOverColDb?: number;
  /** How much stronger the column (high) tone may be than the row (low) tone. */
  maxColOverRowDb?: number;
  /** The chosen tone must beat every other tone of its group by this much. */
  minGroupMarginDb?: number;
  /** Share of the block's power that the two tones must carry (0-1). */
  minEnergyRatio?: number;
  /** Minimum tone length to accept. */
  minDurationMs?: number;
  /** Absence needed before the same (or another) key can be reported again. */
  minGapMs?: number;
  /** Called when a key is released, with how long it was held. */
  onDigit?: DtmfListener;
}

const dbToPower = (db: number) => 10 ** (db / 10);

export class InbandDtmfDetector {
  private readonly bank: GoertzelBank;
  private readonly blockSize: number;
  private readonly blockMs: number;
  private readonly minTone: number;
  private readonly rowOverCol: number;
  private readonly colOverRow: number;
  private readonly groupMargin: number;
  private readonly energyRatio: number;
  private readonly onBlocks: number;
  private readonly offBlocks: number;
  private readonly onDigit: DtmfListener | undefined;

  private block = 0;
  private runDigit = -1;
  private runLength = 0;
  private held = -1;
  private heldStart = 0;
  private heldLastHit = 0;
  private misses = 0;

  constructor(opts: InbandDtmfOptions = {}) {
    const rate = opts.sampleRate ?? 8000;
    if (rate !== 8000) throw new RangeError('InbandDtmfDetector: only 8000 Hz is supported');
    this.blockMs = opts.blockMs ?? 20;
    if (this.blockMs !== 10 && this.blockMs !== 20) throw new RangeError('InbandDtmfDetector: blockMs must be 10 or 20');
    this.blockSize = (rate * this.blockMs) / 1000;
    this.bank = new GoertzelBank([...ROWS, ...COLS], rate);
    this.minTone = dbToPower(opts.minToneDbfs ?? -30);
    this.rowOverCol = dbToPower(opts.maxRowOverColDb ?? 8);
    this.colOverRow = dbToPower(opts.maxColOverRowDb ?? 4);
    this.groupMargin = dbToPower(opts.minGroupMarginDb ?? 6);
    this.energyRatio = opts.minEnergyRatio ?? 0.45;
    this.onBlocks = Math.max(1, Math.ceil((opts.minDurationMs ?? 40) / this.blockMs));
    this.offBlocks = Math.max(1, Math.ceil((opts.minGapMs ?? 40) / this.blockMs));
    this.onDigit = opts.onDigit;
  }

  /**
   * Feeds samples of any length (frames need not match blocks) and returns
   * the keys confirmed in them, in order; usually none. The returned array
   * must not be kept past the next call.
   */
  process(frame: Int16Array): readonly DtmfDigit[] {
    let out: DtmfDigit[] | undefined;
    let i = 0;
    while (i < frame.length) {
      const take = Math.min(frame.length - i, this.blockSize - this.bank.count);
      this.bank.feed(frame, i, i + take);
      i += take;
      if (this.bank.count < this.blockSize) break;
      const hit = this.classify();
      this.bank.reset();
      const confirmed = this.step(hit);
      if (confirmed >= 0) (out ??= []).push(eventToDigit(confirmed) ?? '0');
    }
    return out ?? NO_DIGITS;
  }

  /** Ends a key still held (e.g. the call ended mid-tone) so onDigit sees it. */
  flush(): void {
    if (this.held >= 0) this.release();
    this.runDigit = -1;
    this.runLength = 0;
  }

  /** The key code this block carries, or -1. */
  private classify(): number {
    const b = this.bank;
    let row = 0;
    let col = 0;
    for (let k = 1; k < 4; k++) {
      if (b.power(k) > b.power(row)) row = k;
      if (b.power(4 + k) > b.power(4 + col)) col = k;
    }
    const pr = b.power(row);
    const pc = b.power(4 + col);
    if (pr < this.minTone || pc < this.minTone) return -1;
    if (pr > pc * this.rowOverCol || pc > pr * this.colOverRow) return -1;
    for (let k = 0; k < 4; k++) {
      if (k !== row && b.power(k) * this.groupMargin > pr) return -1;
      if (k !== col && b.power(4 + k) * this.groupMargin > pc) return -1;
    }
    if (pr + pc < this.energyRatio * b.totalPower()) return -1;
    return KEYPAD[row * 4 + col];
  }

  /** Debounce one block's result; returns a key code when a key is confirmed. */
  private step(hit: number): number {
    const block = this.block++;
    if (hit === this.runDigit) this.runLength++;
    else {
      this.runDigit = hit;
      this.runLength = 1;
    }
    if (this.held >= 0) {
      if (hit === this.held) {
        this.misses = 0;
        this.heldLastHit = block;
        return -1;
      }
      if (++this.misses < this.offBlocks) return -1;
      this.release();
    }
    if (this.runDigit >= 0 && this.runLength >= this.onBlocks) {
      this.held = this.runDigit;
      this.heldStart = block - this.runLength + 1;
      this.heldLastHit = block;
      this.misses = 0;
      return this.held;
    }
    return -1;
  }

  private release(): void {
    const digit = eventToDigit(this.held);
    const durationMs = (this.heldLastHit - this.heldStart + 1) * this.blockMs;
    this.held = -1;
    this.misses = 0;
    if (digit !== undefined) this.onDigit?.({ digit, source: 'inband', durationMs });
  }
}
