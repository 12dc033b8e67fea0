/** `switchboard trace`: recent calls, one call's ladder, and a pcap of it. */
import { writeFileSync } from 'node:fs';
import { adminGet } from '../api/admin.js';
import { renderLadder, shouldColor } from '../sip/trace/ladder.js';
import { toPcap } from '../sip/trace/pcap.js';
import type { TraceCallSummary, TraceEntry } from '../sip/trace/recorder.js';
import { adminTarget } from './admin-target.js';

type WireEntry = Omit<TraceEntry, 'data'> & { data: string };

export async function runTrace(callId: string | undefined, opts: { config?: string; admin?: string; pcap?: string; json?: boolean }): Promise<void> {
  const target = adminTarget(opts);
  const calls = (await adminGet(target.address, target.port, '/traces')) as TraceCallSummary[];
  if (!callId) {
    if (opts.json) return void console.log(JSON.stringify(calls, null, 2));
    if (calls.length === 0) return void console.log('No calls traced yet. Place a call, then run: switchboard trace');
    for (const c of calls) {
      console.log(`${new Date(c.firstMs).toISOString()}  ${String(c.count).padStart(3)} msgs  ${c.callId}  ${c.summary}`);
    }
    console.log('\nShow one with: switchboard trace CALL-ID  (add --pcap call.pcap to save a capture)');
    return;
  }
  const matches = calls.filter((c) => c.callId === callId || c.callId.startsWith(callId));
  const exact = matches.find((c) => c.callId === callId);
  if (!exact && matches.length !== 1) {
    throw new Error(
      matches.length === 0
        ? `no traced call with Call-ID ${callId}; run "switchboard trace" to list the recent ones`
        : `${matches.length} calls start with ${callId}; give more of the Call-ID`,
    );
  }
  const id = (exact ?? matches[0]).callId;
  const wire = (await adminGet(target.address, target.port, `/traces/${encodeURIComponent(id)}`)) as WireEntry[];
  const entries: TraceEntry[] = wire.map((e) => ({ ...e, data: Buffer.from(e.data, 'base64') }));
  if (opts.json) console.log(JSON.stringify(wire, null, 2));
  else console.log(renderLadder(entries, { color: shouldColor(process.stdout), width: process.stdout.columns }));
  if (opts.pcap) {
    writeFileSync(opts.pcap, toPcap(entries));
    console.error(`wrote ${entries.length} messages to ${opts.pcap} (open with: tshark -r ${opts.pcap} -Y sip)`);
  }
}
