/**
 * `switchboard phone` as a user runs it: the real CLI in its own process
 * (compiled from dist/ when the tests run compiled, through tsx otherwise),
 * its output watched line by line, commands written to its standard input.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStatsLine, type StatsLine } from '../../src/media/quality/stats-line.js';
import { spawnBounded, type Exited, type Spawned } from './process.js';
import { repoRoot } from './repo.js';

export interface PhoneProcess {
  proc: Spawned;
  /** Everything printed so far. */
  output(): string;
  /** Resolves with the first output line matching `re` (lines already printed count). */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  /** Writes one command line (`hold`, `dtmf 12#`, `transfer URI` ...). */
  send(command: string): void;
  /** Every [STATS] line so far. */
  stats(): StatsLine[];
  exited: Promise<Exited>;
  stop(): Promise<Exited>;
}

/** Every [STATS] line in a phone's output, in order. */
export function statsLines(out: string): StatsLine[] {
  return out
    .split('\n')
    .map((l) => parseStatsLine(l))
    .filter((s): s is StatsLine => s !== undefined);
}

/** The command line that runs the CLI: node + entry (+ tsx when running from sources). */
export function cliCommand(): string[] {
  const root = repoRoot();
  const compiled = fileURLToPath(import.meta.url).includes(`${path.sep}dist${path.sep}`);
  return compiled ? [path.join(root, 'dist', 'src', 'cli', 'main.js')] : ['--import', 'tsx', path.join(root, 'src', 'cli', 'main.ts')];
}

export interface StartPhoneOptions {
  /** Hard limit on the process (default 60 s). */
  deadlineMs?: number;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  env?: NodeJS.ProcessEnv;
}

export function startPhone(args: string[], opts: StartPhoneOptions = {}): PhoneProcess {
  const root = repoRoot();
  const argv = [...cliCommand(), 'phone', ...args];
  const [cmd, cmdArgs] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, process.execPath, ...argv]] : [process.execPath, argv];
  const waiters = new Set<() => void>();
  const proc = spawnBounded(cmd, cmdArgs, {
    cwd: root,
    env: opts.env,
    deadlineMs: opts.deadlineMs ?? 60_000,
    stdinOpen: true,
    onStdout: () => {
      for (const w of [...waiters]) w();
    },
  });
  proc.onExit(() => {
    for (const w of [...waiters]) w();
  });
  let done = false;
  proc.onExit(() => (done = true));
  const output = (): string => proc.stdout();
  return {
    proc,
    output,
    waitFor(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const line = output().split('\n').find((l) => re.test(l));
          if (line !== undefined) {
            finish();
            resolve(line);
            return true;
          }
          if (done) {
            finish();
            reject(new Error(`phone exited before printing ${re}; output:\n${output()}\nstderr:\n${proc.stderr()}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${output()}\nstderr:\n${proc.stderr()}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(w);
        };
        const w = (): void => void check();
        waiters.add(w);
        check();
      });
    },
    send(command) {
      proc.child.stdin?.write(command + '\n');
    },
    stats: () => statsLines(output()),
    exited: proc.exited,
    stop: () => proc.kill('SIGTERM', 3000),
  };
}

/** The phones a suite starts, remembered so its `after` stops every one. */
export interface PhoneTracker {
  /** startPhone, remembering the process. */
  start: (args: string[], opts?: StartPhoneOptions) => PhoneProcess;
  stopAll: () => Promise<void>;
}

export function phoneTracker(): PhoneTracker {
  const started: PhoneProcess[] = [];
  return {
    start: (args, opts) => {
      const p = startPhone(args, opts);
      started.push(p);
      return p;
    },
    stopAll: async () => {
      await Promise.all(started.map((p) => p.stop()));
    },
  };
}

/**
 * Polls a process's output until `re` matches it (for phones run some other
 * way than startPhone: in a namespace, under a pseudo-terminal). Fails if the
 * process exits first or `ms` pass.
 */
export async function waitForOutput(p: Spawned, re: RegExp, ms: number): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = re.exec(p.stdout());
    if (m) return m;
    if (p.child.exitCode !== null || Date.now() > end) throw new Error(`no ${re} in:\n${p.stdout()}\n${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
