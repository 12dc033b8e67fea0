/** What the engine and its parser workers exchange. */

/** Per-target counters, `width` Int32 slots per target in the shared array. */
export const COUNTERS = { cases: 0, accepted: 1, rejected: 2, crashes: 3, hangs: 4, roundTrip: 5, width: 6 } as const;

/** Shared Int32 slots the watchdog reads. */
export const SLOT = { current: 0, position: 1, heartbeat: 2, phase: 3, size: 4 } as const;

/** What the case in `current` is doing: its input being made, or the parser running on it. */
export const PHASE = { generating: 0, running: 1 } as const;

export interface WorkerInit {
  counts: SharedArrayBuffer;
  times: SharedArrayBuffer;
  slots: SharedArrayBuffer;
}

export interface ChunkRequest {
  chunk: number;
  seed: number;
  indices: number[];
  hangMs: number;
  /** The engine's own test: this case never returns, as a parser stuck in a loop would. */
  stallAt?: number;
}

export interface FailureMessage {
  type: 'failure';
  kind: 'crash' | 'hang' | 'round-trip';
  target: string;
  index: number;
  message: string;
  stack?: string;
  input: Uint8Array;
}

export type WorkerMessage = FailureMessage | { type: 'done'; chunk: number };
