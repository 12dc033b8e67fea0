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
import { startKamailio, type Target } from './targets.js';
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
  /** Forgets the calls of the last run (their counts and their pairing). */
  resetCounts(): void;
  stop(): Promise<void>;
}

const PHONE = '2000';

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

  async start(): Promise<void> {
    this.server = await this.startServer();
    this.callee = new SipRtpCallee(PHONE, this.server.sip, this.pairs, () => this.mode);
    await this.callee.start();
  }

  async placeCall(mode: CallMode): Promise<PlacedCall> {
    const s = this.server!;
    this.mode = mode;
    const caller = new WsWebRtcCaller(`1${String(++this.n).padStart(3, '0')}`, s.ws, s.domain, mode, this.pairs);
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
 * Switchboard doing the same job: `ws:` and `udp:` in sip.listen, users for
 * the callers and the phone, the PBX bridging WebRTC and RTP legs.
 */
export class SwitchboardGateway extends WsSipSystem {
  readonly name = 'Switchboard';
  private target: Target | undefined;

  constructor(
    hist: Histograms,
    private readonly workDir: string,
  ) {
    super(hist);
  }

  protected startServer(): Promise<{ ws: string; sip: { address: string; port: number }; domain: string }> {
    // TODO(issue 9, lead): start Switchboard with `ws:` + `udp:` listeners (startSwitchboard in
    // ./targets.ts, extraYaml for webrtc:), open registration or users 1001.. and 2000, and a way
    // to force Opus <-> PCMU (the phone offering PCMU only, or a header/dialplan rule) for
    // transcodeHeaders(); then drop this throw and list it in bench/webrtc.ts's systems.
    return Promise.reject(new Error(`the Switchboard WebRTC gateway is not wired into bench:webrtc yet (would run in ${this.workDir})`));
  }

  protected transcodeHeaders(): string[] {
    return [];
  }

  cpuSeconds(): CpuReading {
    return { total: this.target?.cpuSeconds() ?? 0 };
  }

  protected async stopServer(): Promise<void> {
    await this.target?.stop();
  }
}
