/**
 * Refusing new work before memory runs out (RFC 3261 §21.5.4: 503 with
 * Retry-After). A limit is a named condition: the stack's own (live
 * transactions, V8 heap in use) and any an upper layer adds (the proxy's
 * dialog table). While one is reached, new requests it applies to get a 503
 * sent statelessly, so refusing costs no transaction; requests inside a
 * dialog, CANCEL, ACK and responses always pass, so calls already up can end.
 *
 * On the per-request path it is a few comparisons: the heap is sampled on a
 * timer, and the other limits read a Map's size. Each episode (a limit
 * reached, then clear again) is logged once when it starts and once when it
 * ends, whatever the number of requests refused in between.
 */
import v8 from 'node:v8';
import type { Clock, TimerHandle } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';

/** V8 heap in use and the size at which V8 gives up (the process dies). */
export interface HeapSample {
  usedBytes: number;
  limitBytes: number;
}

export type HeapProbe = () => HeapSample;

export const v8HeapProbe: HeapProbe = () => {
  const h = v8.getHeapStatistics();
  return { usedBytes: h.used_heap_size, limitBytes: h.heap_size_limit };
};

export interface Limit {
  /** Short name, used in counters and metrics labels: `transactions`, `heap`, `dialogs`. */
  name: string;
  /** Only requests of these methods are refused for it (all new requests when absent). */
  methods?: readonly string[];
  /** Whether the limit is reached now; called for new requests while nothing is refused, so it must be cheap. */
  reached(): boolean;
  /** Current use and the limit, for the log. */
  usage(): { value: number; max: number };
}

export interface OverloadOptions {
  clock: Clock;
  log?: Logger;
  /** Heap (MB) in use above which new work is refused; 0 means 85% of V8's heap limit; undefined: no heap limit. */
  heapWatermarkMb?: number;
  heapProbe?: HeapProbe;
  /** How often the heap is sampled and finished episodes are noticed (ms). */
  sampleMs?: number;
  /** What a refused client is told to wait (seconds). */
  retryAfterS?: number;
}

/** The automatic watermark: a share of V8's limit that leaves room to finish what is under way. */
export const AUTO_HEAP_SHARE = 0.85;
export const DEFAULT_RETRY_AFTER_S = 5;
const DEFAULT_SAMPLE_MS = 1000;

interface Episode {
  startedAt: number;
  refused: number;
  lastRefusedAt: number;
}

export class OverloadGuard {
  readonly retryAfterS: number;
  /** Requests refused, by limit name. */
  readonly refused: Record<string, number> = {};
  private readonly limits: Limit[] = [];
  private readonly episodes = new Map<string, Episode>();
  private readonly log: Logger;
  private readonly probe: HeapProbe;
  private timer: TimerHandle | undefined;
  private heapOver = false;
  private heapUsedMb = 0;
  private heapWatermarkMb = 0;

  constructor(private readonly opts: OverloadOptions) {
    this.log = opts.log ?? silentLogger;
    this.retryAfterS = opts.retryAfterS ?? DEFAULT_RETRY_AFTER_S;
    this.probe = opts.heapProbe ?? v8HeapProbe;
    if (opts.heapWatermarkMb !== undefined) {
      this.add({
        name: 'heap',
        reached: () => this.heapOver,
        usage: () => ({ value: Math.round(this.heapUsedMb), max: Math.round(this.heapWatermarkMb) }),
      });
    }
  }

  add(limit: Limit): void {
    this.limits.push(limit);
    this.refused[limit.name] ??= 0;
  }

  /** Starts sampling (the stack calls this when it starts listening). */
  start(): void {
    if (this.timer) return;
    this.sample();
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * The limit that refuses a new request of this method, if any. Cheap while
   * nothing is reached; the caller still checks that the request is new work.
   */
  check(method: string): Limit | undefined {
    for (const l of this.limits) {
      if (l.methods && !l.methods.includes(method)) continue;
      if (l.reached()) return l;
    }
    return undefined;
  }

  /** Counts a refusal; the first of an episode is logged. */
  noteRefused(limit: Limit): void {
    this.refused[limit.name]++;
    const now = this.opts.clock.now();
    let ep = this.episodes.get(limit.name);
    if (!ep) {
      ep = { startedAt: now, refused: 0, lastRefusedAt: now };
      this.episodes.set(limit.name, ep);
      const u = limit.usage();
      this.log.warn(
        { limit: limit.name, value: u.value, max: u.max, retryAfter: this.retryAfterS },
        `overload: the ${limit.name} limit is reached (${u.value} of ${u.max}); refusing new requests with 503 until it clears`,
      );
    }
    ep.refused++;
    ep.lastRefusedAt = now;
  }

  /** Reads the heap now (also done every sampleMs). */
  sample(): void {
    if (this.opts.heapWatermarkMb === undefined) return;
    const h = this.probe();
    this.heapUsedMb = h.usedBytes / 2 ** 20;
    this.heapWatermarkMb = this.opts.heapWatermarkMb > 0 ? this.opts.heapWatermarkMb : (h.limitBytes / 2 ** 20) * AUTO_HEAP_SHARE;
    this.heapOver = this.heapUsedMb >= this.heapWatermarkMb;
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimer(this.opts.sampleMs ?? DEFAULT_SAMPLE_MS, () => {
      this.sample();
      this.endEpisodes();
      this.schedule();
    });
  }

  /** An episode ends once its limit is clear and nothing was refused for Retry-After: a limit hovering at its edge is one episode. */
  private endEpisodes(): void {
    const now = this.opts.clock.now();
    for (const [name, ep] of this.episodes) {
      const limit = this.limits.find((l) => l.name === name);
      if (limit?.reached() || now - ep.lastRefusedAt < this.retryAfterS * 1000) continue;
      this.episodes.delete(name);
      const seconds = Math.round((ep.lastRefusedAt - ep.startedAt) / 1000);
      this.log.info({ limit: name, refused: ep.refused, seconds }, `overload over: ${ep.refused} new requests refused in ${seconds} s for the ${name} limit, which has cleared; accepting new requests again`);
    }
  }
}
