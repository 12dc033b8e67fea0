/**
 * Child processes for real-peer tests: output is captured (bounded, so a
 * peer that logs forever cannot eat the heap) and every run has a hard
 * deadline after which the process is killed, so a stuck peer fails a test
 * instead of hanging CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { realClock, type Clock, type TimerHandle } from '../../src/util/clock.js';

/** Keep at most this much of each stream: the tail is what explains a failure. */
export const OUTPUT_CAP_BYTES = 1024 * 1024;

export class BoundedText {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly cap = OUTPUT_CAP_BYTES) {}

  push(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    while (this.size > this.cap && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  toString(): string {
    return this.chunks.join('');
  }
}

export interface Exited {
  /** The exit code, or -1 when the process died from a signal. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** True when we killed it because the deadline passed. */
  killedByDeadline: boolean;
  stdout: string;
  stderr: string;
}

export interface Spawned {
  child: ChildProcess;
  /** Resolves once, when the process has exited (never rejects). */
  exited: Promise<Exited>;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Signal, then SIGKILL after `graceMs` if it is still there. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<Exited>;
  /** Runs `fn` once the process has exited; a throw in `fn` surfaces as an uncaught error that fails the test. */
  onExit(fn: (e: Exited) => void): void;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Hard deadline: `deadlineSignal` at this point, SIGKILL 2 s later. */
  deadlineMs: number;
  /** Default SIGTERM; SIPp wants SIGINT (it still writes its statistics). */
  deadlineSignal?: NodeJS.Signals;
  clock?: Clock;
  /** Called with every stdout chunk (e.g. to watch a log). */
  onStdout?: (chunk: string) => void;
  stdin?: string;
  /** Keep standard input open as a pipe (write to child.stdin) instead of closing it. */
  stdinOpen?: boolean;
}

export function spawnBounded(cmd: string, args: string[], opts: SpawnOptions): Spawned {
  const clock = opts.clock ?? realClock;
  const out = new BoundedText();
  const err = new BoundedText();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdin === undefined && !opts.stdinOpen ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (child.stdin) {
    // EPIPE once the child is gone is not the test's business.
    child.stdin.on('error', () => undefined);
    if (opts.stdinOpen) {
      if (opts.stdin) child.stdin.write(opts.stdin);
    } else if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  }
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    out.push(c);
    opts.onStdout?.(c);
  });
  child.stderr!.on('data', (c: string) => err.push(c));

  let killedByDeadline = false;
  const timers: TimerHandle[] = [];
  const exited = new Promise<Exited>((resolve) => {
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      for (const t of timers) t.cancel();
      resolve({
        exitCode: code ?? -1,
        signal,
        killedByDeadline,
        stdout: out.toString(),
        stderr: err.toString(),
      });
    };
    // 'close' waits for the pipes to drain, so the output is complete.
    child.once('close', finish);
    child.once('error', (e) => {
      err.push(`spawn ${cmd} failed: ${e.message}\n`);
      finish(-1, null);
    });
  });

  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;

  const signal = (sig: NodeJS.Signals, graceMs: number): void => {
    if (!isRunning()) return;
    child.kill(sig);
    timers.push(
      clock.setTimer(graceMs, () => {
        if (isRunning()) child.kill('SIGKILL');
      }),
    );
  };
  const kill = (sig: NodeJS.Signals = 'SIGTERM', graceMs = 2000): Promise<Exited> => {
    signal(sig, graceMs);
    return exited;
  };
  const onExit = (fn: (e: Exited) => void): void => {
    exited.then(fn).catch((e: unknown) => {
      queueMicrotask(() => {
        throw e;
      });
    });
  };

  timers.push(
    clock.setTimer(opts.deadlineMs, () => {
      if (!isRunning()) return;
      killedByDeadline = true;
      signal(opts.deadlineSignal ?? 'SIGTERM', 2000);
    }),
  );

  return { child, exited, stdout: () => out.toString(), stderr: () => err.toString(), kill, onExit };
}

/** Resolves after `ms` on `clock` (real time by default). */
export function sleep(ms: number, clock: Clock = realClock): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimer(ms, resolve);
  });
}
