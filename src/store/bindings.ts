/**
 * Registrations on disk. The registrar keeps the live table in memory for
 * lookups and writes changes here in batches: one SQLite transaction per
 * event-loop turn, committed before any 200 OK of that batch is sent.
 */
import type { Db } from './db.js';

export interface StoredBinding {
  aor: string;
  contact: string;
  callId: string;
  cseq: number;
  /** Wall-clock ms. */
  expiresAt: number;
  q?: number;
  source: { proto: string; address: string; port: number };
  local?: { address: string; port: number };
  userAgent?: string;
  instance?: string;
  updatedAt: number;
}

interface Row {
  aor: string;
  contact: string;
  call_id: string;
  cseq: number;
  expires_at: number;
  q: number | null;
  source_proto: string;
  source_address: string;
  source_port: number;
  local_address: string | null;
  local_port: number | null;
  user_agent: string | null;
  instance: string | null;
  updated_at: number;
}

export type BindingChange = { op: 'put'; binding: StoredBinding } | { op: 'delete'; aor: string; contact: string };

export class BindingStore {
  private readonly upsert;
  private readonly del;
  private readonly purge;
  private readonly apply;

  constructor(private readonly db: Db) {
    this.upsert = db.prepare(`INSERT INTO bindings
      (aor, contact, call_id, cseq, expires_at, q, source_proto, source_address, source_port, local_address, local_port, user_agent, instance, updated_at)
      VALUES (@aor, @contact, @call_id, @cseq, @expires_at, @q, @source_proto, @source_address, @source_port, @local_address, @local_port, @user_agent, @instance, @updated_at)
      ON CONFLICT (aor, contact) DO UPDATE SET call_id = excluded.call_id, cseq = excluded.cseq, expires_at = excluded.expires_at,
        q = excluded.q, source_proto = excluded.source_proto, source_address = excluded.source_address, source_port = excluded.source_port,
        local_address = excluded.local_address, local_port = excluded.local_port, user_agent = excluded.user_agent,
        instance = excluded.instance, updated_at = excluded.updated_at`);
    this.del = db.prepare('DELETE FROM bindings WHERE aor = ? AND contact = ?');
    this.purge = db.prepare('DELETE FROM bindings WHERE expires_at <= ?');
    this.apply = db.transaction((changes: BindingChange[]) => {
      for (const c of changes) {
        if (c.op === 'put') this.upsert.run(toRow(c.binding));
        else this.del.run(c.aor, c.contact);
      }
    });
  }

  /** Every binding still valid at `nowWall`. */
  loadValid(nowWall: number): StoredBinding[] {
    const rows = this.db.prepare('SELECT * FROM bindings WHERE expires_at > ? ORDER BY aor, updated_at').all(nowWall) as Row[];
    return rows.map(fromRow);
  }

  /** Applies a batch atomically; the caller acknowledges only after this returns. */
  write(changes: BindingChange[]): void {
    if (changes.length) this.apply(changes);
  }

  purgeExpired(nowWall: number): number {
    return this.purge.run(nowWall).changes;
  }
}

function toRow(b: StoredBinding): Row {
  return {
    aor: b.aor,
    contact: b.contact,
    call_id: b.callId,
    cseq: b.cseq,
    expires_at: b.expiresAt,
    q: b.q ?? null,
    source_proto: b.source.proto,
    source_address: b.source.address,
    source_port: b.source.port,
    local_address: b.local?.address ?? null,
    local_port: b.local?.port ?? null,
    user_agent: b.userAgent ?? null,
    instance: b.instance ?? null,
    updated_at: b.updatedAt,
  };
}

function fromRow(r: Row): StoredBinding {
  return {
    aor: r.aor,
    contact: r.contact,
    callId: r.call_id,
    cseq: r.cseq,
    expiresAt: r.expires_at,
    q: r.q ?? undefined,
    source: { proto: r.source_proto, address: r.source_address, port: r.source_port },
    local: r.local_address !== null && r.local_port !== null ? { address: r.local_address, port: r.local_port } : undefined,
    userAgent: r.user_agent ?? undefined,
    instance: r.instance ?? undefined,
    updatedAt: r.updated_at,
  };
}
