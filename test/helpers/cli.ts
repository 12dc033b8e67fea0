/**
 * The command line as a user runs it: `node bin/switchboard.js ...` in child
 * processes with bounded output and deadlines, in a scratch directory of the
 * session's own. Needs the compiled CLI (npm test builds it first).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnBounded, type Exited, type Spawned } from './process.js';
import { repoRoot } from './repo.js';

export const ROOT = repoRoot();
export const BIN = path.join(ROOT, 'bin', 'switchboard.js');
const COMPILED = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** How long a server may take to print its banner (first start makes a TLS certificate). */
const START_MS = 20_000;

export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}

export function explain(r: Exited): string {
  return `exit ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

/** A long-running `serve`: `banner` resolves once `ready` matches stdout, or with the exit if the process ended first. */
export interface Serving {
  proc: Spawned;
  banner: Promise<{ banner: string } | { exited: Exited }>;
}

export class CliSession {
  readonly dir: string;
  private readonly spawned = new Set<Spawned>();

  constructor() {
    if (!existsSync(COMPILED)) {
      throw new Error(`${path.relative(ROOT, COMPILED)} is missing: build the CLI first with "npx tsc -p ." (npm test does this itself)`);
    }
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'sb-cli-'));
  }

  /** Runs one command to completion. */
  async run(args: string[], opts: { stdin?: string; cwd?: string; deadlineMs?: number } = {}): Promise<Exited> {
    const p = spawnBounded(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? this.dir, stdin: opts.stdin, deadlineMs: opts.deadlineMs ?? 15_000 });
    this.spawned.add(p);
    const r = await p.exited;
    this.spawned.delete(p);
    return { ...r, stdout: stripAnsi(r.stdout), stderr: stripAnsi(r.stderr) };
  }

  /** `deadlineMs` bounds the server's life (default 180 s); suites that run longer pass their own. */
  serve(args: string[], ready: RegExp, deadlineMs = 180_000): Serving {
    const proc = spawnBounded(process.execPath, [BIN, 'serve', ...args], { cwd: this.dir, deadlineMs });
    this.spawned.add(proc);
    proc.onExit(() => this.spawned.delete(proc));
    const banner = new Promise<{ banner: string } | { exited: Exited }>((resolve) => {
      const deadline = Date.now() + START_MS;
      const poll = (): void => {
        const out = stripAnsi(proc.stdout());
        if (ready.test(out)) return resolve({ banner: out });
        if (Date.now() > deadline) {
          proc.child.kill('SIGKILL');
          proc.onExit((e) => resolve({ exited: e }));
          return;
        }
        setTimeout(poll, 20);
      };
      proc.onExit((e) => resolve({ exited: { ...e, stdout: stripAnsi(e.stdout), stderr: stripAnsi(e.stderr) } }));
      poll();
    });
    return { proc, banner };
  }

  /** Kills whatever is still running and removes the scratch directory. */
  async close(): Promise<void> {
    await Promise.all([...this.spawned].map((p) => p.kill('SIGTERM', 2000)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function started(s: Serving): Promise<string> {
  const b = await s.banner;
  if ('exited' in b) assert.fail(`serve did not start:\n${explain(b.exited)}`);
  return b.banner;
}

/** Waits until `pred()` holds (polling), or fails with `what`. */
export async function eventually(pred: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail(what());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The first yaml block of a README section, verbatim (by default the "switchboard.yaml" example). */
export function readmeYaml(heading = '## `switchboard.yaml`'): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.indexOf(heading);
  assert.ok(section >= 0, `README has a section "${heading}"`);
  const m = /```yaml\n([\s\S]*?)```/.exec(readme.slice(section));
  assert.ok(m, `README's section "${heading}" has a \`\`\`yaml block`);
  return m[1];
}

/** Replaces exactly one occurrence of `from` (so a README change fails here, not silently). */
export function replaceOnce(text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  assert.equal(n, 1, `README example should contain "${from}" once`);
  return text.replace(from, to);
}
