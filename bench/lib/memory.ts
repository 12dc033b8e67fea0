/**
 * Memory as the bench reports it: what the OS sees (RSS, PSS from /proc) and,
 * for Switchboard, what V8 holds (heap used, Buffers outside the heap) and
 * the tables that grow with load (transactions, dialogs, traces).
 */
import { sleep } from '../../test/helpers/process.js';
import { realClock } from '../../src/util/clock.js';
import type { InsideReport } from './inspect.js';
import type { Target } from './targets.js';

export interface MemPoint {
  rssMb: number;
  pssMb: number;
  /** Switchboard only. */
  heapUsedMb?: number;
  heapTotalMb?: number;
  externalMb?: number;
  transactions?: number;
  dialogs?: number;
  traceMessages?: number;
  registrations?: number;
  /** Taken after a forced full garbage collection. */
  gc?: boolean;
}

/** RFC 3261 Timers J and L hold a finished transaction 32 s; wait longer than that (the server collects on its next quiet look). */
export const DRAIN_MS = 40_000;

export async function memPoint(target: Target, gc = false): Promise<MemPoint> {
  let inside: InsideReport | undefined;
  try {
    inside = await target.inside?.(gc);
  } catch {
    inside = undefined; // a busy or dying target: report what /proc says
  }
  // After the (possible) GC, so the OS figures see what it freed.
  const m = target.memory();
  const p: MemPoint = { rssMb: m.rssMb, pssMb: m.pssMb };
  if (inside) {
    p.heapUsedMb = inside.heapUsedMb;
    p.heapTotalMb = inside.heapTotalMb;
    p.externalMb = inside.externalMb;
    p.transactions = inside.transactions.client + inside.transactions.server;
    p.dialogs = inside.dialogs;
    p.traceMessages = inside.traces.messages;
    p.registrations = inside.registrations;
    p.gc = gc;
  }
  return p;
}

/** Sleeps until `DRAIN_MS` after `since` (realClock.now()), so every transaction of the step has ended. */
export async function drain(since: number, ms = DRAIN_MS): Promise<void> {
  const left = since + ms - realClock.now();
  if (left > 0) await sleep(left);
}

export function fmtPoint(p: MemPoint): string {
  const f = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(0));
  let s = `RSS ${f(p.rssMb)} MB, PSS ${f(p.pssMb)} MB`;
  if (p.heapUsedMb !== undefined) {
    s += `, heap ${f(p.heapUsedMb)}/${f(p.heapTotalMb)} MB, external ${f(p.externalMb)} MB; ${p.transactions} tx, ${p.dialogs} dialogs, ${p.traceMessages} traced msgs`;
  }
  return s;
}
