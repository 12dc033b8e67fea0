/** What a fuzz target is, and how a case ends. */
import type { Rng } from '../rng.js';

/**
 * A parser accepted the input, or refused it with one of its declared error
 * types (or its documented "undefined" answer). Anything else a target's run
 * throws is a crash; a RoundTripError is a round-trip failure.
 */
export type Verdict = 'accepted' | 'rejected';

export interface Target {
  name: string;
  /** 'parser' targets run in-process (in a worker thread); 'server' ones are sent to a running Switchboard. */
  kind: 'parser' | 'server';
  /** Share of all cases, relative to the other targets' weights. */
  weight: number;
  generate(rng: Rng, ctx: CaseContext): Buffer;
}

/** Where a case will be sent: server targets address their messages to the running server. */
export interface CaseContext {
  /** The server's SIP port (UDP and TCP). */
  sipPort: number;
  /** The driver's UDP port, written into Via and Contact. */
  localPort: number;
}

export const IN_PROCESS: CaseContext = { sipPort: 5060, localPort: 5070 };

export interface ParserTarget extends Target {
  kind: 'parser';
  run(input: Buffer): Verdict;
}

/** The valid subset did not survive serialize-and-parse unchanged. */
export class RoundTripError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoundTripError';
  }
}

/** Throws a RoundTripError naming the first difference between two JSON-able values. */
export function assertSame(what: string, a: unknown, b: unknown): void {
  const diff = firstDifference(a, b, '');
  if (diff !== undefined) throw new RoundTripError(`${what}: ${diff}`);
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : Buffer.isBuffer(v) ? `<${v.length} bytes ${v.subarray(0, 24).toString('hex')}>` : JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? [...x] : x));
  return (s ?? String(v)).length > 200 ? (s ?? '').slice(0, 200) + '...' : s ?? String(v);
}

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b) ? undefined : `${path || 'value'} ${show(a)} became ${show(b)}`;
  if (a instanceof Map && b instanceof Map) return firstDifference([...a], [...b], path);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path || 'list'} had ${a.length} entries, now ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  return `${path || 'value'} ${show(a)} became ${show(b)}`;
}
