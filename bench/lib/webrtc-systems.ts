/**
 * The systems under test of bench:webrtc, behind one interface: each takes a
 * call from a WebRTC peer (werift over SIP-over-WebSocket) to a plain-RTP
 * SIP phone and reports its CPU. The reference is Kamailio (websocket +
 * rtpengine modules) with rtpengine-daemon; Switchboard plugs in at the TODO
 * below once its gateway runs.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { Histogram } from './media-load.js';
import { startRtpengine, type Rtpengine } from './rtpengine.js';
import { SipRtpCallee } from './sip-rtp-callee.js';
import { startKamailio, startSwitchboard, type BenchUser, type Target } from './targets.js';
import { CallPairs, type CallMode } from './webrtc-media.js';
import { WsWebRtcCaller, type CallTimes } from './ws-webrtc-caller.js';

/** Both directions' transit histograms of one run. */
export interface Histograms {
  /** WebRTC peer -> SIP phone. */
  toPhone: Histogram;
  /** SIP phone -> WebRTC peer. */
  toBrowser: Histogram;
}

export function newHistograms(): Histograms {
  return { toPhone: new Histogram(), toBrowser: new Histogram() };
}

export interface PlacedCall {
  times: CallTimes;
  caller: WsWebRtcCaller;
  hangup(): Promise<void>;
}

export interface CpuReading {
  /** Every process of the system. */
  total: number;
  /** The media relay alone (rtpengine), when it is a process of its own. */
  media?: number;
  /** The SIP side alone (Kamailio), when it is a process of its own. */
  signalling?: number;
}

export interface SystemUnderTest {
  name: string;
  start(): Promise<void>;
  /** One call from a new WebRTC peer to the SIP phone; resolves once the peer hears the phone. */
  placeCall(mode: CallMode): Promise<PlacedCall>;
  /** Opens or closes the measuring window of every call's media. */
  measure(on: boolean): void;
  /** Packets sent and received in the window, both directions. */
  packets(): { toPhone: { sent: number; received: number }; toBrowser: { sent: number; received: number } };
  cpuSeconds(): CpuReading;
  /** Switchboard with a profile directory: starts its V8 CPU profiler (written when it stops). */
  startProfile?(): void;
  /** ... and where that profile is once it stopped. */
  readonly profileFile?: string;
  /** Forgets the calls of the last run (their counts and their pairing). */
  resetCounts(): void;
  stop(): Promise<void>;
}

const PHONE = '2000';
/** The callers are 1001, 1002, ... one per call of the run. */
const callerName = (n: number): string => String(1000 + n);
const passwordOf = (user: string): string => `Wr7-bench-${Number(user).toString(36)}-ws-Pass`;

/**
 * The pieces every SIP-over-WebSocket system shares: the phone that
 * registers over UDP and answers, and werift callers that register over
 * WebSocket and call it.
 */
abstract class WsSipSystem implements SystemUnderTest {
  abstract readonly name: string;
  protected callee: SipRtpCallee | undefined;
  private mode: CallMode = 'relay';
  private readonly callers = new Set<WsWebRtcCaller>();
  private n = 0;
  private measuring = false;
  private readonly pairs: CallPairs;
  private server: { ws: string; sip: { address: string; port: number }; domain: string } | undefined;

  constructor(protected readonly hist: Histograms) {
    this.pairs = new CallPairs(hist);
  }

  /** Starts the server; returns where the WebSocket and the UDP SIP listener are. */
  protected abstract startServer(): Promise<{ ws: string; sip: { address: string; port: number }; domain: string }>;
  protected abstract stopServer(): Promise<void>;
  abstract cpuSeconds(): CpuReading;
  /** Headers that ask the system to transcode this call (Opus <-> PCMU). */
  protected abstract transcodeHeaders(): string[];
  /** Whether the callers and the phone answer digest challenges (with passwordOf(user)). */
  protected abstract readonly authenticates: boolean;

  async start(): Promise<void> {
    this.server = await this.startServer();
    this.callee = new SipRtpCallee(PHONE, this.server.sip, this.pairs, () => this.mode, this.authenticates ? passwordOf(PHONE) : undefined);
    await this.callee.start();
  }

  async placeCall(mode: CallMode): Promise<PlacedCall> {
    const s = this.server!;
    this.mode = mode;
    const user = callerName(++this.n);
    const caller = new WsWebRtcCaller(user, s.ws, s.domain, mode, this.pairs, this.authenticates ? passwordOf(user) : undefined);
    caller.measuring = this.measuring;
    this.callers.add(caller);
    try {
      await caller.connect();
      await caller.register();
      const times = await caller.call(`sip:${PHONE}@${s.sip.address}:${s.sip.port}`, mode === 'transcode' ? this.transcodeHeaders() : []);
      return {
        times,
        caller,
        hangup: async () => {
          await caller.hangup();
          caller.close();
          this.callers.delete(caller);
        },
      };
    } catch (err) {
      await caller.hangup().catch(() => undefined);
      caller.close();
      this.callers.delete(caller);
      throw err;
    }
  }

  measure(on: boolean): void {
    this.measuring = on;
    for (const c of this.callers) c.measuring = on;
    if (this.callee) this.callee.measuring = on;
  }

  packets(): { toPhone: { sent: number; received: number }; toBrowser: { sent: number; received: number } } {
    return this.pairs.totals();
  }

  resetCounts(): void {
    this.pairs.reset();
  }

  async stop(): Promise<void> {
    for (const c of this.callers) {
      await c.hangup().catch(() => undefined);
      c.close();
    }
    this.callers.clear();
    await this.callee?.stop();
    await this.stopServer();
  }
}

/** Where Debian's websocket module is (kamailio-websocket-modules). */
export function kamailioHasWebsocket(): boolean {
  return ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules', '/usr/lib/kamailio/modules'].some((d) => existsSync(path.join(d, 'websocket.so')));
}

/** Kamailio (websocket, rtpengine modules) + rtpengine-daemon in userspace with one forwarding thread. */
export class KamailioRtpengine extends WsSipSystem {
  readonly name = 'Kamailio+rtpengine';
  protected readonly authenticates = false;
  private rtpengine: Rtpengine | undefined;
  private kam: Target | undefined;

  constructor(
    hist: Histograms,
    private readonly workDir: string,
  ) {
    super(hist);
  }

  protected async startServer(): Promise<{ ws: string; sip: { address: string; port: number }; domain: string }> {
    // One forwarding thread: the "on one core".
    this.rtpengine = await startRtpengine({ workDir: path.join(this.workDir, 'rtpengine'), threads: 1, portMin: 40000, portMax: 44999 });
    const wsPort = await freePort('tcp');
    try {
      this.kam = await startKamailio({
        workDir: path.join(this.workDir, 'kamailio'),
        children: 2,
        template: 'kamailio-webrtc.cfg',
        vars: { NGPORT: this.rtpengine.ng.split(':')[1], WSPORT: String(wsPort) },
        name: this.name,
        shmMb: 256,
      });
    } catch (err) {
      await this.rtpengine.stop();
      throw err;
    }
    const [address, port] = this.kam.sip.split(':');
    return { ws: `ws://127.0.0.1:${wsPort}`, sip: { address, port: Number(port) }, domain: '127.0.0.1' };
  }

  protected transcodeHeaders(): string[] {
    return ['X-Bench-Transcode: 1'];
  }

  cpuSeconds(): CpuReading {
    const media = this.rtpengine?.cpuSeconds() ?? 0;
    const signalling = this.kam?.cpuSeconds() ?? 0;
    return { total: media + signalling, media, signalling };
  }

  protected async stopServer(): Promise<void> {
    await this.kam?.stop();
    await this.rtpengine?.stop();
  }
}

/**
 * Switchboard doing the same job, in a child process (`startServer` of the
 * CLI with the YAML a user would write) so its CPU is read from /proc like
 * rtpengine's: `ws:` and `udp:` in sip.listen, the callers and the phone as
 * users, the fraud caps off (one phone takes every call). The proxy hands
 * each browser's call to the PBX's B2BUA (the webrtc-gateway context):
 * Opus relayed when the phone answers Opus, Opus <-> PCMU transcoded when
 * the phone takes PCMU only (the phone's choice, per mode: see
 * sip-rtp-callee.ts), so no header is needed.
 */
export class SwitchboardGateway extends WsSipSystem {
  readonly name = 'Switchboard';
  protected readonly authenticates = true;
  private target: Target | undefined;

  constructor(
    hist: Histograms,
    private readonly workDir: string,
    /** How many calls the run places at most (one caller user each). */
    private readonly maxCallers: number,
    private readonly opts: { profileDir?: string; nodeArgs?: string[] } = {},
  ) {
    super(hist);
  }

  protected async startServer(): Promise<{ ws: string; sip: { address: string; port: number }; domain: string }> {
    const wsPort = await freePort('tcp');
    const users: BenchUser[] = [PHONE, ...Array.from({ length: this.maxCallers }, (_, i) => callerName(i + 1))].map((user) => ({ user, password: passwordOf(user) }));
    this.target = await startSwitchboard({
      workDir: this.workDir,
      users,
      listen: [`ws:127.0.0.1:${wsPort}`],
      profileDir: this.opts.profileDir,
      nodeArgs: this.opts.nodeArgs,
      extraYaml: ['webrtc:', '  rtp_addresses: [127.0.0.1]', 'fraud: { max_calls: 0, user_max_calls: 0, user_calls_per_minute: 0 }'].join('\n'),
    });
    const [address, port] = this.target.sip.split(':');
    return { ws: `ws://127.0.0.1:${wsPort}`, sip: { address, port: Number(port) }, domain: '127.0.0.1' };
  }

  protected transcodeHeaders(): string[] {
    return [];
  }

  cpuSeconds(): CpuReading {
    const total = this.target?.cpuSeconds() ?? 0;
    // One process does both jobs: all of it is counted as the media side, as rtpengine alone is for the reference.
    return { total, media: total };
  }

  startProfile(): void {
    this.target?.startProfile?.();
  }

  get profileFile(): string | undefined {
    return this.opts.profileDir && path.join(this.opts.profileDir, 'switchboard.cpuprofile');
  }

  protected async stopServer(): Promise<void> {
    await this.target?.stop();
  }
}
