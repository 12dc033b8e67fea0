/**
 * The registrar of RFC 3261 §10.3 and the location service behind it.
 * Bindings live in memory for lookups on the call path and are written to
 * SQLite in one transaction per event-loop turn before any 200 OK of that
 * turn goes out (group commit: durable and fast).
 */
import { parseNameAddr, type NameAddr } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import { defaultPort, protoOf } from '../sip/resolve.js';
import { bareHost, parseUri, type SipUri } from '../sip/uri.js';
import { isIP } from 'node:net';
import { isWebSocket, type Peer, type LocalEndpoint } from '../sip/transport/types.js';
import type { BindingChange, BindingStore, StoredBinding } from '../store/bindings.js';
import type { Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { ownCopy, ownCopyOf } from '../util/strings.js';

export interface Binding extends StoredBinding {
  /** The live connection a stream-registered phone is reachable on (not persisted). */
  connectionId?: number;
  /** What identifies the Contact when a REGISTER updates it (contactIdentity): one string, not a parsed URI with its maps. */
  contactId: string;
}

export interface RegistrarLimits {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxContacts: number;
}

export interface RegisterOutcome {
  status: number;
  reason: string;
  headers: [string, string][];
}

/** How long a phone should wait before retrying a REGISTER we could not save. */
export const STORE_RETRY_AFTER_S = 5;

export class Registrar {
  private readonly table = new Map<string, Binding[]>();
  /** Contact URI → binding, kept in step with `table` by `setList`. */
  private readonly contacts = new Map<string, Binding>();
  /**
   * Binding lists changed by REGISTERs of this event-loop turn and not yet on
   * disk. They become the table only once written, so a failed write leaves
   * every phone with the bindings it had before.
   */
  private staged = new Map<string, Binding[]>();
  private pending: BindingChange[] = [];
  private waiters: ((saved: boolean) => void)[] = [];
  private flushScheduled = false;
  /** True while writes fail; the first failure and the recovery are logged, not every batch. */
  private failing = false;
  private purgeFailing = false;
  private readonly log: Logger;
  /** REGISTERs that changed bindings and were saved. */
  registrations = 0;
  /** REGISTERs answered 500 because the database refused the write (disk full, locked, read-only). */
  writeFailures = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: RegistrarLimits,
    private readonly store?: BindingStore,
    log?: Logger,
  ) {
    this.log = log ?? silentLogger;
    if (store) {
      for (const b of store.loadValid(clock.wallNow())) {
        // A browser was reachable only on its WebSocket, which did not survive the restart.
        if (isWebSocket(b.source.proto as Peer['proto'])) continue;
        let uri: SipUri;
        try {
          uri = parseUri(b.contact);
        } catch {
          continue;
        }
        this.setList(b.aor, [...(this.table.get(b.aor) ?? []), { ...b, contactId: contactIdentity(uri) }]);
      }
    }
  }

  /** Live bindings (contacts) in the table; expired ones linger until the next lookup or purge. */
  get bindingCount(): number {
    return this.contacts.size;
  }

  /** Current (unexpired) bindings of an address-of-record, best q first. */
  lookup(aor: string): Binding[] {
    const list = this.table.get(aor);
    if (!list) return [];
    const now = this.clock.wallNow();
    const live = list.filter((b) => b.expiresAt > now);
    if (live.length !== list.length) {
      this.setList(aor, live);
    }
    return live.sort((a, b) => (b.q ?? 1) - (a.q ?? 1));
  }

  private setList(aor: string, list: Binding[]): void {
    for (const old of this.table.get(aor) ?? []) {
      if (this.contacts.get(old.contact) === old) this.contacts.delete(old.contact);
    }
    for (const b of list) this.contacts.set(b.contact, b);
    if (list.length) this.table.set(aor, list);
    else this.table.delete(aor);
  }

  /** The live binding whose Contact is exactly this URI (for in-dialog requests to a phone behind NAT). */
  byContact(contact: string): Binding | undefined {
    const b = this.contacts.get(contact);
    if (!b) return undefined;
    if (b.expiresAt <= this.clock.wallNow()) return undefined;
    return b;
  }

  all(): Binding[] {
    const out: Binding[] = [];
    for (const aor of [...this.table.keys()]) out.push(...this.lookup(aor));
    return out;
  }

  /** Drops expired bindings from memory and disk; run every few seconds. */
  purge(): number {
    let n = 0;
    for (const aor of [...this.table.keys()]) {
      const before = this.table.get(aor)?.length ?? 0;
      n += before - this.lookup(aor).length;
    }
    try {
      this.store?.purgeExpired(this.clock.wallNow());
      this.purgeFailing = false;
    } catch (err) {
      // Expired rows on disk are harmless (they are skipped at load); retried at the next purge.
      if (!this.purgeFailing) this.log.warn({ err }, 'removing expired registrations from the database failed; will retry');
      this.purgeFailing = true;
    }
    return n;
  }

  /**
   * Forgets a closed connection so the next request to that phone opens a new
   * one. A browser's binding goes with its WebSocket (RFC 5626 §5.3: the flow
   * failed and nothing can reach it otherwise) until it registers again; its
   * database row, useless after a restart anyway, expires as usual.
   */
  connectionClosed(connectionId: number): void {
    const gone = (b: Binding): boolean => b.connectionId === connectionId && isWebSocket(b.source.proto as Peer['proto']);
    for (const [aor, list] of [...this.table]) {
      if (list.some(gone)) this.setList(aor, list.filter((b) => !gone(b)));
      for (const b of list) if (b.connectionId === connectionId) b.connectionId = undefined;
    }
    for (const [aor, list] of this.staged) {
      if (list.some(gone)) this.staged.set(aor, list.filter((b) => !gone(b)));
    }
  }

  /**
   * Applies a REGISTER for `aor` (already authenticated as its owner).
   * Resolves once the change is on disk.
   */
  async register(req: SipMessage, aor: string, source: Peer, local: LocalEndpoint): Promise<RegisterOutcome> {
    const key = ownCopy(aor);
    const before = this.staged.get(key);
    const outcome = this.apply(req, key, source, local);
    // Every change stages a new list: the same one means this REGISTER changed nothing (a query, a 4xx).
    if (this.staged.get(key) === before) return outcome;
    if (!this.store) {
      this.commit(this.staged);
      this.staged = new Map();
      this.registrations++;
      return outcome;
    }
    if (await this.flushSoon()) {
      this.registrations++;
      return outcome;
    }
    this.writeFailures++;
    // RFC 3261 §21.5.1 with §20.33: the phone retries later; nothing it had is lost meanwhile.
    return { status: 500, reason: 'Server Internal Error - registration could not be saved', headers: [['Retry-After', String(STORE_RETRY_AFTER_S)]] };
  }

  /** The list REGISTERs of this turn build on: staged changes first, then the table. */
  private current(aor: string): Binding[] {
    return this.staged.get(aor) ?? this.lookup(aor);
  }

  private apply(req: SipMessage, aor: string, source: Peer, local: LocalEndpoint): RegisterOutcome {
    const contactValues = req.getAll('contact');
    const headerExpires = req.get('expires');
    let defaultExpires = this.limits.defaultExpires;
    if (headerExpires !== undefined) {
      if (!/^\d{1,10}$/.test(headerExpires)) return bad(`Bad Expires "${headerExpires.slice(0, 20)}"`);
      defaultExpires = Number(headerExpires);
    }
    const callId = req.callId;
    const cseq = req.cseq.seq;
    const now = this.clock.wallNow();
    const current = this.current(aor);

    if (contactValues.length === 0) return this.ok(current);

    let contacts: NameAddr[];
    try {
      contacts = contactValues.map(parseNameAddr);
    } catch (err) {
      return bad((err as Error).message);
    }
    if (contacts.some((c) => c.uri === '*')) {
      // RFC 3261 §10.3 step 6: "*" only alone and only with Expires: 0.
      if (contacts.length !== 1 || headerExpires === undefined || Number(headerExpires) !== 0) {
        return bad('Contact "*" must be alone and come with Expires: 0');
      }
      for (const b of current) {
        if (b.callId === callId && cseq <= b.cseq) return outOfOrder();
      }
      for (const b of current) this.pending.push({ op: 'delete', aor, contact: b.contact });
      this.staged.set(aor, []);
      return this.ok([]);
    }

    const updates: { na: NameAddr; uri: SipUri; expires: number }[] = [];
    for (const na of contacts) {
      let uri: SipUri;
      try {
        uri = parseUri(na.uri);
      } catch (err) {
        return bad(`Bad Contact URI: ${(err as Error).message}`);
      }
      const ep = na.params.get('expires');
      let expires = defaultExpires;
      if (ep !== undefined && ep !== null) {
        if (!/^\d{1,10}$/.test(ep)) return bad(`Bad expires parameter "${ep.slice(0, 20)}"`);
        expires = Number(ep);
      }
      if (expires > 0 && expires < this.limits.minExpires) {
        return { status: 423, reason: 'Interval Too Brief', headers: [['Min-Expires', String(this.limits.minExpires)]] };
      }
      updates.push({ na, uri, expires: Math.min(expires, this.limits.maxExpires) });
    }

    const list = [...current];
    // Collected apart so a REGISTER refused halfway (out of order) leaves nothing behind.
    const changes: BindingChange[] = [];
    for (const u of updates) {
      const id = contactIdentity(u.uri);
      const idx = list.findIndex((b) => b.contactId === id);
      const existing = idx >= 0 ? list[idx] : undefined;
      if (existing && existing.callId === callId && cseq <= existing.cseq) return outOfOrder();
      if (u.expires === 0) {
        if (existing) {
          list.splice(idx, 1);
          changes.push({ op: 'delete', aor, contact: existing.contact });
        }
        continue;
      }
      const q = u.na.params.get('q');
      // A binding lives for hours: everything it keeps is copied out of the REGISTER's text (util/strings.ts).
      const binding: Binding = {
        aor,
        // Keep the stored Contact spelling stable so the row key does not move.
        contact: existing ? existing.contact : ownCopy(u.na.uri),
        contactId: existing ? existing.contactId : id,
        callId: existing && existing.callId === callId ? existing.callId : ownCopy(callId),
        cseq,
        expiresAt: now + u.expires * 1000,
        q: q ? clampQ(Number(q)) : undefined,
        ...reachAt(req, u.uri, source),
        local: { address: local.address, port: local.port },
        userAgent: ownCopyOf(req.get('user-agent')?.slice(0, 200)),
        instance: ownCopyOf(u.na.params.get('+sip.instance') ?? undefined),
        updatedAt: now,
      };
      if (existing) {
        list[idx] = binding;
      } else {
        if (list.length >= this.limits.maxContacts) {
          // Drop the binding refreshed longest ago, as Kamailio's max_contacts mode 2 does.
          let oldest = 0;
          for (let i = 1; i < list.length; i++) if (list[i].updatedAt < list[oldest].updatedAt) oldest = i;
          changes.push({ op: 'delete', aor, contact: list[oldest].contact });
          list.splice(oldest, 1);
        }
        list.push(binding);
      }
      changes.push({ op: 'put', binding: storable(binding) });
    }
    this.pending.push(...changes);
    this.staged.set(aor, list);
    return this.ok(list);
  }

  private ok(bindings: Binding[]): RegisterOutcome {
    const now = this.clock.wallNow();
    const headers: [string, string][] = bindings.map((b) => [
      'Contact',
      `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`,
    ]);
    headers.push(['Date', new Date(now).toUTCString()]);
    return { status: 200, reason: 'OK', headers };
  }

  /** Resolves with whether this turn's changes reached the disk. */
  private flushSoon(): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /**
   * Writes every pending change in one transaction; only then do the staged
   * lists become the table and the waiting 200 OKs go out. A failed write
   * (disk full, database locked, read-only file) drops the batch: those
   * REGISTERs get 500 + Retry-After and every earlier binding stays. The
   * next batch simply tries again, so the registrar recovers by itself.
   */
  flush(): void {
    this.flushScheduled = false;
    const changes = this.pending;
    const waiters = this.waiters;
    const staged = this.staged;
    this.pending = [];
    this.waiters = [];
    this.staged = new Map();
    let saved = true;
    try {
      this.store?.write(changes);
    } catch (err) {
      saved = false;
      if (!this.failing) {
        this.log.error(
          { err, code: (err as { code?: string }).code, refused: waiters.length },
          `registrations cannot be saved (${(err as Error).message}); answering 500 with Retry-After ${STORE_RETRY_AFTER_S} until the database is writable again`,
        );
      }
      this.failing = true;
    }
    if (saved) {
      this.commit(staged);
      if (this.failing) this.log.info('registrations are saved again');
      this.failing = false;
    }
    for (const w of waiters) w(saved);
  }

  private commit(staged: Map<string, Binding[]>): void {
    for (const [aor, list] of staged) this.setList(aor, list);
  }
}

/**
 * Where requests for this contact must go. A phone behind NAT (its Via
 * sent-by is not where the packet came from) is reached at the source address
 * and connection of its REGISTER, as Kamailio's fix_nated_register does;
 * otherwise the Contact is taken as written, which also lets one host register
 * another's address (third-party registration).
 */
function reachAt(req: SipMessage, contact: SipUri, source: Peer): Pick<Binding, 'source' | 'connectionId'> {
  const fromSource = { source: { proto: source.proto, address: source.address, port: source.port }, connectionId: source.connectionId };
  // A browser's Contact names a made-up .invalid host (RFC 7118 §5): only its WebSocket reaches it.
  if (isWebSocket(source.proto)) return fromSource;
  const via = req.via;
  const natted = bareHost(via.host) !== source.address || (via.port ?? defaultPort(source.proto)) !== source.port;
  const host = bareHost(contact.host);
  if (natted || contact.scheme === 'tel' || !isIP(host)) return fromSource;
  const proto = protoOf(contact);
  const port = contact.port ?? defaultPort(proto);
  // A phone on TCP whose Contact names its own connection but no ;transport (sipsak does this) is
  // reachable only on that connection.
  if (host === source.address && port === source.port) return fromSource;
  return { source: { proto, address: ownCopy(host), port }, connectionId: undefined };
}

function storable(b: Binding): StoredBinding {
  const { contactId: _u, connectionId: _c, ...rest } = b;
  return rest;
}

function clampQ(q: number): number {
  return Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 1;
}

function bad(reason: string): RegisterOutcome {
  return { status: 400, reason, headers: [] };
}

function outOfOrder(): RegisterOutcome {
  // RFC 3261 §10.3 step 7: a REGISTER older than the binding fails; 500 is what registrars answer.
  return { status: 500, reason: 'Out of order CSeq for this Call-ID', headers: [['Retry-After', '1']] };
}

/**
 * RFC 3261 §19.1.4 comparison, reduced to the parts that identify a phone:
 * two Contacts are the same binding when these strings are equal.
 */
export function contactIdentity(u: SipUri): string {
  const transport = (u.params.get('transport') ?? 'udp').toLowerCase();
  // A copy: the parts are cut from the REGISTER's text, which a binding would keep alive.
  return ownCopy(`${u.scheme}:${u.user ?? ''}@${u.host.toLowerCase()}:${u.port ?? 0};${transport}`);
}

export function sameContact(a: SipUri, b: SipUri): boolean {
  return contactIdentity(a) === contactIdentity(b);
}
