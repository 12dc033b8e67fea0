/** `switchboard status`: what the running server is doing, for people or (--json) for scripts. */
import { duration, table } from './text-table.js';
import { adminGet } from '../api/admin.js';
import { adminTarget } from './admin-target.js';
import type { StatusReport } from './server.js';

export async function runStatus(opts: { config?: string; admin?: string; json?: boolean }): Promise<void> {
  const target = adminTarget(opts);
  const s = (await adminGet(target.address, target.port, '/status')) as StatusReport;
  if (opts.json) {
    console.log(JSON.stringify(s, null, 2));
    return;
  }
  console.log(formatStatus(s));
}

export function formatStatus(s: StatusReport): string {
  const lines: string[] = [];
  lines.push(`Switchboard ${s.version}  domain ${s.domain}  up ${duration(s.uptimeSeconds)}`);
  lines.push(`listening: ${s.listen.join(', ')}`);
  lines.push('');
  lines.push(`Registered endpoints (${s.registrations.length}):`);
  if (s.registrations.length === 0) lines.push('  none yet — register a softphone to this server');
  const rows = s.registrations.map((r) => [r.aor, r.contact, r.transport.toUpperCase(), r.source, `${r.expiresIn}s`]);
  lines.push(...table(['AOR', 'CONTACT', 'TRANSPORT', 'FROM', 'EXPIRES IN'], rows));
  lines.push('');
  lines.push(`Active dialogs (${s.dialogs.length}):`);
  lines.push(...table(['CALL-ID', 'FROM', 'TO', 'UP'], s.dialogs.map((d) => [d.callId, d.from, d.to, duration(d.seconds)])));
  lines.push('');
  lines.push(`Transactions: ${s.transactions.server} server, ${s.transactions.client} client`);
  lines.push(`Calls since start: ${s.calls.started} attempted, ${s.calls.answered} answered`);
  lines.push(
    `Messages: ${s.counters.received} received, ${s.counters.sent} sent, ${s.counters.malformed} malformed, ${s.counters.authFailures} failed logins`,
  );
  if (s.pbx) {
    const p = s.pbx;
    const n = (k: number, one: string): string => `${k} ${one}${k === 1 ? '' : 's'}`;
    lines.push(
      `PBX: ${n(p.channels, 'channel')} (${n(p.bridges, 'bridged pair')}), ${n(p.mediaPorts, 'media port')}, ${p.queueCallers} in queues, ` +
        `${p.conferenceParticipants} in conferences, ${p.parked} parked, ${n(p.timers, 'timer')} pending, ${n(p.sipTransactions, 'SIP transaction')}`,
    );
  }
  if (s.webrtc) {
    const w = s.webrtc;
    const failed = Object.entries(w.failures).map(([reason, k]) => `${k} ${reason}`).join(', ');
    lines.push('');
    lines.push(`WebRTC legs (${w.legs.length})${failed ? `; media failures: ${failed}` : ''}:`);
    const legRows = w.legs.map((l) => [l.channel, l.user, l.ice, l.dtls, l.selectedPair ? `${l.selectedPair.local} <-> ${l.selectedPair.remote}` : '-', l.codec ?? '-']);
    lines.push(...table(['CHANNEL', 'USER', 'ICE', 'DTLS', 'SELECTED PAIR', 'CODEC'], legRows));
  }
  return lines.join('\n');
}
