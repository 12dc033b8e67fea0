/**
 * A lossy, jittery NAT between two network namespaces — the stand-in for
 * `tc netem`, which this kernel lacks (PEERS.md "Network impairment").
 *
 *   ns A: phone A 10.213.1.2 ── veth ── ns W: relay 10.213.1.1 | 10.213.2.1 ── veth ── ns B: phone B 10.213.2.2
 *
 * ip_forward is off in W, so the relay (a node process in W) is the only
 * path. It is a userspace NAT with endpoint-independent mapping and
 * filtering: the first datagram from A-side host H:p (to the relay's STUN
 * port or to any mapping) gives H:p a public port P on 10.213.2.1; whatever
 * B sends to 10.213.2.1:P reaches H:p, from the sender's own mapping on
 * 10.213.1.1. Both sides mirror each other. STUN Binding requests to port
 * 3478 on either relay address are answered with the sender's mapping, which
 * is how a phone learns the address for its Contact and SDP (`--stun`).
 *
 * Forwarded datagrams pass a seeded impairment per direction: loss and a
 * delay of base ± jitter (uniform like netem's default, or normal), with or
 * without reordering. By default only RTP/RTCP is impaired; SIP and STUN
 * pass clean. The relay counts what it forwarded and dropped per direction,
 * so a test can compare a phone's loss report with what really happened.
 */
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { realClock, type Clock, type TimerHandle } from '../../src/util/clock.js';
import { answerBinding, isStun } from '../../src/stun/index.js';
import { Netns, type NetnsSpawnOptions } from './netns.js';
import { mulberry32 } from './prng.js';
import type { Spawned } from './process.js';
import { repoRoot } from './repo.js';

export interface ImpairmentOptions {
  lossPercent?: number;
  /** Delay spread: ± this for 'uniform', the standard deviation for 'normal'. */
  jitterMs?: number;
  /** Base delay; default jitterMs (uniform) or 3 × jitterMs (normal), so no delay is clipped at zero. */
  delayMs?: number;
  distribution?: 'uniform' | 'normal';
  /** Let a packet overtake an earlier one, as netem does when jitter exceeds the packet interval (default true). */
  reorder?: boolean;
  /** 'media' impairs RTP/RTCP only (SIP and STUN pass clean); 'all' impairs every forwarded datagram. */
  impair?: 'media' | 'all';
  /** PRNG seed; A→B uses it as is, B→A a derived one (see directionSeed). Default 1. */
  seed?: number;
}

export type Direction = 'aToB' | 'bToA';

export function directionSeed(seed: number, dir: Direction): number {
  return dir === 'aToB' ? seed >>> 0 : (seed ^ 0x5bd1e995) >>> 0;
}

/**
 * The impairment decisions for one direction. Each packet consumes exactly
 * three draws whatever the outcome, so the n-th impaired packet's fate
 * depends only on the seed and n — a test can replay it.
 */
export class Impairment {
  private readonly rand: () => number;
  private readonly loss: number;
  private readonly jitter: number;
  private readonly base: number;
  private readonly normal: boolean;

  constructor(opts: ImpairmentOptions, seed: number) {
    this.rand = mulberry32(seed);
    this.loss = Math.min(100, Math.max(0, opts.lossPercent ?? 0)) / 100;
    this.jitter = Math.max(0, opts.jitterMs ?? 0);
    this.normal = opts.distribution === 'normal';
    this.base = Math.max(0, opts.delayMs ?? (this.normal ? 3 : 1) * this.jitter);
  }

  /** Delay in ms for the next packet, or -1 to drop it. */
  next(): number {
    const l = this.rand();
    const u1 = this.rand();
    const u2 = this.rand();
    if (l < this.loss) return -1;
    const spread = this.normal
      ? Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2) * this.jitter
      : (2 * u1 - 1) * this.jitter;
    return Math.max(0, this.base + spread);
  }
}

export type DatagramKind = 'media' | 'stun' | 'other';

/** RFC 7983 first-byte ranges: 128..191 RTP/RTCP, 0..3 STUN; SIP text and the rest are 'other'. */
export function datagramKind(b: Buffer): DatagramKind {
  if (b.length >= 8 && (b[0] & 0xc0) === 0x80) return 'media';
  if (isStun(b)) return 'stun';
  return 'other';
}

export interface FlowCounters {
  forwarded: number;
  dropped: number;
}

export interface DirectionCounters {
  media: FlowCounters;
  /** STUN between the endpoints (ICE checks), not the relay's own Binding service. */
  stun: FlowCounters;
  /** SIP and anything else. */
  other: FlowCounters;
  /** Delivered after a datagram that arrived later. */
  reordered: number;
  /** In the delay line right now. */
  queued: number;
}

export interface NatCounters {
  aToB: DirectionCounters;
  bToA: DirectionCounters;
  stunAnswered: number;
  mappings: number;
  /** Datagrams dropped because the mapping table was full. */
  refused: number;
}

type Side = 'A' | 'B';

interface Mapping {
  /** The private host and where it lives. */
  side: Side;
  host: string;
  port: number;
  /** Bound on the other side's relay address: the host's public face there. */
  socket: dgram.Socket;
  ready: Promise<number>;
}

interface Pending {
  due: number;
  seq: number;
  dir: Direction;
  kind: DatagramKind;
  socket: dgram.Socket;
  buf: Buffer;
  port: number;
  host: string;
}

export interface UserspaceNatConfig {
  /** The relay's address facing side A (where B hosts appear to A), e.g. 10.213.1.1. */
  sideA: string;
  sideB: string;
  stunPort?: number;
  impairment?: ImpairmentOptions;
  maxMappings?: number;
  clock?: Clock;
}

const newDirection = (): DirectionCounters => ({
  media: { forwarded: 0, dropped: 0 },
  stun: { forwarded: 0, dropped: 0 },
  other: { forwarded: 0, dropped: 0 },
  reordered: 0,
  queued: 0,
});

/** The relay itself; runs in W (impair-nat-main.ts), or anywhere two local addresses exist. */
export class UserspaceNat {
  private readonly clock: Clock;
  private readonly stunPort: number;
  private readonly maxMappings: number;
  private readonly mappings = new Map<string, Mapping>();
  private readonly stunSockets: dgram.Socket[] = [];
  private readonly counts: NatCounters = { aToB: newDirection(), bToA: newDirection(), stunAnswered: 0, mappings: 0, refused: 0 };
  private impair: Required<Pick<ImpairmentOptions, 'reorder' | 'impair'>> = { reorder: true, impair: 'media' };
  private engines!: Record<Direction, Impairment>;
  private readonly lastDue: Record<Direction, number> = { aToB: 0, bToA: 0 };
  private readonly lastSentSeq: Record<Direction, number> = { aToB: -1, bToA: -1 };
  private readonly heap: Pending[] = [];
  private seq = 0;
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(private readonly cfg: UserspaceNatConfig) {
    this.clock = cfg.clock ?? realClock;
    this.stunPort = cfg.stunPort ?? 3478;
    // dgram would silently wrap 70000 to 4464.
    if (!Number.isInteger(this.stunPort) || this.stunPort < 1 || this.stunPort > 65535) throw new RangeError(`bad STUN port ${this.stunPort}`);
    this.maxMappings = cfg.maxMappings ?? 256;
    this.setImpairment(cfg.impairment ?? {});
  }

  /** Replaces the impairment; the PRNGs restart from the (new) seed. */
  setImpairment(opts: ImpairmentOptions): void {
    const seed = opts.seed ?? 1;
    this.impair = { reorder: opts.reorder ?? true, impair: opts.impair ?? 'media' };
    this.engines = { aToB: new Impairment(opts, directionSeed(seed, 'aToB')), bToA: new Impairment(opts, directionSeed(seed, 'bToA')) };
  }

  async start(): Promise<void> {
    for (const side of ['A', 'B'] as const) {
      const s = dgram.createSocket('udp4');
      s.on('error', () => undefined);
      s.on('message', (msg, rinfo) => {
        this.onStun(side, msg, rinfo.address, rinfo.port).catch(() => undefined);
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(this.stunPort, this.addressOf(side), () => {
          s.off('error', reject);
          resolve();
        });
      });
      this.stunSockets.push(s);
    }
  }

  counters(): NatCounters {
    this.counts.mappings = this.mappings.size;
    return structuredClone(this.counts);
  }

  private addressOf(side: Side): string {
    return side === 'A' ? this.cfg.sideA : this.cfg.sideB;
  }

  private mapping(side: Side, host: string, port: number): Mapping | undefined {
    const key = `${side}|${host}|${port}`;
    let m = this.mappings.get(key);
    if (m || this.closed) return m;
    if (this.mappings.size >= this.maxMappings) return undefined;
    const socket = dgram.createSocket('udp4');
    socket.on('error', () => undefined); // ICMP unreachable from a host that went away
    const ready = new Promise<number>((resolve) => socket.bind(0, this.addressOf(side === 'A' ? 'B' : 'A'), () => resolve(socket.address().port)));
    m = { side, host, port, socket, ready };
    const owner = m;
    socket.on('message', (msg, rinfo) => this.onInbound(owner, msg, rinfo.address, rinfo.port));
    this.mappings.set(key, m);
    return m;
  }

  private async onStun(side: Side, msg: Buffer, host: string, port: number): Promise<void> {
    if (!isStun(msg)) return;
    const m = this.mapping(side, host, port);
    if (!m) {
      this.counts.refused++;
      return;
    }
    const publicPort = await m.ready;
    let res: Buffer | null;
    try {
      res = answerBinding(msg, { address: this.addressOf(side === 'A' ? 'B' : 'A'), port: publicPort }, { software: 'switchboard impair-nat' });
    } catch {
      return;
    }
    if (!res || this.closed) return;
    this.counts.stunAnswered++;
    this.stunSockets[side === 'A' ? 0 : 1].send(res, port, host);
  }

  /** `msg` from host:port (on the side opposite `dest.side`) reached dest's public port. */
  private onInbound(dest: Mapping, msg: Buffer, host: string, port: number): void {
    const fromSide: Side = dest.side === 'A' ? 'B' : 'A';
    const src = this.mapping(fromSide, host, port);
    if (!src) {
      this.counts.refused++;
      return;
    }
    const dir: Direction = fromSide === 'A' ? 'aToB' : 'bToA';
    const kind = datagramKind(msg);
    const c = this.counts[dir];
    const flow = c[kind];
    const now = this.clock.now();
    let due = now;
    if (this.impair.impair === 'all' || kind === 'media') {
      const delay = this.engines[dir].next();
      if (delay < 0) {
        flow.dropped++;
        return;
      }
      due = now + delay;
      if (!this.impair.reorder) due = Math.max(due, this.lastDue[dir]);
      this.lastDue[dir] = due;
    }
    const p: Pending = { due, seq: this.seq++, dir, kind, socket: src.socket, buf: msg, port: dest.port, host: dest.host };
    if (due <= now) {
      this.deliver(p);
      return;
    }
    c.queued++;
    this.push(p);
    this.arm();
  }

  private deliver(p: Pending): void {
    const c = this.counts[p.dir];
    c[p.kind].forwarded++;
    if (p.seq < this.lastSentSeq[p.dir]) c.reordered++;
    else this.lastSentSeq[p.dir] = p.seq;
    if (!this.closed) p.socket.send(p.buf, p.port, p.host);
  }

  private arm(): void {
    const first = this.heap[0];
    if (!first || first.due >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = first.due;
    this.timer = this.clock.setTimer(Math.max(0, first.due - this.clock.now()), () => this.flush());
  }

  private flush(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    // Half a millisecond of slack: timers fire on whole milliseconds.
    const now = this.clock.now() + 0.5;
    for (let i = 0; i < 100_000 && this.heap.length > 0 && this.heap[0].due <= now; i++) {
      const p = this.pop();
      this.counts[p.dir].queued--;
      this.deliver(p);
    }
    this.arm();
  }

  private less(a: Pending, b: Pending): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(p: Pending): void {
    const h = this.heap;
    h.push(p);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): Pending {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    const all = [...this.stunSockets, ...[...this.mappings.values()].map((m) => m.socket)];
    await Promise.all(all.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** What an impair-nat-main probe received (its `report` reply). */
export interface ProbeReport {
  /** Distinct RTP-like datagrams received. */
  received: number;
  /** Sequence numbers in [0, expected) that never arrived. */
  missing: number[];
  duplicates: number;
  /** Arrived after a higher sequence number. */
  reordered: number;
  /** SIP-looking (OPTIONS) datagrams received. */
  sipReceived: number;
  /** One-way transit (receive wall time - send wall time). */
  transitMeanMs: number;
  transitStdMs: number;
  /** Std dev of D(i, i+1) = inter-arrival minus inter-departure for consecutive sequence numbers. */
  interarrivalStdMs: number;
  /** RFC 3550 §6.4.1 running jitter estimate at the end. */
  rfc3550JitterMs: number;
}

// ---- the rig: namespaces, veths and the relay process --------------------------------------

export const RIG = {
  addrA: '10.213.1.2',
  natA: '10.213.1.1',
  natB: '10.213.2.1',
  addrB: '10.213.2.2',
} as const;

/**
 * Command line running a repository module (path from the repo root, no
 * extension, e.g. 'src/cli/main') the way this file itself runs: the .ts
 * under tsx, or the compiled .js next to this compiled file (dist/).
 */
export function nodeEntry(modulePath: string): { cmd: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const base = path.resolve(path.dirname(here), '..', '..');
  if (here.endsWith('.ts')) return { cmd: process.execPath, args: ['--import', 'tsx', path.join(base, `${modulePath}.ts`)] };
  return { cmd: process.execPath, args: [path.join(base, `${modulePath}.js`)] };
}

export interface ImpairedNatOptions extends ImpairmentOptions {
  stunPort?: number;
  /** Hard deadline for the relay and every process started in the rig (default 10 min). */
  deadlineMs?: number;
}

export type RigSide = 'A' | 'B' | 'W';

export interface ImpairedNat {
  readonly nsA: string;
  readonly nsB: string;
  /** The relay's namespace; a server started here is reachable on natA from A and natB from B, unimpaired. */
  readonly nsW: string;
  /** Phone A's address in ns A. */
  readonly addrA: string;
  readonly addrB: string;
  /** The relay as A sees it: B's public (mapped) addresses live here. */
  readonly natA: string;
  readonly natB: string;
  /** host:port of the STUN service for phones in A and in B. */
  readonly stunA: string;
  readonly stunB: string;
  spawnIn(side: RigSide, cmd: string, args: string[], opts?: Partial<NetnsSpawnOptions>): Spawned;
  /** A repository module (path without extension, e.g. 'bin/x' or 'src/cli/main') run with node in the namespace. */
  nodeIn(side: RigSide, modulePath: string, args: string[], opts?: Partial<NetnsSpawnOptions>): Spawned;
  counters(): Promise<NatCounters>;
  setImpairment(opts: ImpairmentOptions): Promise<void>;
  /** The relay's stderr so far, for failure messages. */
  relayLog(): string;
  close(): Promise<void>;
}

/** A JSON-lines conversation with a child: `request` sends {id, ...} and resolves with the reply carrying that id. */
export class LineChannel {
  private buf = '';
  private nextId = 1;
  private readonly waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  private readonly watchers: Array<(msg: Record<string, unknown>) => boolean> = [];
  private proc!: Spawned;

  /** The child to talk to; its stdout must be fed to `push` (done separately so the channel can exist before the spawn). */
  attach(proc: Spawned): this {
    this.proc = proc;
    return this;
  }

  /** Feed stdout chunks here (SpawnOptions.onStdout). */
  push(chunk: string): void {
    this.buf += chunk;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const wait = typeof msg.id === 'number' ? this.waiting.get(msg.id) : undefined;
      if (wait) {
        this.waiting.delete(msg.id as number);
        wait(msg);
      }
      for (let i = this.watchers.length - 1; i >= 0; i--) if (this.watchers[i](msg)) this.watchers.splice(i, 1);
    }
  }

  send(msg: Record<string, unknown>): void {
    this.proc.child.stdin?.write(JSON.stringify(msg) + '\n');
  }

  request(msg: Record<string, unknown>, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return this.race(
      new Promise((resolve) => {
        this.waiting.set(id, resolve);
        this.send({ ...msg, id });
      }),
      timeoutMs,
      `no reply to ${String(msg.cmd)}`,
    );
  }

  /** Resolves with the first message with `event` (already seen ones do not count). */
  event(event: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return this.race(
      new Promise((resolve) => {
        this.watchers.push((m) => {
          if (m.event !== event) return false;
          resolve(m);
          return true;
        });
      }),
      timeoutMs,
      `no "${event}"`,
    );
  }

  private race<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${timeoutMs} ms; stderr: ${this.proc.stderr().slice(-2000)}`)), timeoutMs);
    });
    const exited = this.proc.exited.then((e) => {
      throw new Error(`${what}: process exited (${e.exitCode}); stderr: ${e.stderr.slice(-2000)}`);
    });
    return Promise.race([p, timeout, exited]).finally(() => clearTimeout(timer));
  }
}

/**
 * Builds A —veth— W —veth— B, starts the relay in W and waits until it
 * answers. Anything that fails on the way tears down what was built.
 */
export async function startImpairedNat(opts: ImpairedNatOptions = {}): Promise<ImpairedNat> {
  const net = new Netns();
  const stunPort = opts.stunPort ?? 3478;
  const deadlineMs = opts.deadlineMs ?? 600_000;
  const root = repoRoot();
  try {
    const nsA = await net.create('a');
    const nsW = await net.create('w');
    const nsB = await net.create('b');
    await net.veth({ ns: nsA, ifname: 'sbt-a', cidr: `${RIG.addrA}/24` }, { ns: nsW, ifname: 'sbt-wa', cidr: `${RIG.natA}/24` });
    await net.veth({ ns: nsB, ifname: 'sbt-b', cidr: `${RIG.addrB}/24` }, { ns: nsW, ifname: 'sbt-wb', cidr: `${RIG.natB}/24` });
    // New namespaces start with forwarding off; say so explicitly: the relay must be the only path.
    await net.sysctl(nsW, 'net.ipv4.ip_forward', '0');

    const nsOf = (side: RigSide): string => (side === 'A' ? nsA : side === 'B' ? nsB : nsW);
    const spawnIn = (side: RigSide, cmd: string, args: string[], o: Partial<NetnsSpawnOptions> = {}): Spawned =>
      net.execIn(nsOf(side), cmd, args, { cwd: root, deadlineMs, ...o });
    const nodeIn = (side: RigSide, modulePath: string, args: string[], o: Partial<NetnsSpawnOptions> = {}): Spawned => {
      const e = nodeEntry(modulePath);
      return spawnIn(side, e.cmd, [...e.args, ...args], o);
    };

    const { seed, lossPercent, jitterMs, delayMs, distribution, reorder, impair } = opts;
    const impairment: ImpairmentOptions = { seed, lossPercent, jitterMs, delayMs, distribution, reorder, impair };
    const config: UserspaceNatConfig = { sideA: RIG.natA, sideB: RIG.natB, stunPort, impairment };
    const ch = new LineChannel();
    const relay = nodeIn('W', 'test/helpers/impair-nat-main', ['relay', JSON.stringify(config)], {
      interactive: true,
      onStdout: (c) => ch.push(c),
    });
    await ch.attach(relay).event('ready');

    let closed = false;
    return {
      nsA,
      nsB,
      nsW,
      addrA: RIG.addrA,
      addrB: RIG.addrB,
      natA: RIG.natA,
      natB: RIG.natB,
      stunA: `${RIG.natA}:${stunPort}`,
      stunB: `${RIG.natB}:${stunPort}`,
      spawnIn,
      nodeIn,
      async counters() {
        return (await ch.request({ cmd: 'counters' })).counters as NatCounters;
      },
      async setImpairment(o) {
        await ch.request({ cmd: 'set', impairment: o });
      },
      relayLog: () => relay.stderr(),
      async close() {
        if (closed) return;
        closed = true;
        relay.child.stdin?.end();
        await net.teardown();
      },
    };
  } catch (e) {
    await net.teardown().catch(() => undefined);
    throw e;
  }
}
