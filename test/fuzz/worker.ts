/**
 * A worker thread that runs parser cases. It shares its counters with the
 * engine through a SharedArrayBuffer (so a worker terminated for a hang
 * loses nothing) and posts each failure as it happens. The slot `current`
 * says which case is running; the engine's watchdog reads it.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { caseInput, isParserTarget, targetOf } from './case.js';
import { RoundTripError } from './targets/target.js';
import { TARGETS } from './targets/index.js';
import { COUNTERS, PHASE, SLOT, type ChunkRequest, type FailureMessage, type WorkerInit } from './worker-protocol.js';

const init = workerData as WorkerInit;
const counts = new Int32Array(init.counts);
const times = new Float64Array(init.times);
const slots = new Int32Array(init.slots);

function fail(msg: FailureMessage): void {
  parentPort?.postMessage(msg);
}

function runChunk(req: ChunkRequest): void {
  const indices = req.indices;
  for (let pos = 0; pos < indices.length; pos++) {
    const index = indices[pos];
    Atomics.store(slots, SLOT.position, pos);
    Atomics.store(slots, SLOT.current, index);
    Atomics.store(slots, SLOT.phase, PHASE.generating);
    Atomics.add(slots, SLOT.heartbeat, 1);
    const t0 = performance.now();
    let made: ReturnType<typeof caseInput>;
    try {
      made = caseInput(req.seed, index);
    } catch (err) {
      // A bug of the fuzzer, not of a parser; still reported so it gets fixed.
      const e = err instanceof Error ? err : new Error(String(err));
      const t = TARGETS.indexOf(targetOf(req.seed, index)) * COUNTERS.width;
      Atomics.add(counts, t + COUNTERS.cases, 1);
      Atomics.add(counts, t + COUNTERS.crashes, 1);
      fail({ type: 'failure', kind: 'crash', target: targetOf(req.seed, index).name, index, message: `the fuzzer's generator threw (a bug in the fuzzer): ${e.message}`, stack: e.stack, input: new Uint8Array(0) });
      continue;
    }
    const { target, input } = made;
    Atomics.store(slots, SLOT.phase, PHASE.running);
    if (index === req.stallAt) for (;;);
    const ti = TARGETS.indexOf(target);
    const base = ti * COUNTERS.width;
    if (!isParserTarget(target)) continue;
    let kind: FailureMessage['kind'] | undefined;
    let error: unknown;
    const t1 = performance.now();
    let verdict: string | undefined;
    try {
      verdict = target.run(input);
    } catch (err) {
      error = err;
      kind = err instanceof RoundTripError ? 'round-trip' : 'crash';
    }
    let took = performance.now() - t1;
    // Work grows with the input, linearly for a sound parser: the bound grows by hangMs per 64 KiB.
    const bound = req.hangMs * (1 + input.length / 65536);
    // Twice more before calling it a hang: a GC pause, a cold code path or a busy machine can stall one run.
    for (let again = 0; again < 2 && took > bound; again++) {
      const t2 = performance.now();
      try {
        target.run(input);
      } catch {
        // The verdict of the first run stands.
      }
      took = Math.min(took, performance.now() - t2);
    }
    if (took > bound) {
      Atomics.add(counts, base + COUNTERS.hangs, 1);
      fail({ type: 'failure', kind: 'hang', target: target.name, index, message: `took ${took.toFixed(1)} ms at best of three runs (bound ${bound.toFixed(0)} ms for ${input.length} bytes)`, input });
    }
    Atomics.add(counts, base + COUNTERS.cases, 1);
    if (kind) {
      Atomics.add(counts, base + (kind === 'crash' ? COUNTERS.crashes : COUNTERS.roundTrip), 1);
      const e = error instanceof Error ? error : new Error(String(error));
      fail({ type: 'failure', kind, target: target.name, index, message: `${e.name}: ${e.message}`, stack: e.stack, input });
    } else {
      Atomics.add(counts, base + (verdict === 'accepted' ? COUNTERS.accepted : COUNTERS.rejected), 1);
    }
    times[ti] += performance.now() - t0;
  }
  Atomics.store(slots, SLOT.current, -1);
  parentPort?.postMessage({ type: 'done', chunk: req.chunk });
}

parentPort?.on('message', (req: ChunkRequest) => runChunk(req));
