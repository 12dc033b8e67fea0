/** Every fuzz target, in a fixed order: a case's target depends on this list, so add new ones at the end. */
import { rtcpTarget } from './rtcp.js';
import { rtpTarget } from './rtp.js';
import { sdpTarget } from './sdp.js';
import { serverTcpTarget, serverUdpTarget } from './server.js';
import { sipFieldsTarget } from './sip-fields.js';
import { sipMessageTarget } from './sip-message.js';
import { sipStreamTarget } from './sip-stream.js';
import { srtpTarget } from './srtp.js';
import { stunTarget } from './stun.js';
import type { Target } from './target.js';

export const TARGETS: readonly Target[] = [
  sipMessageTarget, sipStreamTarget, sipFieldsTarget, sdpTarget, stunTarget, rtpTarget, rtcpTarget, srtpTarget, serverUdpTarget, serverTcpTarget,
];

const TOTAL = TARGETS.reduce((s, t) => s + t.weight, 0);
const CUMULATIVE = TARGETS.map((_, i) => TARGETS.slice(0, i + 1).reduce((s, t) => s + t.weight, 0) / TOTAL);

export function targetByName(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name);
}

/** The target of case `index` under `seed`: a function of both only, so a case replays alone. */
export function targetIndexOf(caseSeedValue: number): number {
  const r = caseSeedValue / 0x100000000;
  for (let i = 0; i < CUMULATIVE.length; i++) if (r < CUMULATIVE[i]) return i;
  return TARGETS.length - 1;
}
