/**
 * Call quality from RTCPeerConnection.getStats(), once a second: what we
 * receive (packets lost, RFC 3550 jitter), the round trip (RTCP, or the ICE
 * pair's STUN round trip when the far end sends no RTCP), and a MOS estimate.
 *
 * The MOS is the ITU-T G.107 E-model, simplified for VoIP monitoring:
 *   R = 93.2 − Id(Ta) − Ie,eff(Ppl),   MOS = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)
 * with the one-way delay Ta = RTT/2 + jitter buffer (2 × jitter, at least 20 ms)
 * + codec delay, and the loss impairment of G.107 §7.5. The formula lives once
 * in the project, in src/media/quality/emodel.ts (the CLI phone's call view
 * uses the same), and is bundled into the page from there.
 */
import { estimateMos, type EModelCodec } from '../../media/quality/emodel.js';

export interface Quality {
  packetsReceived: number;
  packetsLost: number;
  lossPercent: number;
  jitterMs?: number;
  rttMs?: number;
  codec?: string;
  mos?: number;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function emodelCodec(mime: string | undefined): EModelCodec {
  switch (mime?.toLowerCase()) {
    case 'audio/opus':
      return 'opus';
    case 'audio/pcma':
      return 'pcma';
    case 'audio/g722':
      return 'g722';
    default:
      return 'pcmu';
  }
}

export async function readQuality(pc: RTCPeerConnection): Promise<Quality | undefined> {
  const report = await pc.getStats();
  let inbound: Record<string, unknown> | undefined;
  let remoteRtt: number | undefined;
  let pairRtt: number | undefined;
  let selectedPair: string | undefined;
  const pairs = new Map<string, Record<string, unknown>>();
  report.forEach((s: Record<string, unknown>) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s;
    else if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') remoteRtt = num(s.roundTripTime) ?? remoteRtt;
    else if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') selectedPair = s.selectedCandidatePairId;
    else if (s.type === 'candidate-pair') pairs.set(String(s.id), s);
  });
  // Firefox marks the pair instead of naming it on the transport.
  const pair = selectedPair ? pairs.get(selectedPair) : [...pairs.values()].find((p) => p.selected === true || (p.nominated === true && p.state === 'succeeded'));
  if (pair) pairRtt = num(pair.currentRoundTripTime);
  if (!inbound) return undefined;

  const received = num(inbound.packetsReceived) ?? 0;
  const lost = Math.max(0, num(inbound.packetsLost) ?? 0);
  const lossPercent = received + lost > 0 ? (100 * lost) / (received + lost) : 0;
  const jitterS = num(inbound.jitter);
  const rttS = remoteRtt ?? pairRtt;
  const codecStats = typeof inbound.codecId === 'string' ? (report.get(inbound.codecId) as Record<string, unknown> | undefined) : undefined;
  const mime = typeof codecStats?.mimeType === 'string' ? codecStats.mimeType : undefined;

  const q: Quality = { packetsReceived: received, packetsLost: lost, lossPercent };
  if (jitterS !== undefined) q.jitterMs = jitterS * 1000;
  if (rttS !== undefined) q.rttMs = rttS * 1000;
  if (mime) q.codec = mime.replace(/^audio\//i, '');
  if (received > 0) {
    q.mos = estimateMos({ codec: emodelCodec(mime), lossPercent: Math.min(100, lossPercent), jitterMs: q.jitterMs ?? 0, rttMs: q.rttMs }).mos;
  }
  return q;
}
