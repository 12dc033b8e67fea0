/**
 * A registering SIP trunk: a `ua/` agent of its own, on its own port, whose
 * server is the carrier. It registers with the account the carrier gave us
 * and keeps registered: the agent refreshes a granted registration itself;
 * a failure (a refused or unanswered REGISTER, first or refresh) is retried
 * here with a jittered back-off (5 s doubling to 5 min). Calls the carrier
 * sends to our Contact arrive on this agent; calls we place to the carrier
 * go out through it, answering its digest challenges with the account.
 */
import type { TrunkConfig } from '../../config/pbx-schema.js';
import { parseUri } from '../../sip/uri.js';
import type { MediaFactory } from '../../ua/media-handler.js';
import type { IncomingCall } from '../../ua/incoming.js';
import { UserAgent } from '../../ua/user-agent.js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import { uriHost } from '../../util/listen.js';
import { detach, type Logger } from '../../util/log.js';
import { Backoff, type BackoffOptions } from './backoff.js';

export type RegistrationState =
  | { state: 'stopped' }
  | { state: 'registering'; since: number }
  | { state: 'registered'; since: number; expires: number }
  | { state: 'failed'; since: number; status: number; reason: string; retryAt: number };

export interface SipTrunkOptions {
  trunk: TrunkConfig & { register: NonNullable<TrunkConfig['register']> };
  /** The address the agent binds when trunks.NAME.listen is not given (the SIP listen address). */
  defaultHost: string;
  /** Our public address for Contact and Via (sip.advertise), when the agent binds a wildcard or sits behind NAT. */
  advertise?: string;
  clock: Clock;
  log: Logger;
  userAgent: string;
  /** Media for this trunk's calls (its codecs). */
  media: MediaFactory;
  /** A call from the carrier, with the number it was for (the DID). */
  incoming(call: IncomingCall, did: string): void;
  backoff?: BackoffOptions;
}

export class SipTrunk {
  readonly ua: UserAgent;
  readonly name: string;
  private stateValue: RegistrationState = { state: 'stopped' };
  private readonly backoff: Backoff;
  private retry: TimerHandle | undefined;
  private closed = false;
  private readonly log: Logger;
  private readonly clock: Clock;

  constructor(private readonly opts: SipTrunkOptions) {
    const t = opts.trunk;
    this.name = t.name;
    this.clock = opts.clock;
    this.log = opts.log;
    this.backoff = new Backoff(opts.backoff);
    const listen = t.listen ? `${t.listen.proto}:${uriHost(t.listen.address)}:${t.listen.port}` : `${t.transport}:${uriHost(opts.defaultHost)}:0`;
    this.ua = new UserAgent({
      listen,
      server: { host: t.host, port: t.port },
      user: t.register.user,
      password: t.register.password,
      domain: t.host,
      contactHost: opts.advertise,
      clock: opts.clock,
      userAgent: opts.userAgent,
      log: opts.log.child({ layer: 'trunk-sip' }),
      newMedia: opts.media,
      closeTimeoutMs: 1500,
    });
    this.ua.on('registered', (expires) => this.registered(expires));
    this.ua.on('registrationFailed', (status, reason) => this.failed(status, reason));
    this.ua.on('incoming', (call) => this.incoming(call));
  }

  get state(): RegistrationState {
    return this.stateValue;
  }

  /** Binds the agent's socket and sends the first REGISTER (not waiting for its answer). */
  async start(): Promise<void> {
    await this.ua.start();
    this.stateValue = { state: 'registering', since: this.clock.wallNow() };
    this.attempt();
  }

  /** One line for the console: `registered (expires in 3540 s)`, `failed: 403 Forbidden, retrying in 40 s`. */
  describe(): string {
    const s = this.stateValue;
    switch (s.state) {
      case 'stopped':
        return 'stopped';
      case 'registering':
        return 'registering';
      case 'registered':
        return 'registered';
      case 'failed':
        return `failed: ${s.status} ${s.reason}, retrying in ${Math.max(0, Math.ceil((s.retryAt - this.clock.now()) / 1000))} s`;
    }
  }

  /** Unregisters (briefly waited for) and closes the agent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.retry?.cancel();
    this.retry = undefined;
    this.stateValue = { state: 'stopped' };
    await this.ua.close();
  }

  private attempt(): void {
    if (this.closed) return;
    detach(this.register(), this.log, 'registering a trunk', { trunk: this.name });
  }

  private async register(): Promise<void> {
    try {
      await this.ua.register(this.opts.trunk.register.expires);
    } catch {
      /* the registrationFailed event has the status and schedules the retry */
    }
  }

  private registered(expires: number): void {
    if (this.closed) return;
    const was = this.stateValue;
    this.backoff.reset();
    this.retry?.cancel();
    this.retry = undefined;
    this.stateValue = { state: 'registered', since: was.state === 'registered' ? was.since : this.clock.wallNow(), expires };
    if (was.state !== 'registered') this.log.info({ server: `${this.opts.trunk.host}:${this.opts.trunk.port}`, expires }, `trunk ${this.name} registered`);
  }

  private failed(status: number, reason: string): void {
    if (this.closed) return;
    // A refresh that failed is retried by the agent 30 s later; the first wait here is
    // shorter, and the REGISTER sent then replaces the agent's own retry.
    const wait = this.backoff.next();
    this.retry?.cancel();
    this.retry = this.clock.setTimer(wait, () => {
      this.retry = undefined;
      this.stateValue = { state: 'registering', since: this.clock.wallNow() };
      this.attempt();
    });
    this.stateValue = { state: 'failed', since: this.clock.wallNow(), status, reason, retryAt: this.clock.now() + wait };
    const seconds = Math.round(wait / 1000);
    const fields = { server: `${this.opts.trunk.host}:${this.opts.trunk.port}`, status, reason, retryInSeconds: seconds, failures: this.backoff.count };
    // The first failure in a row is worth a warning; the rest of an outage once in a while.
    if (this.backoff.count === 1 || this.backoff.count % 10 === 0) this.log.warn(fields, `trunk ${this.name} registration failed: ${status} ${reason}; retrying in ${seconds} s`);
    else this.log.debug(fields, `trunk ${this.name} registration failed again`);
  }

  private incoming(call: IncomingCall): void {
    if (this.closed) {
      call.reject(503, 'Service Unavailable');
      return;
    }
    this.opts.incoming(call, didOf(call, this.opts.trunk.register.user));
  }
}

/**
 * The number a carrier's call is for: the Request-URI user, unless that is
 * our registration's Contact user (the carrier sent the call to where we
 * registered), then the To user.
 */
export function didOf(call: Pick<IncomingCall, 'uri' | 'to'>, contactUser: string): string {
  const ruser = userOf(call.uri);
  if (ruser && ruser !== contactUser) return ruser;
  return userOf(call.to) ?? ruser ?? '';
}

function userOf(uri: string): string | undefined {
  try {
    return parseUri(uri).user || undefined;
  } catch {
    return undefined;
  }
}
