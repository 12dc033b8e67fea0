/**
 * CPU time and memory of a process tree, read from /proc the same way for a
 * single Node process and for Kamailio's forked workers (summed), so the two
 * are measured by one ruler.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

let clkTck: number | undefined;

/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on Linux x86). */
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process exited between listing and reading
  }
}

/** Fields after the `(comm)` of /proc/PID/stat: [0] state, [1] ppid, [11] utime, [12] stime. */
function statFields(pid: number): string[] | undefined {
  const text = readOr(`/proc/${pid}/stat`);
  if (!text) return undefined;
  // comm may hold spaces and parentheses; the last ')' ends it.
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds a single process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (!f) return 0;
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

/** `root` and every process below it (Kamailio's main process forks its workers). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (!f) continue;
    const ppid = Number(f[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  // A process tree is finite; the cap only guards against a /proc read race making a cycle.
  while (queue.length && out.length < 10_000) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

export interface Memory {
  /** Sum of VmRSS: shared pages (Kamailio's shm) count once per process. */
  rssMb: number;
  /** Sum of VmHWM, the peak RSS of each process. */
  peakMb: number;
  /** Sum of Pss: shared pages split between the processes sharing them. */
  pssMb: number;
}

function kbField(text: string | undefined, name: string): number {
  if (!text) return 0;
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export function memory(pids: number[]): Memory {
  let rss = 0;
  let hwm = 0;
  let pss = 0;
  for (const pid of pids) {
    const status = readOr(`/proc/${pid}/status`);
    rss += kbField(status, 'VmRSS');
    hwm += kbField(status, 'VmHWM');
    pss += kbField(readOr(`/proc/${pid}/smaps_rollup`), 'Pss');
  }
  return { rssMb: rss / 1024, peakMb: hwm / 1024, pssMb: pss / 1024 };
}

/** Total CPU seconds of a process tree. */
export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/**
 * Datagrams the kernel dropped because some socket's receive buffer was full
 * (all sockets of the host: /proc/net/snmp Udp RcvbufErrors). A rising count
 * during a step explains retransmissions and timeouts.
 */
export function udpReceiveBufferErrors(): number {
  const text = readOr('/proc/net/snmp');
  if (!text) return 0;
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return 0;
  const head = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/);
  const i = head.indexOf('RcvbufErrors');
  return i < 0 ? 0 : Number(vals[i]) || 0;
}

/** Inodes of the sockets these processes hold open (from /proc/PID/fd). */
function socketInodes(pids: number[]): Set<string> {
  const out = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed meanwhile
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) out.add(m[1]);
    }
  }
  return out;
}

/**
 * Datagrams each UDP socket of these processes has dropped so far (full
 * receive buffer and the like: the "drops" column of /proc/net/udp and
 * udp6), by socket inode. Two readings subtracted say who lost packets in
 * between, which the host-wide count cannot on a shared machine.
 */
export function udpSocketDrops(pids: number[]): Map<string, number> {
  const mine = socketInodes(pids);
  const out = new Map<string, number>();
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    const lines = readOr(table)?.split('\n').slice(1) ?? [];
    for (const line of lines) {
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      const f = line.trim().split(/\s+/);
      if (f.length < 13 || !mine.has(f[9])) continue;
      out.set(f[9], Number(f[12]) || 0);
    }
  }
  return out;
}

/** Drops between two readings of udpSocketDrops (a socket opened in between counts from zero). */
export function dropsBetween(before: Map<string, number>, after: Map<string, number>): number {
  let n = 0;
  for (const [inode, drops] of after) n += Math.max(0, drops - (before.get(inode) ?? 0));
  return n;
}

/** CPU seconds the whole host has been busy (all cores: /proc/stat minus idle and iowait). */
export function hostBusySeconds(): number {
  const line = readOr('/proc/stat')?.split('\n')[0];
  if (!line?.startsWith('cpu ')) return 0;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (total - idle) / ticksPerSecond();
}

/** Processes whose argv contains every one of `args` (e.g. a SIPp started on a known port). */
export function pidsWithArgs(command: string, args: string[]): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = readOr(`/proc/${name}/cmdline`)?.split('\0');
    if (!argv || !argv[0]?.endsWith(command)) continue;
    if (args.every((a) => argv.includes(a))) out.push(Number(name));
  }
  return out;
}
