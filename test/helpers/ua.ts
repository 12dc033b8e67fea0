/**
 * Shared pieces of the ua-* tests: a MediaHandler that writes real SDP with
 * src/sdp (so 488 and hold travel through real offer/answer) but opens no
 * socket, and user agents on loopback driven by a VirtualClock.
 */
import {
  createAnswer, createOffer, effectiveDirection, formatSdp, negotiated, parseSdp, receives, type Direction, type SessionDescription,
} from '../../src/sdp/index.js';
import type { MediaHandler } from '../../src/ua/media-handler.js';
import { UserAgent, type UserAgentOptions } from '../../src/ua/index.js';
import type { Clock } from '../../src/util/clock.js';
import type { Emitter } from '../../src/util/emitter.js';

export class FakeMedia implements MediaHandler {
  remoteHold = false;
  closed = false;
  /** Every description we wrote and every one we were given, in order. */
  readonly sent: string[] = [];
  readonly received: string[] = [];
  private local: SessionDescription | undefined;
  private version = 1;

  constructor(
    private readonly port: number,
    private readonly opts: { codec?: 'PCMU' | 'PCMA'; garbageOffer?: boolean } = {},
  ) {}

  private codecs() {
    return [this.opts.codec === 'PCMA' ? { name: 'PCMA', clockRate: 8000 } : { name: 'PCMU', clockRate: 8000 }];
  }

  private base(direction: Direction) {
    return { address: '127.0.0.1', port: this.port, codecs: this.codecs(), direction, sessionId: '42', sessionVersion: String(this.version++) };
  }

  createOffer(o: { hold: boolean }): string {
    if (this.opts.garbageOffer) return 'this is not SDP\r\n';
    const dir: Direction = o.hold ? (this.remoteHold ? 'inactive' : 'sendonly') : 'sendrecv';
    this.local = createOffer(this.base(dir));
    const text = formatSdp(this.local);
    this.sent.push(text);
    return text;
  }

  setAnswer(sdp: string): void {
    if (!this.local) throw new Error('no offer');
    const remote = parseSdp(sdp);
    const n = negotiated(this.local, remote);
    this.remoteHold = !receives(effectiveDirection(remote, remote.media[n.mediaIndex]));
    this.received.push(sdp);
  }

  createAnswer(offer: string, o: { hold: boolean }): string {
    const remote = parseSdp(offer);
    const answer = createAnswer(remote, this.base(o.hold ? 'sendonly' : 'sendrecv'));
    const n = negotiated(answer, remote);
    this.remoteHold = !receives(effectiveDirection(remote, remote.media[n.mediaIndex]));
    this.local = answer;
    this.received.push(offer);
    const text = formatSdp(answer);
    this.sent.push(text);
    return text;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** The direction attribute of the audio line of an SDP text. */
export function directionOf(sdp: string): string | undefined {
  return /a=(sendrecv|sendonly|recvonly|inactive)/.exec(sdp)?.[1];
}

export interface TestUa {
  ua: UserAgent;
  medias: FakeMedia[];
  trace: string[];
  uri: string;
}

let nextRtpPort = 30000;

export async function startUa(clock: Clock, name: string, extra: Partial<UserAgentOptions> & { media?: ConstructorParameters<typeof FakeMedia>[1] } = {}): Promise<TestUa> {
  const medias: FakeMedia[] = [];
  const trace: string[] = [];
  const { media, ...rest } = extra;
  const ua = new UserAgent({
    listen: '127.0.0.1:0',
    user: name,
    domain: '127.0.0.1',
    clock,
    newMedia: async () => {
      const m = new FakeMedia((nextRtpPort += 2), media);
      medias.push(m);
      return m;
    },
    traceSip: (dir, text) => trace.push(`${dir} ${text}`),
    closeTimeoutMs: 300,
    ...rest,
  });
  await ua.start();
  return { ua, medias, trace, uri: `sip:${name}@127.0.0.1:${ua.local.port}` };
}

/** A promise with a real-time deadline, so a broken exchange fails the test instead of hanging it. */
export function within<T>(p: Promise<T>, ms = 3000, what = 'event'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** The next `event` of an emitter, with a deadline. */
export function next<E extends { [K in keyof E]: unknown[] }, K extends keyof E>(em: Emitter<E>, event: K, ms = 3000): Promise<E[K]> {
  return within(em.next(event), ms, `"${String(event)}"`);
}

/** Waits (bounded) until `pred` holds: for effects of datagrams in flight on loopback. */
export async function until(pred: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setImmediate(r));
  }
}

/** How many traced messages start with this line prefix (e.g. 'out INVITE', 'in SIP/2.0 491'). */
export function count(trace: string[], prefix: string): number {
  return trace.filter((t) => t.startsWith(prefix)).length;
}
