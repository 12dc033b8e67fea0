/**
 * A tiny typed event emitter, the house pattern wherever several listeners
 * may listen (one owner gets a handler object at construction instead):
 * event names and argument lists are checked at compile time, and a listener
 * that throws costs a log line, never the layer that emitted.
 */
import type { Clock } from './clock.js';
import { silentLogger, type Logger } from './log.js';

type EventMap<E> = { [K in keyof E]: unknown[] };
type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<E extends EventMap<E>> {
  private readonly listeners: { [K in keyof E]?: Listener<E[K]>[] } = {};

  constructor(protected readonly log: Logger = silentLogger) {}

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    // Lists are replaced, never changed in place, so emit() walks them without a copy.
    this.listeners[event] = [...(this.listeners[event] ?? []), fn];
    return () => this.off(event, fn);
  }

  once<K extends keyof E>(event: K, fn: Listener<E[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      fn(...args);
    });
    return off;
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): void {
    const list = this.listeners[event];
    if (!list) return;
    const i = list.indexOf(fn);
    if (i >= 0) this.listeners[event] = [...list.slice(0, i), ...list.slice(i + 1)];
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.listeners[event]?.length ?? 0;
  }

  /**
   * The arguments of the next `event`. With a clock and `timeoutMs` the
   * promise rejects when nothing came in time (so a script never waits forever).
   */
  next<K extends keyof E>(event: K, timeout?: { clock: Clock; ms: number }): Promise<E[K]> {
    return new Promise((resolve, reject) => {
      const timer = timeout?.clock.setTimer(timeout.ms, () => {
        off();
        reject(new Error(`no "${String(event)}" event within ${timeout.ms} ms`));
      });
      const off = this.once(event, (...args) => {
        timer?.cancel();
        resolve(args);
      });
    });
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.listeners[event];
    if (!list || list.length === 0) return;
    for (const fn of list) {
      try {
        fn(...args);
      } catch (err) {
        this.log.error({ err, event: String(event) }, 'an event listener threw; the others still ran');
      }
    }
  }
}
