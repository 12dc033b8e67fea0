/**
 * Network namespaces for tests that need more than one host (a phone behind
 * a NAT, a lossy link). Names are `sbt-<pid>-<n>` so parallel runs never
 * collide and leftovers of a killed run can be told apart and removed.
 * veth pairs are created straight inside the namespaces (`ip link add ...
 * netns X ... peer ... netns Y`), so the root namespace's interfaces and
 * routes are never touched. Deleting a namespace deletes its veth ends.
 *
 * Teardown is `Netns.teardown()` from an `after` hook; a process that exits
 * without it (an uncaught error, process.exit) still removes its namespaces
 * from an 'exit' handler.
 */
import { execFile, execFileSync } from 'node:child_process';
import { hasBinary } from './peers.js';
import { spawnBounded, type SpawnOptions, type Spawned } from './process.js';

export const NETNS_PREFIX = 'sbt-';

let counter = 0;
const live = new Set<string>();
const liveChildren = new Set<Spawned>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const s of liveChildren) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const name of live) {
      try {
        execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // best effort on the way out
      }
    }
  });
}

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

export interface NetnsSpawnOptions extends SpawnOptions {
  /** Keep stdin open (child.stdin) for a line protocol; `stdin` text, if any, is written first. */
  interactive?: boolean;
}

function track(s: Spawned, also?: Set<Spawned>): Spawned {
  liveChildren.add(s);
  also?.add(s);
  s.onExit(() => {
    liveChildren.delete(s);
    also?.delete(s);
  });
  return s;
}

function spawnInNs(ns: string, cmd: string, args: string[], opts: NetnsSpawnOptions): Spawned {
  const full = ['netns', 'exec', ns, cmd, ...args];
  return spawnBounded('ip', full, { ...opts, stdinOpen: opts.interactive });
}

/** Our namespace names currently on the host (all runs). */
export async function listTestNamespaces(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n && n.startsWith(NETNS_PREFIX));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes `sbt-<pid>-*` namespaces whose test process is gone (a run killed with SIGKILL). */
export async function removeStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listTestNamespaces()) {
    const m = /^sbt-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    await run('ip', ['netns', 'del', name]).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/**
 * Skip reason when namespaces cannot be made here (not root, no iproute2,
 * no CAP_SYS_ADMIN in a container); in CI that is a failure, said loudly.
 */
export function requireNetns(): string | undefined {
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = 'network namespaces need Linux';
  else if (process.getuid?.() !== 0) reason = 'network namespaces need root (run the test as root)';
  else if (!hasBinary('ip')) reason = 'missing peer(s): ip (iproute2) — run: sudo bash scripts/install-peers.sh';
  else {
    const probe = `${NETNS_PREFIX}${process.pid}-probe`;
    try {
      execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe', timeout: 5000 });
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe', timeout: 5000 });
    } catch (e) {
      reason = `cannot create a network namespace: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (reason && process.env.CI) throw new Error(reason);
  return reason;
}

export interface VethEnd {
  ns: string;
  /** Interface name inside the namespace (at most 15 characters). */
  ifname: string;
  /** Address with prefix, e.g. 10.213.1.2/24. */
  cidr: string;
}

/** The namespaces one test made; `teardown` removes every one of them and the processes inside. */
export class Netns {
  private readonly names: string[] = [];
  private readonly children = new Set<Spawned>();

  /** A new, empty namespace with `lo` up. */
  async create(label: string): Promise<string> {
    installExitHook();
    const name = `${NETNS_PREFIX}${process.pid}-${++counter}${label ? '-' + label.replace(/[^a-z0-9]/gi, '') : ''}`;
    await run('ip', ['netns', 'add', name]);
    live.add(name);
    this.names.push(name);
    await this.ip(name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** `ip -n ns ...` */
  ip(ns: string, ...args: string[]): Promise<string> {
    this.own(ns);
    return run('ip', ['-n', ns, ...args]);
  }

  /** A veth pair joining two of our namespaces, both ends addressed and up. */
  async veth(a: VethEnd, b: VethEnd): Promise<void> {
    this.own(a.ns);
    this.own(b.ns);
    await run('ip', ['link', 'add', 'name', a.ifname, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns]);
    for (const end of [a, b]) {
      await this.ip(end.ns, 'addr', 'add', end.cidr, 'dev', end.ifname);
      await this.ip(end.ns, 'link', 'set', end.ifname, 'up');
    }
  }

  /** `sysctl -w key=value` inside the namespace (net.* keys are per namespace). */
  async sysctl(ns: string, key: string, value: string): Promise<void> {
    this.own(ns);
    await run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `${key}=${value}`]);
  }

  /** Runs `cmd` inside the namespace (`ip netns exec` execs it, so the pid is the command's). */
  execIn(ns: string, cmd: string, args: string[], opts: NetnsSpawnOptions): Spawned {
    this.own(ns);
    return track(spawnInNs(ns, cmd, args, opts), this.children);
  }

  get namespaces(): readonly string[] {
    return this.names;
  }

  private own(ns: string): void {
    if (!this.names.includes(ns)) throw new Error(`namespace ${ns} was not made by this Netns`);
  }

  /** Stops the processes started inside (SIGTERM, then SIGKILL) and deletes the namespaces. Safe to call twice. */
  async teardown(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.kill('SIGTERM', 1000)));
    const errors: string[] = [];
    for (const name of this.names.splice(0)) {
      try {
        await run('ip', ['netns', 'del', name]);
      } catch (e) {
        errors.push((e as Error).message);
      }
      live.delete(name);
    }
    if (errors.length) throw new Error(`netns teardown: ${errors.join('; ')}`);
  }
}

/** One-shot `ip netns exec ns cmd args` for a namespace made elsewhere in this process. */
export function execIn(ns: string, cmd: string, args: string[], opts: NetnsSpawnOptions): Spawned {
  if (!live.has(ns)) throw new Error(`namespace ${ns} is not one of this process's test namespaces`);
  return track(spawnInNs(ns, cmd, args, opts));
}
