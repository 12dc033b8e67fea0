/**
 * Nonces that verify without server state: issue time + random + HMAC under a
 * secret. Any process holding the secret (a restarted one, another cluster
 * node) recognises its own nonces and rejects forged ones. Replay protection
 * (RFC 7616 §3.3 nonce-count) needs state, kept here in a bounded map.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomPool } from '../../util/random.js';
import type { Clock } from '../../util/clock.js';
import { ownCopy } from '../../util/strings.js';

export type NonceState = 'valid' | 'stale' | 'invalid';

export interface NonceManagerOptions {
  clock: Clock;
  /** Share it between processes that must accept each other's nonces; random when omitted. */
  secret?: Buffer;
  lifetimeMs?: number;
  /** Nonces whose nonce-count is remembered at once; the oldest are forgotten beyond it. */
  maxTracked?: number;
}

const TS_BYTES = 8;
const RANDOM_BYTES = 8;
const MAC_BYTES = 16;
const NONCE_BYTES = TS_BYTES + RANDOM_BYTES + MAC_BYTES;
const NONCE_RE = /^[A-Za-z0-9_-]{43}$/; // 32 bytes in unpadded base64url
/** A nonce stamped slightly ahead of our clock survives a small NTP step backwards. */
const MAX_FUTURE_MS = 5_000;
/** Expired entries dropped per call, so housekeeping never makes one request slow. */
const PRUNE_PER_CALL = 16;

interface Tracked {
  lastNc: number;
  issuedAt: number;
}

export class NonceManager {
  readonly lifetimeMs: number;
  private readonly clock: Clock;
  private readonly secret: Buffer;
  private readonly maxTracked: number;
  /** Insertion order = first use, so the front holds the oldest entries. */
  private readonly tracked = new Map<string, Tracked>();
  /**
   * Issue time of the newest still-live nonce we had to forget. An untracked
   * nonce issued at or before it may have been used already, so it is refused
   * (as stale, prompting a fresh challenge) instead of silently losing replay protection.
   */
  private forgottenUpTo = -Infinity;

  constructor(opts: NonceManagerOptions) {
    this.clock = opts.clock;
    this.secret = opts.secret ?? randomBytes(32);
    this.lifetimeMs = opts.lifetimeMs ?? 300_000;
    this.maxTracked = Math.max(1, opts.maxTracked ?? 10_000);
  }

  issue(): string {
    const buf = Buffer.alloc(NONCE_BYTES);
    // Wall time, not the monotonic clock: the monotonic epoch resets on restart
    // and a restarted process must still judge the age of nonces it issued before.
    buf.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(this.clock.wallNow()))), 0);
    randomPool.take(RANDOM_BYTES).copy(buf, TS_BYTES);
    this.mac(buf.subarray(0, TS_BYTES + RANDOM_BYTES)).copy(buf, TS_BYTES + RANDOM_BYTES);
    return buf.toString('base64url');
  }

  /** 'invalid': not ours (forged or mangled). 'stale': ours but too old. */
  check(nonce: string): NonceState {
    const issuedAt = this.decode(nonce);
    if (issuedAt === undefined) return 'invalid';
    const age = this.clock.wallNow() - issuedAt;
    if (age > this.lifetimeMs || age < -MAX_FUTURE_MS) return 'stale';
    return 'valid';
  }

  /**
   * Records the nonce-count of an accepted request. Returns false when `nc` is
   * not greater than the last one seen for this nonce (a replay), or when this
   * nonce's history was forgotten under load. Call it only once the response
   * digest checked out: otherwise anyone could burn a client's counts.
   */
  useCount(nonce: string, nc: number): boolean {
    const issuedAt = this.decode(nonce);
    if (issuedAt === undefined) return false;
    this.prune();
    const entry = this.tracked.get(nonce);
    if (entry) {
      if (nc <= entry.lastNc) return false;
      entry.lastNc = nc;
      return true;
    }
    if (issuedAt <= this.forgottenUpTo) return false;
    // Bounded: each insertion evicts at most one entry once the map is full.
    if (this.tracked.size >= this.maxTracked) {
      const oldest = this.tracked.entries().next().value;
      if (oldest) {
        this.tracked.delete(oldest[0]);
        if (!this.expired(oldest[1].issuedAt)) this.forgottenUpTo = Math.max(this.forgottenUpTo, oldest[1].issuedAt);
      }
    }
    // Our own copy: the nonce was cut from the request's text, which it would keep alive for the nonce's lifetime.
    this.tracked.set(ownCopy(nonce), { lastNc: nc, issuedAt });
    return true;
  }

  /** Nonces currently tracked; for metrics and tests. */
  get trackedCount(): number {
    return this.tracked.size;
  }

  private expired(issuedAt: number): boolean {
    return this.clock.wallNow() - issuedAt > this.lifetimeMs;
  }

  private prune(): void {
    let n = 0;
    for (const [nonce, entry] of this.tracked) {
      if (n++ >= PRUNE_PER_CALL || !this.expired(entry.issuedAt)) break;
      this.tracked.delete(nonce);
    }
  }

  private mac(data: Buffer): Buffer {
    return createHmac('sha256', this.secret).update('sip-digest-nonce\0').update(data).digest().subarray(0, MAC_BYTES);
  }

  /** Issue time of a genuine nonce, or undefined when it is not one of ours. */
  private decode(nonce: string): number | undefined {
    if (!NONCE_RE.test(nonce)) return undefined;
    const buf = Buffer.from(nonce, 'base64url');
    // Reject non-canonical spellings so one nonce has exactly one string form.
    if (buf.length !== NONCE_BYTES || buf.toString('base64url') !== nonce) return undefined;
    const expected = this.mac(buf.subarray(0, TS_BYTES + RANDOM_BYTES));
    if (!timingSafeEqual(expected, buf.subarray(TS_BYTES + RANDOM_BYTES))) return undefined;
    return Number(buf.readBigUInt64BE(0));
  }
}

