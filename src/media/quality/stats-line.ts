/**
 * The one-line call quality summary a phone prints (and tests read back):
 *
 *   [STATS] sent=250 recv=249 loss=0.4% jitter=1.2ms rtt=0.8ms mos=4.39 codec=PCMU
 *
 * Fixed field order and units so a person can scan a column of them and a
 * script can parse them; `rtt=-` until an RTCP report gave a round trip.
 */
import type { MediaEndpointStats } from '../endpoint/types.js';

export interface StatsLine {
  sent: number;
  recv: number;
  lossPercent: number;
  jitterMs: number;
  /** Undefined when the line said `rtt=-`. */
  rttMs: number | undefined;
  mos: number;
  codec: string;
}

export function formatStatsLine(s: MediaEndpointStats, codecName: string, mos: number): string {
  const rtt = s.rttMs === undefined || !Number.isFinite(s.rttMs) ? '-' : `${s.rttMs.toFixed(1)}ms`;
  return (
    `[STATS] sent=${s.sent.packets} recv=${s.received.packets} loss=${s.lossPercent.toFixed(1)}%` +
    ` jitter=${s.jitterMs.toFixed(1)}ms rtt=${rtt} mos=${mos.toFixed(2)} codec=${codecName}`
  );
}

const NUM = '(\\d+(?:\\.\\d+)?)';
/** Anchored on the tag, not the line start: a phone's log may prefix a timestamp. */
const LINE = new RegExp(
  `\\[STATS\\] sent=(\\d+) recv=(\\d+) loss=${NUM}% jitter=${NUM}ms rtt=(?:${NUM}ms|-) mos=${NUM} codec=(\\S+)`,
);

/** The numbers of a `[STATS]` line (anywhere in `line`), or undefined when it holds none. */
export function parseStatsLine(line: string): StatsLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  return {
    sent: Number(m[1]),
    recv: Number(m[2]),
    lossPercent: Number(m[3]),
    jitterMs: Number(m[4]),
    rttMs: m[5] === undefined ? undefined : Number(m[5]),
    mos: Number(m[6]),
    codec: m[7],
  };
}
