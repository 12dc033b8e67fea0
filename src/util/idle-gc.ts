/**
 * Gives memory back once a burst of load is over. A proxy holds each
 * finished transaction 32 s (RFC 3261 Timers J and L), so the garbage of a
 * burst appears half a minute after the burst, when nothing allocates any
 * more and V8 has no reason to collect: measured, the heap stayed at its
 * peak (100+ MB above its level before) for as long as the server stayed
 * quiet. This runs a full collection when the server is quiet and there is
 * something to collect: transactions have ended since the last one, or the
 * heap grew. Under load it does nothing; V8 collects as it allocates.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Clock, TimerHandle } from './clock.js';
import { silentLogger, type Logger } from './log.js';

export interface IdleCollectorOptions {
  clock: Clock;
  /** A counter of work done (messages received): the server is quiet while it barely moves. */
  activity: () => number;
  /** How many long-lived things (transactions) are held: those that ended since the last collection are garbage now. */
  held: () => number;
  /** V8 heap in use, bytes (default: V8's statistics). */
  heapUsed?: () => number;
  /** A full collection (default: V8's, see v8Collector); none means this does nothing. */
  collect?: () => void;
  log?: Logger;
  /** How often to look (ms). */
  periodMs?: number;
  /** Below this many activity units a second the server counts as quiet. */
  quietPerSecond?: number;
  /** Ended held things that make a collection worth it. */
  minEnded?: number;
  /** Heap growth (bytes) since the last collection that makes one worth it. */
  minGrowthBytes?: number;
  /** Collections are at least this far apart (ms). */
  minIntervalMs?: number;
}

export class IdleCollector {
  private timer: TimerHandle | undefined;
  private lastActivity = 0;
  private lastAt = 0;
  private peakHeld = 0;
  private heapAfterLast = 0;
  private lastCollectAt = -Infinity;
  /** Collections run, for tests and the status page. */
  collections = 0;
  private readonly log: Logger;
  private readonly heapUsed: () => number;

  constructor(private readonly opts: IdleCollectorOptions) {
    this.log = opts.log ?? silentLogger;
    this.heapUsed = opts.heapUsed ?? (() => v8.getHeapStatistics().used_heap_size);
  }

  start(): void {
    if (this.timer || !this.opts.collect) return;
    this.lastActivity = this.opts.activity();
    this.lastAt = this.opts.clock.now();
    this.heapAfterLast = this.heapUsed();
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimer(this.opts.periodMs ?? 2000, () => {
      this.tick();
      this.schedule();
    });
  }

  /** One look: collect when quiet and there is something to collect. */
  tick(): void {
    const now = this.opts.clock.now();
    const activity = this.opts.activity();
    const rate = ((activity - this.lastActivity) * 1000) / Math.max(1, now - this.lastAt);
    this.lastActivity = activity;
    this.lastAt = now;
    const held = this.opts.held();
    this.peakHeld = Math.max(this.peakHeld, held);
    if (rate >= (this.opts.quietPerSecond ?? 50)) return;
    if (now - this.lastCollectAt < (this.opts.minIntervalMs ?? 5000)) return;
    const ended = this.peakHeld - held;
    const before = this.heapUsed();
    const grown = before - this.heapAfterLast;
    if (ended < (this.opts.minEnded ?? 1000) && grown < (this.opts.minGrowthBytes ?? 32 * 2 ** 20)) return;
    const t0 = this.opts.clock.now();
    this.opts.collect?.();
    this.collections++;
    this.lastCollectAt = this.opts.clock.now();
    this.heapAfterLast = this.heapUsed();
    this.peakHeld = held;
    const mb = (b: number): number => Math.round(b / 2 ** 20);
    this.log.debug({ heapBeforeMb: mb(before), heapAfterMb: mb(this.heapAfterLast), ended, ms: Math.round(this.lastCollectAt - t0) }, 'quiet: collected garbage');
  }
}

/**
 * V8's full collection, reachable without starting Node with --expose-gc:
 * the flag set at run time exposes gc() to contexts created afterwards, so
 * one made for the purpose hands it over (the flag is set back at once).
 * It runs twice: the first frees the objects, the second (measured) lets V8
 * shrink its committed heap and free the Buffers' memory they held.
 */
export function v8Collector(): (() => void) | undefined {
  let gc: unknown = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== 'function') {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc');
      v8.setFlagsFromString('--no-expose-gc');
    } catch {
      return undefined;
    }
  }
  if (typeof gc !== 'function') return undefined;
  const full = gc as () => void;
  return () => {
    full();
    full();
  };
}
