/**
 * Datagrams a media receiver did not use, counted by a closed set of reasons
 * (ready to be metrics) and in total. Counting allocates nothing.
 */
export class DropCounter<R extends string> {
  private total = 0;
  private readonly counts: Record<R, number>;

  constructor(reasons: readonly R[]) {
    this.counts = Object.fromEntries(reasons.map((r) => [r, 0])) as Record<R, number>;
  }

  add(reason: R): void {
    this.counts[reason]++;
    this.total++;
  }

  /** A copy for stats(): later drops do not change it. */
  snapshot(): { total: number; reasons: Record<R, number> } {
    return { total: this.total, reasons: { ...this.counts } };
  }
}
