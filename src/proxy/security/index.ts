/**
 * Bans and flood control, built in (fail2ban and Kamailio's pike in one):
 * sources that fail digest logins too often, or flood the port, are banned
 * for a while; a banned source's packets are dropped before they are parsed
 * and get no answer at all. Addresses in `security.allow` are never banned.
 */
import type { SecurityConfig } from '../../config/schema.js';
import type { Peer } from '../../sip/transport/types.js';
import type { BanStore } from '../../store/bans.js';
import { canonicalAddress } from '../../util/listen.js';
import type { Clock } from '../../util/clock.js';
import { silentLogger, type Logger } from '../../util/log.js';
import { AllowList } from './allow-list.js';
import { BanList, type Ban, type BanReason } from './ban-list.js';
import { FailedLogins } from './failed-logins.js';
import { Pike } from './pike.js';

export type { Ban, BanReason } from './ban-list.js';
export { AllowList } from './allow-list.js';

/** The longest ban by hand: ten years. */
export const MAX_BAN_SECONDS = 10 * 365 * 86_400;

/** How long a ban by hand lasts, from its text; a RangeError names what is wrong. */
export function banSeconds(text: string): number {
  const n = Number(text);
  if (!/^\d{1,10}$/.test(text) || n < 1 || n > MAX_BAN_SECONDS) {
    throw new RangeError(`expected a whole number of seconds from 1 to ${MAX_BAN_SECONDS}, got "${text.slice(0, 20)}"`);
  }
  return n;
}

export interface SecurityOptions {
  clock: Clock;
  policy: SecurityConfig;
  store?: BanStore;
  log?: Logger;
}

export interface SecurityCounters {
  /** Messages and connections dropped because their source is banned. */
  dropped: number;
  /** Bans imposed since start, by reason. */
  bans: Record<BanReason, number>;
  /** Failed logins seen (also from allowed addresses). */
  failedLogins: number;
}

export class Security {
  readonly counters: SecurityCounters = { dropped: 0, bans: { 'failed-auth': 0, flood: 0, manual: 0 }, failedLogins: 0 };
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly bans: BanList;
  private readonly allow: AllowList;
  private readonly logins: FailedLogins | undefined;
  private readonly pike: Pike | undefined;

  constructor(private readonly opts: SecurityOptions) {
    this.clock = opts.clock;
    this.log = opts.log ?? silentLogger;
    this.bans = new BanList(opts.clock, this.log, opts.store);
    this.allow = new AllowList(opts.policy.allow);
    // A ban stored before its address was added to security.allow (or made offline) must not hold.
    for (const b of this.bans.list()) if (this.allow.has(b.address)) this.lift(b.address);
    this.logins = opts.policy.ban ? new FailedLogins(opts.policy.ban) : undefined;
    this.pike = opts.policy.pike ? new Pike(opts.policy.pike) : undefined;
  }

  /**
   * Asked for every datagram, stream message and new connection before it is
   * parsed: false drops it. The common case (nobody banned, pike off) costs
   * two comparisons.
   */
  admit(source: Peer): boolean {
    const address = source.address;
    if (this.bans.isBanned(address)) {
      this.counters.dropped++;
      return false;
    }
    if (this.pike && !this.pike.take(address, this.clock.now()) && !this.allow.has(address)) {
      const p = this.opts.policy.pike!;
      this.pike.forget(address);
      this.impose(address, 'flood', `more than ${p.burst} messages at over ${p.requestsPerSecond}/s`, p.banTime);
      this.counters.dropped++;
      return false;
    }
    return true;
  }

  /** A source failed digest authentication (wrong password or unknown user). */
  failedLogin(source: Peer, user: string, method: string): void {
    this.counters.failedLogins++;
    const policy = this.opts.policy.ban;
    if (!this.logins || !policy) return;
    const address = source.address;
    if (!this.logins.fail(address, this.clock.now()) || this.allow.has(address)) return;
    this.impose(
      address,
      'failed-auth',
      `${policy.maxFailures} failed logins within ${policy.findTime} s (last: ${method} as "${user}")`,
      policy.banTime,
    );
  }

  isAllowed(address: string): boolean {
    return this.allow.has(canonicalAddress(address));
  }

  /** `switchboard bans add`: bans an address by hand. */
  banByHand(address: string, seconds: number, detail = 'banned by hand'): Ban {
    return this.impose(canonicalAddress(address), 'manual', detail, seconds);
  }

  /** `switchboard bans remove`: the lifted ban, or undefined when the address was not banned. */
  lift(address: string): Ban | undefined {
    const ban = this.bans.remove(canonicalAddress(address));
    if (ban) this.log.info({ address: ban.address, reason: ban.reason }, `ban on ${ban.address} lifted`);
    return ban;
  }

  list(): Ban[] {
    return this.bans.list();
  }

  get activeBans(): number {
    return this.bans.size;
  }

  /** Drops expired bans from memory and disk; run every few seconds. */
  purge(): void {
    this.bans.purge();
  }

  private impose(address: string, reason: BanReason, detail: string, seconds: number): Ban {
    const since = this.clock.wallNow();
    // The detail carries a user name the attacker chose: no control characters reach a terminal.
    // eslint-disable-next-line no-control-regex
    const ban: Ban = { address, reason, detail: detail.replace(/[\x00-\x1f\x7f]/g, '?'), since, until: since + seconds * 1000 };
    this.bans.add(ban);
    this.counters.bans[reason]++;
    this.log.warn({ address, reason, until: new Date(ban.until).toISOString() }, `banned ${address} for ${seconds} s: ${detail}`);
    return ban;
  }
}
