/**
 * What the admin endpoint serves: status and traces for `switchboard status`
 * and `trace`, bans for `switchboard bans`, the PBX console for `switchboard
 * pbx` (pbx-admin.ts), and `/metrics` for Prometheus.
 */
import { isIP } from 'node:net';
import { AdminError, AdminText, type AdminServer } from '../api/admin.js';
import { METRICS_CONTENT_TYPE, type Metrics } from '../api/metrics.js';
import { banSeconds, type Security } from '../proxy/security/index.js';
import type { StoredBan } from '../store/bans.js';
import type { TraceRecorder } from '../sip/trace/recorder.js';
import type { StatusReport } from './server.js';
import { addPbxRoutes, type PbxConsoleSource } from './pbx-admin.js';

/** A ban as `switchboard bans --json` prints it. */
export interface BanView {
  address: string;
  reason: string;
  detail: string;
  /** ISO 8601. */
  since: string;
  until: string;
}

export function banView(b: StoredBan): BanView {
  return { address: b.address, reason: b.reason, detail: b.detail, since: new Date(b.since).toISOString(), until: new Date(b.until).toISOString() };
}

export function addAdminRoutes(
  admin: AdminServer,
  parts: { status: () => StatusReport; traces: TraceRecorder; security: Security; metrics: Metrics; pbx: PbxConsoleSource },
): void {
  const { traces, security, metrics } = parts;
  addPbxRoutes(admin, parts.pbx);
  admin.route('status', async () => parts.status());
  admin.route('traces', async ({ parts: p }) => {
    if (p.length === 0) return traces.calls();
    const entries = traces.get(p[0]);
    if (!entries || entries.length === 0) return undefined;
    return entries.map((e) => ({ ...e, data: e.data.toString('base64') }));
  });
  admin.route('metrics', async () => new AdminText(await metrics.render(), METRICS_CONTENT_TYPE));
  admin.route('bans', async () => security.list().map(banView));
  admin.route(
    'bans',
    async ({ parts: p }) => {
      const address = addressParam(p);
      const lifted = security.lift(address);
      if (!lifted) throw new AdminError(404, `${address} is not banned`);
      return banView(lifted);
    },
    'DELETE',
  );
  admin.route(
    'bans',
    async ({ parts: p, query }) => {
      const address = addressParam(p);
      let seconds: number;
      try {
        seconds = banSeconds(query.get('seconds') ?? '3600');
      } catch (err) {
        throw new AdminError(400, `seconds: ${(err as Error).message}`);
      }
      if (security.isAllowed(address)) throw new AdminError(400, `${address} is in security.allow and is never banned`);
      return banView(security.banByHand(address, seconds, query.get('detail')?.slice(0, 200) || undefined));
    },
    'POST',
  );
}

function addressParam(p: string[]): string {
  const address = p[0] ?? '';
  if (p.length !== 1 || isIP(address.replace(/^\[|\]$/g, '')) === 0) {
    throw new AdminError(400, `address: expected an IP address such as 192.0.2.7 or 2001:db8::7, got "${address.slice(0, 60)}"`);
  }
  return address.replace(/^\[|\]$/g, '');
}
