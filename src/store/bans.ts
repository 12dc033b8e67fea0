/**
 * Bans on disk, so an attacker banned an hour ago is still banned after a
 * restart. Writes are rare (a ban, a lift), so each is its own statement.
 */
import type { Db } from './db.js';

export interface StoredBan {
  address: string;
  /** Why: `failed-auth`, `flood` or `manual`. */
  reason: string;
  /** Words for people: what the source did. */
  detail: string;
  /** Wall-clock ms. */
  since: number;
  until: number;
}

interface Row {
  address: string;
  reason: string;
  detail: string;
  since: number;
  until: number;
}

export class BanStore {
  private readonly upsert;
  private readonly del;
  private readonly purge;
  private readonly select;

  constructor(db: Db) {
    this.upsert = db.prepare(`INSERT INTO bans (address, reason, detail, since, until) VALUES (@address, @reason, @detail, @since, @until)
      ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, detail = excluded.detail, since = excluded.since, until = excluded.until`);
    this.del = db.prepare('DELETE FROM bans WHERE address = ?');
    this.purge = db.prepare('DELETE FROM bans WHERE until <= ?');
    this.select = db.prepare('SELECT address, reason, detail, since, until FROM bans WHERE until > ? ORDER BY since');
  }

  /** Every ban still in force at `nowWall`. */
  active(nowWall: number): StoredBan[] {
    return (this.select.all(nowWall) as Row[]).map((r) => ({ ...r }));
  }

  put(ban: StoredBan): void {
    this.upsert.run(ban);
  }

  remove(address: string): boolean {
    return this.del.run(address).changes > 0;
  }

  purgeExpired(nowWall: number): number {
    return this.purge.run(nowWall).changes;
  }
}
