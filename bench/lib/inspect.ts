/**
 * The bench's line protocol into a Switchboard run by run-switchboard.ts:
 * one command a line on its standard input, one `REPLY <id> <json>` line on
 * its standard output. Replies are matched by id, so other output between
 * them (READY, warnings) does no harm.
 */
import { realClock } from '../../src/util/clock.js';

export interface SpaceUse {
  sizeMb: number;
  usedMb: number;
}

/** What the process says about its own memory and tables. */
export interface InsideReport {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  /** Memory outside the V8 heap that V8 knows of (Buffers, SQLite does not count). */
  externalMb: number;
  arrayBuffersMb: number;
  heapLimitMb: number;
  spaces: Record<string, SpaceUse>;
  transactions: { client: number; server: number };
  dialogs: number;
  registrations: number;
  traces: { calls: number; messages: number; bytes: number };
}

/** The event loop between a `loop-start` and a `loop` command, and the quiet-time collections in between. */
export interface LoopReport {
  /** Delay of the event loop (node:perf_hooks monitorEventLoopDelay, sampled every 10 ms), ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Full collections the server's IdleCollector ran (it thinks the server is quiet), and their time. */
  idleCollections: number;
  idleCollectionMs: number;
  idleCollectionMaxMs: number;
}

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: { cancel(): void };
}

export class InsideChannel {
  private buffered = '';
  private nextId = 1;
  private readonly waiting = new Map<string, Waiter>();

  constructor(private readonly write: (line: string) => void) {}

  /** Every chunk of the process's standard output. */
  feed(chunk: string): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const m = /^REPLY (\d+) (.*)$/.exec(line);
      if (!m) continue;
      const w = this.waiting.get(m[1]);
      if (!w) continue;
      this.waiting.delete(m[1]);
      w.timer.cancel();
      try {
        const body = JSON.parse(m[2]) as unknown;
        if (body && typeof body === 'object' && 'error' in body) w.reject(new Error(String((body as { error: unknown }).error)));
        else w.resolve(body);
      } catch (err) {
        w.reject(err as Error);
      }
    }
  }

  /** Sends one command; a heap snapshot of a large heap takes a while, hence the generous default. */
  ask(command: string, timeoutMs = 120_000): Promise<unknown> {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = realClock.setTimer(timeoutMs, () => {
        this.waiting.delete(id);
        reject(new Error(`no reply to "${command}" within ${timeoutMs} ms`));
      });
      this.waiting.set(id, { resolve, reject, timer });
      this.write(`${id} ${command}\n`);
    });
  }
}
