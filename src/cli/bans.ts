/**
 * `switchboard bans`: who is banned, and lifting or adding a ban. It talks to
 * the running server's admin endpoint; when no server runs, it reads and
 * changes the bans in the database, where the server finds them at its next
 * start.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { AdminError, adminRequest, AdminUnreachableError } from '../api/admin.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { AllowList, banSeconds } from '../proxy/security/index.js';
import { BanStore, type StoredBan } from '../store/bans.js';
import { openDatabase } from '../store/db.js';
import { canonicalAddress } from '../util/listen.js';
import { banView, type BanView } from './admin-routes.js';
import { adminTarget } from './admin-target.js';
import { duration, table } from './text-table.js';

export interface BansOptions {
  config?: string;
  admin?: string;
  json?: boolean;
}

/** A failure the user can act on; the message says what to do. Exit code 1. */
export class BansError extends Error {}

export async function listBans(opts: BansOptions): Promise<void> {
  const bans = await viaServerOrDatabase(
    opts,
    async (t) => (await adminRequest(t.address, t.port, '/bans')) as BanView[],
    (store) => store.active(Date.now()).map(banView),
  );
  if (opts.json) {
    console.log(JSON.stringify(bans, null, 2));
    return;
  }
  console.log(formatBans(bans, Date.now()));
}

export async function removeBan(address: string, opts: BansOptions): Promise<void> {
  const addr = checkAddress(address);
  const lifted = await viaServerOrDatabase(
    opts,
    async (t) => (await adminRequest(t.address, t.port, `/bans/${encodeURIComponent(addr)}`, 'DELETE')) as BanView,
    (store) => (store.remove(addr) ? ({ address: addr } as BanView) : undefined),
  ).catch((err: unknown) => {
    if (err instanceof AdminError && err.status === 404) return undefined;
    throw err;
  });
  if (!lifted) throw new BansError(`${addr} is not banned (see: switchboard bans)`);
  if (opts.json) console.log(JSON.stringify(lifted, null, 2));
  else console.log(`lifted the ban on ${addr}${lifted.reason ? ` (${lifted.reason}: ${lifted.detail})` : ''}`);
}

export async function addBan(address: string, opts: BansOptions & { seconds: string; detail?: string }): Promise<void> {
  const addr = checkAddress(address);
  let seconds: number;
  try {
    seconds = banSeconds(opts.seconds);
  } catch (err) {
    throw new BansError(`--for: ${(err as Error).message}, e.g. --for 3600`);
  }
  const query = new URLSearchParams({ seconds: opts.seconds });
  if (opts.detail) query.set('detail', opts.detail);
  const ban = await viaServerOrDatabase(
    opts,
    async (t) => (await adminRequest(t.address, t.port, `/bans/${encodeURIComponent(addr)}?${query}`, 'POST')) as BanView,
    (store, config) => {
      if (config && new AllowList(config.security.allow).has(addr)) throw new BansError(`${addr} is in security.allow and is never banned`);
      const now = Date.now();
      const b: StoredBan = { address: addr, reason: 'manual', detail: opts.detail ?? 'banned by hand', since: now, until: now + seconds * 1000 };
      store.put(b);
      return banView(b);
    },
  );
  if (opts.json) console.log(JSON.stringify(ban, null, 2));
  else console.log(`banned ${ban.address} until ${ban.until}`);
}

export function formatBans(bans: BanView[], now: number): string {
  if (bans.length === 0) return 'No source is banned.';
  const rows = bans.map((b) => [b.address, b.reason, shortTime(b.since), shortTime(b.until), duration((Date.parse(b.until) - now) / 1000), b.detail]);
  return [`${bans.length} banned:`, ...table(['ADDRESS', 'REASON', 'SINCE', 'UNTIL', 'LEFT', 'WHY'], rows), '', 'Lift one with: switchboard bans remove ADDRESS'].join('\n');
}

function checkAddress(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '');
  if (isIP(bare) === 0) throw new BansError(`"${address}" is not an IP address; e.g. switchboard bans remove 192.0.2.7`);
  return canonicalAddress(bare);
}

/** Asks the running server; with none running, works on the database of the config (or ./data). */
async function viaServerOrDatabase<T>(
  opts: BansOptions,
  server: (target: { address: string; port: number }) => Promise<T>,
  offline: (store: BanStore, config: Config | undefined) => T,
): Promise<T> {
  const target = adminTarget(opts);
  try {
    return await server(target);
  } catch (err) {
    if (!(err instanceof AdminUnreachableError) || opts.admin) throw err;
    const config = opts.config ? loadConfigFile(opts.config) : undefined;
    const dataDir = config?.data ?? path.resolve('./data');
    if (!existsSync(path.join(dataDir, 'switchboard.db'))) {
      throw new BansError(`${err.message} (and there is no database in ${dataDir} to read bans from)`);
    }
    const db = openDatabase(dataDir);
    try {
      return offline(new BanStore(db), config);
    } finally {
      db.close();
    }
  }
}

function shortTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
