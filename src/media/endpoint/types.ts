/**
 * The public shapes of a media endpoint: how it is opened and configured,
 * and what it reports. Kept apart from the implementation so the layers
 * above can depend on these types alone (the endpoint may later run in a
 * worker or on another machine behind the same interface).
 */
import type { Codec } from '../codecs/types.js';
import type { SrtpSuite } from '../srtp/index.js';
import type { Clock } from '../../util/clock.js';
import type { DtmfDigitEvent } from '../dtmf/index.js';

export interface PortRange {
  min: number;
  max: number;
}

/** Where a datagram came from: what the endpoint reads of dgram's RemoteInfo. */
export interface PacketSource {
  address: string;
  port: number;
}

/**
 * What the endpoint needs of its socket: a node dgram Socket satisfies it
 * as it is (plain RTP pays no wrapper), and a WebRTC leg hands in one backed
 * by ICE + DTLS-SRTP (src/webrtc) so everything above RTP is reused.
 */
export interface PacketSocket {
  send(buf: Uint8Array, offset: number, length: number, port: number, address: string, cb: (err: Error | null) => void): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: PacketSource) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  address(): PacketSource;
  close(cb?: () => void): void;
}

export interface MediaEndpointOpenOptions {
  /**
   * An already-open packet socket to use instead of binding a UDP one
   * (`address` and `port` are then ignored); the endpoint closes it.
   */
  socket?: PacketSocket;
  /** Local address to bind (default 127.0.0.1). */
  address?: string;
  /** A port, 0 for any, or a range to pick a free (even) port from. */
  port?: number | PortRange;
  clock?: Clock;
  /** Mean RTCP report interval; each actual interval is 0.5–1.5× this (RFC 3550 §6.3.1). */
  rtcpIntervalMs?: number;
  /** Source of randomness in [0, 1) for the RTCP interval; injectable so tests are deterministic. */
  random?: () => number;
  /** SDES CNAME; a random one by default. */
  cname?: string;
  /** What the endpoint's one owner hears (a media session, a test). */
  handlers?: MediaEndpointHandlers;
}

export interface MediaEndpointHandlers {
  /**
   * Every ptime, the decoded (or concealed) frame; the array is reused, copy
   * what you keep. Without this handler nothing is decoded or played out.
   */
  frame?(pcm: Int16Array): void;
  /** A key the peer pressed (RFC 4733), once per key. */
  digit?(ev: DtmfDigitEvent): void;
  /** The peer's packets came from elsewhere than signalled, and we now send there (NAT latching). */
  remoteLatched?(remote: RemoteAddress): void;
  /** The peer sent an RTCP BYE for its stream. */
  bye?(reason: string | undefined): void;
}

export interface RemoteAddress {
  address: string;
  port: number;
}

export interface MediaEndpointConfig {
  remote: RemoteAddress;
  codec: Codec;
  payloadType: number;
  /** Negotiated RFC 4733 payload type; without it DTMF is neither sent nor received. */
  telephoneEventPt?: number;
  /**
   * Clock of the negotiated telephone-event, when it differs from the codec's
   * (telephone-event/8000 beside Opus): event durations count in it, while the
   * packets keep the stream's timestamps.
   */
  telephoneEventClockRate?: number;
  ptimeMs?: number;
  /** Our SSRC; random by default. */
  ssrc?: number;
  /** SRTP/SRTCP (RFC 3711) with SDES-negotiated keys (RFC 4568); plain RTP without it. */
  srtp?: MediaEndpointSrtpConfig;
}

/** One side's master key and salt, as carried in an `a=crypto` inline key. */
export interface SrtpKeyMaterial {
  masterKey: Uint8Array;
  masterSalt: Uint8Array;
}

/**
 * With SDES each side encrypts under the key it offered itself, so the
 * endpoint needs both: `local` protects what we send, `remote` (the peer's
 * key) unprotects what we receive.
 */
export interface MediaEndpointSrtpConfig {
  suite: SrtpSuite;
  local: SrtpKeyMaterial;
  remote: SrtpKeyMaterial;
}

/** Why a received datagram was not used. A closed set so metrics can key on it. */
export type DropReason =
  | 'malformed-rtp'
  | 'malformed-rtcp'
  | 'not-configured'
  | 'unexpected-source'
  | 'unexpected-payload-type'
  | 'unexpected-ssrc'
  | 'bad-sequence'
  | 'bad-payload'
  /** SRTP/SRTCP authentication failed: wrong key, corruption or forgery. */
  | 'srtp-auth'
  /** SRTP/SRTCP packet index already seen or older than the replay window. */
  | 'srtp-replay';

export const DROP_REASONS: readonly DropReason[] = [
  'malformed-rtp',
  'malformed-rtcp',
  'not-configured',
  'unexpected-source',
  'unexpected-payload-type',
  'unexpected-ssrc',
  'bad-sequence',
  'bad-payload',
  'srtp-auth',
  'srtp-replay',
];

export interface MediaEndpointStats {
  sent: {
    /** RTP packets (audio and telephone-event). */
    packets: number;
    /** RTP payload octets (headers excluded, as the SR octet count). */
    bytes: number;
    sr: number;
    rr: number;
  };
  received: {
    /** RTP packets accepted from the remote source. */
    packets: number;
    bytes: number;
    /** Every datagram that reached the socket, good or bad. */
    datagrams: number;
    sr: number;
    rr: number;
    bye: number;
  };
  /** Cumulative packets lost from the remote source (RFC 3550 A.3). */
  lost: number;
  lossPercent: number;
  jitterMs: number;
  /** Round-trip time from the last report block about our stream, once one carried an LSR. */
  rttMs: number | undefined;
  /** Loss the peer reported for our stream in its last report block, percent. */
  remoteLossPercent: number | undefined;
  /** Packets that came after their play-out slot. */
  late: number;
  /** Frames filled in by loss concealment. */
  concealed: number;
  dropped: { total: number; reasons: Record<DropReason, number> };
}
