/**
 * Who is banned, until when and why: the table every inbound message is
 * checked against before it is parsed. It lives in memory for that check and
 * is written through to the database so bans survive a restart.
 */
import type { BanStore, StoredBan } from '../../store/bans.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';

export type BanReason = 'failed-auth' | 'flood' | 'manual';

export interface Ban extends StoredBan {
  reason: BanReason;
}

export class BanList {
  private readonly bans = new Map<string, Ban>();

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly store?: BanStore,
  ) {
    for (const b of store?.active(clock.wallNow()) ?? []) this.bans.set(b.address, b as Ban);
  }

  /** The per-packet check: one Map lookup, nothing when nobody is banned. */
  isBanned(address: string): boolean {
    if (this.bans.size === 0) return false;
    const ban = this.bans.get(address);
    if (!ban) return false;
    if (ban.until > this.clock.wallNow()) return true;
    // Expired: forget it here; the row goes at the next purge.
    this.bans.delete(address);
    return false;
  }

  get size(): number {
    return this.bans.size;
  }

  add(ban: Ban): void {
    this.bans.set(ban.address, ban);
    this.write(() => this.store?.put(ban), 'saving a ban');
  }

  remove(address: string): Ban | undefined {
    const ban = this.bans.get(address);
    this.bans.delete(address);
    let onDisk = false;
    this.write(() => {
      onDisk = this.store?.remove(address) ?? false;
    }, 'removing a ban');
    if (ban && ban.until > this.clock.wallNow()) return ban;
    // A ban that had already run out counts as lifted only if a row was still on disk.
    return onDisk && ban ? ban : undefined;
  }

  /** Bans in force, oldest first. */
  list(): Ban[] {
    this.purge();
    return [...this.bans.values()].sort((a, b) => a.since - b.since);
  }

  purge(): void {
    const now = this.clock.wallNow();
    for (const [address, ban] of this.bans) if (ban.until <= now) this.bans.delete(address);
    this.write(() => this.store?.purgeExpired(now), 'purging expired bans');
  }

  /** The database may be full or read-only: the ban still holds in memory, and the operator hears of it. */
  private write(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `${what} in the database failed; the ban list in memory is still enforced`);
    }
  }
}
