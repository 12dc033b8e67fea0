/** The WebRTC layer's public shapes (see webrtc-plan: the lead wires these from config). */

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface WebRtcConfig {
  /** Host candidate addresses (webrtc.rtp_addresses); never every interface. */
  addresses: string[];
  portRange?: { min: number; max: number };
  /** ICE servers our side uses (normally none; tests only ever loopback). */
  iceServers?: IceServer[];
  /** ICE + DTLS must be up within this (default 15000 ms) or the leg fails. */
  connectTimeoutMs?: number;
  /**
   * Once connected, nothing from the peer (media, consent responses) for this
   * long ends the leg (default 30000 ms, RFC 7675 §5.1).
   */
  consentTimeoutMs?: number;
  /** Where failures are counted by reason (metrics, status). */
  counters?: WebRtcCounters;
}

export interface WebRtcCounters {
  failed(reason: WebRtcFailure): void;
}

/** Why a WebRTC leg ended. A closed set so metrics can key on it. */
export type WebRtcFailure =
  | 'connect-timeout'
  | 'ice-failed'
  | 'dtls-failed'
  | 'fingerprint-mismatch'
  | 'consent-lost'
  | 'peer-closed'
  | 'bad-answer'
  /** The browser's SIP WebSocket closed mid-call: nothing can reach it any more, not even a BYE. */
  | 'flow-closed';

export const WEBRTC_FAILURES: readonly WebRtcFailure[] = [
  'connect-timeout',
  'ice-failed',
  'dtls-failed',
  'fingerprint-mismatch',
  'consent-lost',
  'peer-closed',
  'bad-answer',
  'flow-closed',
];

export interface WebRtcState {
  ice: string;
  dtls: string;
  /** The nominated candidate pair, each side as 'addr:port'. */
  selectedPair?: { local: string; remote: string };
  codec?: string;
}
