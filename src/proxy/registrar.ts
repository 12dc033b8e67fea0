/**
 * The registrar of RFC 3261 §10.3 and the location service behind it.
 * Bindings live in memory for lookups on the call path and are written to
 * SQLite in one transaction per event-loop turn before any 200 OK of that
 * turn goes out (group commit: durable and fast).
 */
import { parseNameAddr, type NameAddr } from '../sip/headers.js';
import type { SipMessage } from '../sip/message.js';
import { bareHost, parseUri, type SipUri } from '../sip/uri.js';
import { isIP } from 'node:net';
import { protoOf } from './targets.js';
import type { Peer, LocalEndpoint } from '../sip/transport/types.js';
import type { BindingChange, BindingStore, StoredBinding } from '../store/bindings.js';
import type { Clock } from '../util/clock.js';

export interface Binding extends StoredBinding {
  /** The live connection a stream-registered phone is reachable on (not persisted). */
  connectionId?: number;
  contactUri: SipUri;
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

export class Registrar {
  private readonly table = new Map<string, Binding[]>();
  /** Contact URI → binding, kept in step with `table` by `setList`. */
  private readonly contacts = new Map<string, Binding>();
  private pending: BindingChange[] = [];
  private waiters: (() => void)[] = [];
  private flushScheduled = false;
  registrations = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: RegistrarLimits,
    private readonly store?: BindingStore,
  ) {
    if (store) {
      for (const b of store.loadValid(clock.wallNow())) {
        let uri: SipUri;
        try {
          uri = parseUri(b.contact);
        } catch {
          continue;
        }
        this.setList(b.aor, [...(this.table.get(b.aor) ?? []), { ...b, contactUri: uri }]);
      }
    }
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
    this.store?.purgeExpired(this.clock.wallNow());
    return n;
  }

  /** Forgets a closed connection so the next request to that phone opens a new one. */
  connectionClosed(connectionId: number): void {
    for (const list of this.table.values()) {
      for (const b of list) if (b.connectionId === connectionId) b.connectionId = undefined;
    }
  }

  /**
   * Applies a REGISTER for `aor` (already authenticated as its owner).
   * Resolves once the change is on disk.
   */
  async register(req: SipMessage, aor: string, source: Peer, local: LocalEndpoint): Promise<RegisterOutcome> {
    const outcome = this.apply(req, aor, source, local);
    if (outcome.status === 200 && this.store && this.pending.length) await this.flushSoon();
    return outcome;
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
    const current = this.lookup(aor);

    if (contactValues.length === 0) return this.ok(aor);

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
      this.setList(aor, []);
      this.registrations++;
      return this.ok(aor);
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
    for (const u of updates) {
      const idx = list.findIndex((b) => sameContact(b.contactUri, u.uri));
      const existing = idx >= 0 ? list[idx] : undefined;
      if (existing && existing.callId === callId && cseq <= existing.cseq) return outOfOrder();
      if (u.expires === 0) {
        if (existing) {
          list.splice(idx, 1);
          this.pending.push({ op: 'delete', aor, contact: existing.contact });
        }
        continue;
      }
      const q = u.na.params.get('q');
      const binding: Binding = {
        aor,
        contact: u.na.uri,
        contactUri: u.uri,
        callId,
        cseq,
        expiresAt: now + u.expires * 1000,
        q: q ? clampQ(Number(q)) : undefined,
        ...reachAt(req, u.uri, source),
        local: { address: local.address, port: local.port },
        userAgent: req.get('user-agent')?.slice(0, 200),
        instance: u.na.params.get('+sip.instance') ?? undefined,
        updatedAt: now,
      };
      if (existing) {
        // Keep the stored Contact spelling stable so the row key does not move.
        binding.contact = existing.contact;
        list[idx] = binding;
      } else {
        if (list.length >= this.limits.maxContacts) {
          // Drop the binding refreshed longest ago, as Kamailio's max_contacts mode 2 does.
          let oldest = 0;
          for (let i = 1; i < list.length; i++) if (list[i].updatedAt < list[oldest].updatedAt) oldest = i;
          this.pending.push({ op: 'delete', aor, contact: list[oldest].contact });
          list.splice(oldest, 1);
        }
        list.push(binding);
      }
      this.pending.push({ op: 'put', binding: storable(binding) });
    }
    this.setList(aor, list);
    this.registrations++;
    return this.ok(aor);
  }

  private ok(aor: string): RegisterOutcome {
    const now = this.clock.wallNow();
    const headers: [string, string][] = this.lookup(aor).map((b) => [
      'Contact',
      `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}`,
    ]);
    headers.push(['Date', new Date(now).toUTCString()]);
    return { status: 200, reason: 'OK', headers };
  }

  private flushSoon(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** Writes every pending change in one transaction, then releases the waiting 200 OKs. */
  flush(): void {
    this.flushScheduled = false;
    const changes = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    this.store?.write(changes);
    for (const w of waiters) w();
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
  const via = req.via;
  const defaultPort = source.proto === 'tls' ? 5061 : 5060;
  const natted = bareHost(via.host) !== source.address || (via.port ?? defaultPort) !== source.port;
  const host = bareHost(contact.host);
  if (natted || contact.scheme === 'tel' || !isIP(host)) return fromSource;
  const proto = protoOf(contact);
  const port = contact.port ?? (proto === 'tls' ? 5061 : 5060);
  // A phone on TCP whose Contact names its own connection but no ;transport (sipsak does this) is
  // reachable only on that connection.
  if (host === source.address && port === source.port) return fromSource;
  return { source: { proto, address: host, port }, connectionId: undefined };
}

function storable(b: Binding): StoredBinding {
  const { contactUri: _u, connectionId: _c, ...rest } = b;
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

/** RFC 3261 §19.1.4 comparison, reduced to the parts that identify a phone. */
export function sameContact(a: SipUri, b: SipUri): boolean {
  return (
    a.scheme === b.scheme &&
    a.user === b.user &&
    a.host.toLowerCase() === b.host.toLowerCase() &&
    (a.port ?? 0) === (b.port ?? 0) &&
    (a.params.get('transport') ?? 'udp').toLowerCase() === (b.params.get('transport') ?? 'udp').toLowerCase()
  );
}
