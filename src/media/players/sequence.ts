/**
 * Sources played one after another, sample-exact (a beep, a pause, a
 * prompt), once or looping. The items are opened when the sequence is, so a
 * bad item is reported before anything plays; a looping sequence reopens
 * them on every pass, so each pass starts each item from its beginning.
 */
import { SampleSource } from './sample-source.js';

export class SequenceSource extends SampleSource {
  private items: SampleSource[];
  private idx = 0;
  /** Samples written in the current pass: a looping pass that wrote none ends the sequence. */
  private passSamples = 0;

  constructor(
    private readonly open: () => SampleSource[],
    frameSamples: number,
    private readonly loop: boolean,
  ) {
    super(frameSamples);
    this.items = open();
    this.settle();
  }

  fill(out: Int16Array, from: number): number {
    let i = from;
    while (i < out.length && !this.ended) {
      const n = this.items[this.idx].fill(out, i);
      this.passSamples += n - i;
      i = n;
      this.settle();
    }
    return i;
  }

  override close(): void {
    for (const item of this.items) item.close();
  }

  /** Moves past ended items; at the end of the list starts the next pass or ends. */
  private settle(): void {
    while (!this.ended) {
      if (this.idx < this.items.length) {
        if (!this.items[this.idx].ended) return;
        this.idx++;
        continue;
      }
      if (!this.loop || this.passSamples === 0) {
        this.ended = true;
        return;
      }
      this.close();
      try {
        this.items = this.open();
      } catch {
        // Reopening what opened fine the first time can only fail on a custom source; stop there rather than throw inside the RTP clock.
        this.items = [];
        this.ended = true;
        return;
      }
      this.idx = 0;
      this.passSamples = 0;
    }
  }
}
