/**
 * The two systems under test, started as separate processes on 127.0.0.1 and
 * measured through /proc: Switchboard (one Node process) and Kamailio (its
 * main process plus the forked workers, summed).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, isPortFree } from '../../test/helpers/ports.js';
import { sleep, spawnBounded, type Spawned } from '../../test/helpers/process.js';
import { realClock } from '../../src/util/clock.js';
import { repoRoot } from '../../test/helpers/repo.js';
import { InsideChannel, type InsideReport, type LoopReport } from './inspect.js';
import { memory, processTree, treeCpuSeconds, type Memory } from './procstat.js';

export { repoRoot };

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface BenchUser {
  user: string;
  password: string;
}

export interface Target {
  name: string;
  /** host:port of its UDP listener. */
  sip: string;
  pid: number;
  cpuSeconds(): number;
  memory(): Memory;
  /** Stops it and waits for the exit (so a CPU profile is written). */
  stop(): Promise<void>;
  /** Switchboard only: its admin /status (transactions, dialogs, counters), registrations left out. */
  status?(): Promise<Record<string, unknown> | undefined>;
  /** Switchboard only, with profileDir: starts the CPU profiler (SIGUSR2). */
  startProfile?(): void;
  /** Switchboard only: its V8 heap and table sizes, after a full GC when `gc`. */
  inside?(gc: boolean): Promise<InsideReport>;
  /** Switchboard only: writes a V8 heap snapshot (after a full GC) to `file`. */
  heapSnapshot?(file: string): Promise<void>;
  /** Switchboard only: starts watching its event loop (delay, quiet-time collections) ... */
  eventLoopStart?(): Promise<void>;
  /** ... and stops, with what it saw. */
  eventLoop?(): Promise<LoopReport>;
}

/** Any process a deadline or a hung stop left behind is killed; the bench never leaves servers running. */
const LIFETIME_MS = 30 * 60_000;

async function waitForUdp(port: number, spawned: Spawned, what: string, timeoutMs: number): Promise<void> {
  let exited = false;
  spawned.onExit(() => {
    exited = true;
  });
  const deadline = realClock.now() + timeoutMs;
  while (await isPortFree(port, 'udp')) {
    if (exited || realClock.now() > deadline) {
      await spawned.kill('SIGKILL');
      throw new Error(`${what} did not bind udp 127.0.0.1:${port}:\n${spawned.stderr().slice(-3000)}\n${spawned.stdout().slice(-2000)}`);
    }
    await sleep(100);
  }
}

function stopper(spawned: Spawned): () => Promise<void> {
  return async () => {
    await spawned.kill('SIGTERM', 10_000);
  };
}

export interface SwitchboardOptions {
  workDir: string;
  users: BenchUser[];
  /** Where startProfile()'s profile goes (written when the target stops). */
  profileDir?: string;
  /** Extra environment for the server process (e.g. MALLOC_ARENA_MAX to compare allocators). */
  env?: Record<string, string>;
  /** Extra node options for the server process (e.g. --max-semi-space-size=32). */
  nodeArgs?: string[];
  /** More top-level config (the PBX half: trunks, conferences, dialplan ...), appended as written. */
  extraYaml?: string;
  /** More sip.listen entries beside the UDP one (e.g. `ws:127.0.0.1:PORT`). */
  listen?: string[];
}

export async function startSwitchboard(o: SwitchboardOptions): Promise<Target> {
  mkdirSync(o.workDir, { recursive: true });
  const port = await freePort('udp');
  const adminPort = await freePort('tcp');
  const yaml = [
    'domain: 127.0.0.1',
    'sip:',
    '  listen:',
    `    - udp:127.0.0.1:${port}`,
    ...(o.listen ?? []).map((l) => `    - ${l}`),
    // One challenge, as Kamailio sends: SIPp answers MD5 either way.
    '  auth_algorithms: [MD5]',
    'admin:',
    `  listen: 127.0.0.1:${adminPort}`,
    `data: ${path.join(o.workDir, 'data')}`,
    'users:',
    ...o.users.map((u) => `  "${u.user}": { password: "${u.password}" }`),
    ...(o.extraYaml ? [o.extraYaml.trimEnd()] : []),
    '',
  ].join('\n');
  const cfg = path.join(o.workDir, 'switchboard.yaml');
  writeFileSync(cfg, yaml);
  const compiled = path.join(HERE, 'run-switchboard.js');
  const entry = existsSync(compiled) ? [compiled] : ['--import', 'tsx', path.join(HERE, 'run-switchboard.ts')];
  // The closure reads `spawned` only when a command is sent, after the spawn below.
  const ch = new InsideChannel((line) => spawned.child.stdin?.write(line));
  // --expose-gc lets the bench ask for a full collection before it reads the heap (inside(true)).
  const spawned = spawnBounded(process.execPath, ['--expose-gc', ...(o.nodeArgs ?? []), ...entry, cfg, ...(o.profileDir ? [o.profileDir] : [])], {
    // From the repository, so `--import tsx` resolves when running the TypeScript directly.
    cwd: repoRoot(),
    deadlineMs: LIFETIME_MS,
    env: { ...process.env, ...o.env },
    stdinOpen: true,
    onStdout: (chunk) => ch.feed(chunk),
  });

  await waitForUdp(port, spawned, 'Switchboard', 30_000);
  const pid = spawned.child.pid!;
  return {
    name: 'Switchboard',
    sip: `127.0.0.1:${port}`,
    pid,
    cpuSeconds: () => treeCpuSeconds(pid),
    memory: () => memory(processTree(pid)),
    stop: stopper(spawned),
    async status() {
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}/status`, { signal: AbortSignal.timeout(10_000) });
        const body = (await res.json()) as Record<string, unknown>;
        const regs = body['registrations'];
        return { ...body, registrations: Array.isArray(regs) ? regs.length : regs, dialogs: Array.isArray(body['dialogs']) ? body['dialogs'].length : body['dialogs'] };
      } catch {
        return undefined;
      }
    },
    startProfile: o.profileDir ? () => spawned.child.kill('SIGUSR2') : undefined,
    inside: async (gc) => (await ch.ask(gc ? 'mem-gc' : 'mem')) as InsideReport,
    heapSnapshot: async (file) => {
      await ch.ask(`snapshot ${file}`);
    },
    eventLoopStart: async () => {
      await ch.ask('loop-start', 10_000);
    },
    eventLoop: async () => (await ch.ask('loop', 10_000)) as LoopReport,
  };
}

export function kamailioBinary(): string | undefined {
  for (const p of ['/usr/sbin/kamailio', '/usr/local/sbin/kamailio', '/sbin/kamailio']) if (existsSync(p)) return p;
  return undefined;
}

/** Where Debian (or a source install) keeps Kamailio's modules. */
function modulePath(): string {
  const candidates = ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules', '/usr/local/lib64/kamailio/modules', '/usr/local/lib/kamailio/modules'];
  const found = candidates.find((d) => existsSync(path.join(d, 'tm.so')));
  if (!found) throw new Error(`Kamailio modules (tm.so) not found in ${candidates.join(', ')}`);
  return found;
}

export interface KamailioOptions {
  workDir: string;
  children: number;
  /** Digest-authenticate REGISTER with these users' passwords (htable loaded by db_text). */
  authUsers?: BenchUser[];
  /**
   * Shared memory in MB. Every transaction lives in shm until its wait timer
   * ends (5 s after the final reply): at 2,000 calls/s 256 MB ran out (t_relay
   * answered "500 No error"), so give it what a production box would.
   */
  shmMb?: number;
  /** The config template under bench/kamailio/ (default kamailio.cfg). */
  template?: string;
  /** More @NAME@ placeholders the template holds. */
  vars?: Record<string, string>;
  /** What the report calls it (default Kamailio). */
  name?: string;
}

export async function startKamailio(o: KamailioOptions): Promise<Target> {
  const bin = kamailioBinary();
  if (!bin) throw new Error('kamailio not installed');
  mkdirSync(o.workDir, { recursive: true });
  const port = await freePort('udp');
  const dbDir = path.join(o.workDir, 'db');
  const template = readFileSync(path.join(repoRoot(), 'bench', 'kamailio', o.template ?? 'kamailio.cfg'), 'utf8');
  let cfgText = template
    .replaceAll('@CHILDREN@', String(o.children))
    .replaceAll('@PORT@', String(port))
    .replaceAll('@MPATH@', modulePath())
    .replaceAll('@DBDIR@', dbDir);
  for (const [k, v] of Object.entries(o.vars ?? {})) cfgText = cfgText.replaceAll(`@${k}@`, v);
  const left = /@[A-Z]+@/.exec(cfgText.replace(/^#(?!!).*$/gm, ''));
  if (left) throw new Error(`${o.template ?? 'kamailio.cfg'}: placeholder ${left[0]} not filled in`);
  const cfg = path.join(o.workDir, 'kamailio.cfg');
  writeFileSync(cfg, cfgText);
  // -x/-X tlsf: Debian's default allocator (qm, built with memory debugging) walks its
  // free lists and took over half of Kamailio's CPU here; tlsf is what a tuned setup runs.
  const args = ['-f', cfg, '-DD', '-E', '-x', 'tlsf', '-X', 'tlsf', '-m', String(o.shmMb ?? 1024), '-Y', o.workDir, '-P', path.join(o.workDir, 'kamailio.pid')];
  if (o.authUsers) {
    mkdirSync(dbDir, { recursive: true });
    // db_text table: a typed header line, then one colon-separated row per entry.
    const rows = o.authUsers.map((u, i) => `${i + 1}:${u.user}:0:0:${u.password}:0`);
    writeFileSync(path.join(dbDir, 'htable'), ['id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int)', ...rows, ''].join('\n'));
    args.push('-A', 'WITH_AUTH');
  }
  const spawned = spawnBounded(bin, args, { cwd: o.workDir, deadlineMs: LIFETIME_MS });
  await waitForUdp(port, spawned, 'Kamailio', 20_000);
  const pid = spawned.child.pid!;
  return {
    name: o.name ?? 'Kamailio',
    sip: `127.0.0.1:${port}`,
    pid,
    cpuSeconds: () => treeCpuSeconds(pid),
    memory: () => memory(processTree(pid)),
    stop: stopper(spawned),
  };
}
