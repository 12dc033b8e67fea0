/**
 * A media endpoint: "RTP in, RTP out, a codec, a clock". One packet socket
 * (a UDP socket, or a WebRTC leg's ICE + DTLS-SRTP behind the same few
 * methods) carries RTP and RTCP (rtcp-mux, RFC 5761); it knows nothing about SIP or
 * SDP — whoever negotiated the session calls `configure` with the result.
 *
 * Send side: `sendFrame` encodes one frame into a preallocated packet, or
 * `start(source)` pulls a frame from `source` every ptime on the injected
 * clock. Keys queued with `sendDigits` replace audio frames with RFC 4733
 * events while they last.
 *
 * Receive side: packets are checked (well-formed, from the remote we talk to,
 * the negotiated payload types, one SSRC) and go to the receive statistics
 * and the jitter buffer, or to the DTMF receiver. The same ptime timer plays
 * one frame out to its `frame` handler. Anything unusable is dropped and counted by
 * reason: a port scanner or a stale stream never stops the call.
 *
 * Symmetric RTP (RFC 4961) / NAT latching: the first good RTP packet after
 * `configure` fixes where we send, even if it came from another address than
 * the one signalled — behind a NAT the signalled one is often unreachable.
 * After that only that address is listened to.
 *
 * SRTP (RFC 3711), when configured: every RTP packet is protected in its
 * send buffer, every RTCP compound as SRTCP, and everything received is
 * authenticated and decrypted before it is parsed — so a packet that fails
 * (wrong key, forgery, replay) never latches, never counts and never plays.
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Codec } from '../codecs/types.js';
import { DtmfReceiver, DtmfSender, decodeEvent, type TelephoneEvent } from '../dtmf/index.js';
import { wallMsToNtpMiddle32 } from '../rtp/ntp.js';
import { isRtcp, readRtp, RTP_HEADER_LENGTH, RtpView, writeRtp, type RtpHeaderFields } from '../rtp/packet.js';
import { ReceiveStats, roundTripMs } from '../rtp/receive-stats.js';
import { rtcpLength, SDES_CNAME, sdesCname, tryParseRtcp, writeRtcp, type ReportBlock, type RtcpPacket } from '../rtp/rtcp.js';
import { SendStats } from '../rtp/send-stats.js';
import { realClock, type Clock, type TimerHandle } from '../../util/clock.js';
import { bindUdp } from './bind.js';
import { Playout } from './playout.js';
import { rtcpDelayMs } from './rtcp-interval.js';
import { EndpointSrtp, MAX_SRTP_RTP_OVERHEAD } from './srtp.js';
import { DropCounter } from '../drops.js';
import {
  DROP_REASONS,
  type DropReason,
  type MediaEndpointConfig,
  type MediaEndpointHandlers,
  type MediaEndpointOpenOptions,
  type MediaEndpointStats,
  type PacketSocket,
  type PacketSource,
  type RemoteAddress,
} from './types.js';

/** Send buffers in rotation: the kernel may still hold one while the next packet is built. */
const SEND_RING = 16;
const MAX_PACKET = 1500;
/** A new SSRC is accepted once the old one has been silent this long (the peer restarted its stream). */
const SSRC_SWITCH_MS = 1000;
const EMPTY = new Uint8Array(0);

/** Everything that depends on one `configure` call. */
interface Session {
  codec: Codec;
  payloadType: number;
  telephoneEventPt: number | undefined;
  ptimeMs: number;
  /** RTP timestamp units per frame. */
  frameUnits: number;
  ssrc: number;
  remote: RemoteAddress;
  latched: boolean;
  seq: number;
  timestamp: number;
  /** Next audio packet starts a talk spurt (first packet, after silence or DTMF). */
  needMarker: boolean;
  sendStats: SendStats;
  dtmfSender: DtmfSender | undefined;
  dtmfActive: boolean;
  dtmfReceiver: DtmfReceiver | undefined;
  playout: Playout;
  rx: ReceiveStats | undefined;
  lastRxMs: number;
  srtp: EndpointSrtp | undefined;
}

export class MediaEndpoint {
  /** Where we now send because the peer's packets came from there (after NAT latching); undefined if never moved. */
  remoteLatched: RemoteAddress | undefined;

  private session: Session | undefined;
  private source: (() => Int16Array | undefined) | undefined;
  private manualThisSlot = false;
  private tickTimer: TimerHandle | undefined;
  private nextTickAt = 0;
  private rtcpTimer: TimerHandle | undefined;
  private closed = false;
  /** Where accepted RTP goes undecoded while two endpoints of one codec are bridged (see relayTo). */
  private relayTarget: MediaEndpoint | undefined;
  /** The stream being relayed into this endpoint: its SSRC, last sequence, and the timestamp offset onto ours. */
  private relayIn: { ssrc: number; lastSeq: number; tsOffset: number } | undefined;

  private readonly view = new RtpView();
  private readonly event: TelephoneEvent = { event: 0, end: false, volume: 0, duration: 0 };
  private readonly header: RtpHeaderFields = { payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0, marker: false };
  private readonly ring: Buffer[] = [];
  /** Each ring buffer past its fixed header, where the codec encodes in place. */
  private readonly ringPayload: Buffer[] = [];
  private ringIndex = 0;

  private readonly drops = new DropCounter(DROP_REASONS);
  private datagrams = 0;
  private rxPackets = 0;
  private rxBytes = 0;
  private srSent = 0;
  private rrSent = 0;
  private srReceived = 0;
  private rrReceived = 0;
  private byeReceived = 0;
  private rttMs: number | undefined;
  private remoteLossPercent: number | undefined;
  /** The peer's SDES CNAME, once it sent one. */
  remoteCname: string | undefined;
  /** Socket errors (send failures, ICMP reports) seen and ignored. */
  socketErrors = 0;
  /** Times the audio source threw; the frame went out as silence. */
  sourceErrors = 0;

  private constructor(
    private readonly socket: PacketSocket,
    private readonly clock: Clock,
    private readonly rtcpIntervalMs: number,
    private readonly random: () => number,
    readonly cname: string,
    private readonly handlers: MediaEndpointHandlers,
  ) {
    for (let i = 0; i < SEND_RING; i++) {
      const b = Buffer.alloc(MAX_PACKET);
      this.ring.push(b);
      // The codec may not write into the last octets: the SRTP tag goes there.
      this.ringPayload.push(b.subarray(RTP_HEADER_LENGTH, MAX_PACKET - MAX_SRTP_RTP_OVERHEAD));
    }
    socket.on('message', this.onMessage);
    socket.on('error', this.onSocketError);
  }

  static async open(opts: MediaEndpointOpenOptions = {}): Promise<MediaEndpoint> {
    const random = opts.random ?? Math.random;
    const interval = opts.rtcpIntervalMs ?? 5000;
    if (!(interval > 0)) throw new RangeError(`rtcpIntervalMs must be positive, got ${interval}`);
    const socket = opts.socket ?? (await bindUdp(opts.address ?? '127.0.0.1', opts.port ?? 0, random));
    return new MediaEndpoint(socket, opts.clock ?? realClock, interval, random, opts.cname ?? randomUUID(), opts.handlers ?? {});
  }

  get localAddress(): string {
    return this.socket.address().address;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /** Where packets go now: the configured remote, or the latched one. */
  get remote(): RemoteAddress | undefined {
    return this.session?.remote;
  }

  get ssrc(): number | undefined {
    return this.session?.ssrc;
  }

  /**
   * Sets (or changes, e.g. after a re-INVITE) what the endpoint sends and
   * expects. Our SSRC, sequence and timestamp carry over unless `ssrc` is
   * given; latching starts over because the remote may have moved. SRTP
   * state carries over while the suite and keys stay the same. Throws
   * RangeError for SRTP keys of the wrong length.
   */
  configure(cfg: MediaEndpointConfig): void {
    if (this.closed) throw new Error('MediaEndpoint is closed');
    const ptimeMs = cfg.ptimeMs ?? 20;
    const codec = cfg.codec;
    const frameUnits = Math.round((codec.clockRate * ptimeMs) / 1000);
    if (!(frameUnits > 0)) throw new RangeError(`ptime ${ptimeMs} ms gives no samples`);
    const prev = this.session;
    const te = cfg.telephoneEventPt;
    const dtmfOpts = { clockRate: cfg.telephoneEventClockRate ?? codec.clockRate, frameMs: ptimeMs };
    const srtp = cfg.srtp && (prev?.srtp?.matches(cfg.srtp) ? prev.srtp : new EndpointSrtp(cfg.srtp));
    this.session = {
      codec,
      payloadType: cfg.payloadType,
      telephoneEventPt: te,
      ptimeMs,
      frameUnits,
      ssrc: (cfg.ssrc ?? prev?.ssrc ?? randomInt(0, 0x1_0000_0000)) >>> 0,
      remote: { address: cfg.remote.address, port: cfg.remote.port },
      latched: false,
      seq: prev?.seq ?? randomInt(0, 0x10000),
      timestamp: prev?.timestamp ?? randomInt(0, 0x1_0000_0000),
      needMarker: true,
      sendStats: prev?.sendStats ?? new SendStats(codec.clockRate),
      dtmfSender: te === undefined ? undefined : new DtmfSender(dtmfOpts),
      dtmfActive: false,
      dtmfReceiver: te === undefined ? undefined : new DtmfReceiver({ ...dtmfOpts, onDigit: (ev) => this.handlers.digit?.(ev) }),
      playout: new Playout(codec, ptimeMs),
      rx: undefined,
      lastRxMs: 0,
      srtp,
    };
    this.remoteLatched = undefined;
    if (!this.tickTimer) {
      this.nextTickAt = this.clock.now();
      this.scheduleTick();
    }
    if (!this.rtcpTimer) this.scheduleRtcp(true);
  }

  /** Sends one frame now (or a DTMF event in its place while keys are being sent). */
  sendFrame(pcm: Int16Array): void {
    if (!this.session) throw new Error('MediaEndpoint.sendFrame before configure');
    this.manualThisSlot = true;
    this.sendSlot(this.session, pcm);
  }

  /** Pulls a frame from `source` every ptime; `undefined` from it means silence (no packet). */
  start(source: () => Int16Array | undefined): void {
    this.source = source;
  }

  /** Stops pulling audio; receiving and DTMF go on. */
  stop(): void {
    this.source = undefined;
  }

  /**
   * Bridges without decoding: every RTP packet accepted here (audio and
   * telephone events) is sent on by `to` as part of its own stream — its
   * SSRC, sequence numbers and timestamps, its payload types — so latency
   * is one socket hop. Both endpoints must carry the same codec; keys still
   * reach this endpoint's `digit` handler (feature codes). `undefined` stops
   * relaying: received audio is played out again.
   */
  relayTo(to: MediaEndpoint | undefined): void {
    if (to === this) throw new RangeError('an endpoint cannot relay to itself');
    this.relayTarget = to;
  }

  /** A packet relayed into this endpoint from a bridged one. */
  private relayed(v: RtpView, isAudio: boolean): void {
    const s = this.session;
    if (!s || this.closed) return;
    const pt = isAudio ? s.payloadType : s.telephoneEventPt;
    if (pt === undefined) return;
    let r = this.relayIn;
    let marker = v.marker;
    if (!r || r.ssrc !== v.ssrc) {
      // A new stream (or a new talker after a transfer) continues ours: timestamps carry on from where we are.
      r = this.relayIn = { ssrc: v.ssrc, lastSeq: (v.sequence - 1) & 0xffff, tsOffset: (s.timestamp - v.timestamp) | 0 };
      marker = true;
    }
    const gap = (v.sequence - r.lastSeq) & 0xffff;
    // Reordered or duplicated packets go out as they came; a loss before us stays a gap after us.
    if (gap === 0 || gap > 0x8000) return;
    if (gap > 1 && gap < 100) s.seq = (s.seq + gap - 1) & 0xffff;
    r.lastSeq = v.sequence;
    const ts = (v.timestamp + r.tsOffset) >>> 0;
    if (isAudio) s.timestamp = (ts + s.frameUnits) >>> 0;
    this.sendRtp(s, pt, marker, ts, v.payload, undefined);
    s.needMarker = false;
  }

  /** Queues RFC 4733 keys (0-9 * # A-D); throws if telephone-event was not configured or a key is invalid. */
  sendDigits(digits: string): void {
    const s = this.session;
    if (!s?.dtmfSender) throw new Error('MediaEndpoint.sendDigits: no telephone-event payload type configured');
    s.dtmfSender.sendDigits(digits);
    s.dtmfActive = true;
  }

  /**
   * The frame to play at `nowMs`: decoded, or concealed when a packet is
   * missing; undefined when nothing is playing. The array is reused.
   */
  readFrame(nowMs: number = this.clock.now()): Int16Array | undefined {
    return this.session?.playout.read(nowMs);
  }

  stats(): MediaEndpointStats {
    const s = this.session;
    const rx = s?.rx;
    const expected = rx ? rx.expected : 0;
    const lost = rx ? rx.cumulativeLost : 0;
    const jb = s?.playout.stats();
    return {
      sent: { packets: s?.sendStats.packetCount ?? 0, bytes: s?.sendStats.octetCount ?? 0, sr: this.srSent, rr: this.rrSent },
      received: {
        packets: this.rxPackets,
        bytes: this.rxBytes,
        datagrams: this.datagrams,
        sr: this.srReceived,
        rr: this.rrReceived,
        bye: this.byeReceived,
      },
      lost,
      lossPercent: expected > 0 ? (Math.max(0, lost) * 100) / expected : 0,
      jitterMs: rx ? rx.jitterMs : 0,
      rttMs: this.rttMs,
      remoteLossPercent: this.remoteLossPercent,
      late: jb?.late ?? 0,
      concealed: jb?.concealed ?? 0,
      dropped: this.drops.snapshot(),
    };
  }

  /** Sends a final report with BYE (when configured), stops all timers and closes the socket. */
  async close(reason?: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tickTimer?.cancel();
    this.rtcpTimer?.cancel();
    this.tickTimer = undefined;
    this.rtcpTimer = undefined;
    this.source = undefined;
    this.relayTarget = undefined;
    if (this.session) {
      await new Promise<void>((resolve) => this.sendReport(this.session as Session, { reason }, resolve));
    }
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  // ---- timers ----

  /** Ticks are scheduled against absolute times so a late timer does not make the stream drift. */
  private scheduleTick(): void {
    const s = this.session;
    if (!s || this.closed) return;
    this.nextTickAt += s.ptimeMs;
    this.tickTimer = this.clock.setTimer(Math.max(0, this.nextTickAt - this.clock.now()), this.tick);
  }

  private readonly tick = (): void => {
    const s = this.session;
    if (!s || this.closed) return;
    const now = this.clock.now();
    if (this.source) {
      let frame: Int16Array | undefined;
      try {
        frame = this.source();
      } catch {
        // A failing player (a broken file, say) costs this frame, not the call.
        this.sourceErrors++;
      }
      this.sendSlot(s, frame);
    } else if (!this.manualThisSlot && s.dtmfActive) {
      // Keys without an audio source: the timer provides the frame slots.
      this.sendSlot(s, undefined);
    }
    this.manualThisSlot = false;
    s.dtmfReceiver?.tick(now);
    if (this.handlers.frame) {
      const frame = s.playout.read(now);
      if (frame) this.handlers.frame(frame);
    }
    this.scheduleTick();
  };

  private scheduleRtcp(first: boolean): void {
    if (this.closed) return;
    this.rtcpTimer = this.clock.setTimer(rtcpDelayMs(this.rtcpIntervalMs, this.random, first), () => {
      if (this.session) this.sendReport(this.session);
      this.scheduleRtcp(false);
    });
  }

  // ---- send path ----

  /** One frame slot: a DTMF packet if a key is in progress, else the audio frame (if any). */
  private sendSlot(s: Session, pcm: Int16Array | undefined): void {
    const ts = s.timestamp;
    s.timestamp = (s.timestamp + s.frameUnits) >>> 0;
    if (s.dtmfActive && s.dtmfSender) {
      const p = s.dtmfSender.next(ts);
      if (p) {
        this.sendRtp(s, s.telephoneEventPt as number, p.marker, p.timestamp, p.payload, undefined);
        s.needMarker = true;
        return;
      }
      if (!s.dtmfSender.busy) s.dtmfActive = false;
    }
    if (!pcm) {
      s.needMarker = true;
      return;
    }
    this.sendRtp(s, s.payloadType, s.needMarker, ts, undefined, pcm);
    s.needMarker = false;
  }

  /** Builds one packet in the next ring buffer: `payload` copied, or `pcm` encoded in place. */
  private sendRtp(s: Session, pt: number, marker: boolean, ts: number, payload: Uint8Array | undefined, pcm: Int16Array | undefined): void {
    const i = this.ringIndex;
    this.ringIndex = (i + 1) % SEND_RING;
    const buf = this.ring[i];
    const h = this.header;
    h.payloadType = pt;
    h.marker = marker;
    h.sequence = s.seq;
    h.timestamp = ts;
    h.ssrc = s.ssrc;
    s.seq = (s.seq + 1) & 0xffff;
    // Header only (empty payload): the payload is written right after it, with no copy for audio.
    writeRtp(buf, h, EMPTY);
    let len: number;
    if (pcm) {
      len = s.codec.encode(pcm, this.ringPayload[i]);
    } else {
      const p = payload ?? EMPTY;
      buf.set(p, RTP_HEADER_LENGTH);
      len = p.length;
    }
    s.sendStats.onSent(len, ts, this.clock.now());
    let wire = RTP_HEADER_LENGTH + len;
    if (s.srtp) wire = s.srtp.send.protectRtpInPlace(buf, wire);
    this.socket.send(buf, 0, wire, s.remote.port, s.remote.address, this.onSent);
  }

  private readonly onSent = (err: Error | null): void => {
    if (err) this.socketErrors++;
  };

  private readonly onSocketError = (): void => {
    this.socketErrors++;
  };

  /** SR if we sent since the last report, else RR; our view of the peer's stream; CNAME; BYE when leaving. */
  private sendReport(s: Session, bye?: { reason?: string }, done?: () => void): void {
    const now = this.clock.now();
    const reports: ReportBlock[] = s.rx && s.rx.received > 0 ? [s.rx.reportBlock(now)] : [];
    const packets: RtcpPacket[] = [];
    if (s.sendStats.sentSinceLastReport) {
      packets.push({ type: 'sr', ssrc: s.ssrc, ...s.sendStats.senderInfo(this.clock.wallNow(), now), reports });
      this.srSent++;
    } else {
      packets.push({ type: 'rr', ssrc: s.ssrc, reports });
      this.rrSent++;
    }
    packets.push({ type: 'sdes', chunks: [{ ssrc: s.ssrc, items: [{ type: SDES_CNAME, value: this.cname }] }] });
    if (bye) packets.push(bye.reason === undefined ? { type: 'bye', ssrcs: [s.ssrc] } : { type: 'bye', ssrcs: [s.ssrc], reason: bye.reason });
    // A few reports per second at most: a fresh buffer is simpler than a ring here.
    const plain = rtcpLength(packets);
    const buf = Buffer.alloc(s.srtp ? plain + s.srtp.send.rtcpOverhead : plain);
    writeRtcp(buf, packets);
    s.srtp?.send.protectRtcpInPlace(buf, plain);
    this.socket.send(buf, 0, buf.length, s.remote.port, s.remote.address, (err) => {
      if (err) this.socketErrors++;
      done?.();
    });
  }

  // ---- receive path ----

  private drop(reason: DropReason): void {
    this.drops.add(reason);
  }

  private fromRemote(s: Session, rinfo: PacketSource): boolean {
    return rinfo.port === s.remote.port && rinfo.address === s.remote.address;
  }

  private readonly onMessage = (datagram: Buffer, rinfo: PacketSource): void => {
    this.datagrams++;
    if (this.closed) return;
    if (isRtcp(datagram)) {
      this.onRtcp(datagram, rinfo);
      return;
    }
    const s = this.session;
    let buf = datagram;
    if (s?.srtp) {
      // Each datagram arrives in its own buffer, so decrypting in place is safe (the jitter buffer keeps the payload).
      const r = s.srtp.unprotectRtp(datagram);
      if (typeof r !== 'number') return this.drop(r);
      buf = datagram.subarray(0, r);
    }
    const v = this.view;
    if (readRtp(buf, v) !== undefined) return this.drop('malformed-rtp');
    if (!s) return this.drop('not-configured');
    const isAudio = v.payloadType === s.payloadType;
    if (!isAudio && v.payloadType !== s.telephoneEventPt) return this.drop('unexpected-payload-type');
    if (s.latched) {
      if (!this.fromRemote(s, rinfo)) return this.drop('unexpected-source');
    } else {
      this.latch(s, rinfo);
    }
    const now = this.clock.now();
    if (!s.rx || (v.ssrc !== s.rx.ssrc && now - s.lastRxMs >= SSRC_SWITCH_MS)) {
      if (s.rx) s.playout = new Playout(s.codec, s.ptimeMs);
      s.rx = new ReceiveStats(v.ssrc, s.codec.clockRate, v.sequence);
    } else if (v.ssrc !== s.rx.ssrc) {
      return this.drop('unexpected-ssrc');
    }
    s.lastRxMs = now;
    // Probation (the first packets of a source) only delays the statistics; a
    // packet from the source we already accepted is still worth playing.
    const onProbation = s.rx.onProbation;
    if (!s.rx.onPacket(v.sequence, v.timestamp, now) && !onProbation) return this.drop('bad-sequence');
    this.rxPackets++;
    this.rxBytes += v.payloadLength;
    const relay = this.relayTarget;
    if (isAudio) {
      if (relay) relay.relayed(v, true);
      else s.playout.put(v.sequence, v.timestamp, v.payload, now, v.marker);
      return;
    }
    const ev = decodeEvent(v.payload, this.event);
    if (!ev || !s.dtmfReceiver) return this.drop('bad-payload');
    if (relay) relay.relayed(v, false);
    s.dtmfReceiver.push(ev, v.timestamp, v.sequence, now);
  };

  private latch(s: Session, rinfo: PacketSource): void {
    s.latched = true;
    if (this.fromRemote(s, rinfo)) return;
    s.remote = { address: rinfo.address, port: rinfo.port };
    this.remoteLatched = s.remote;
    this.handlers.remoteLatched?.(s.remote);
  }

  private onRtcp(datagram: Buffer, rinfo: PacketSource): void {
    const s = this.session;
    if (!s) return this.drop('not-configured');
    let buf = datagram;
    if (s.srtp) {
      const r = s.srtp.unprotectRtcp(datagram);
      if (typeof r !== 'number') return this.drop(r);
      buf = datagram.subarray(0, r);
    }
    const packets = tryParseRtcp(buf);
    if (!packets) return this.drop('malformed-rtcp');
    // RTCP does not latch: it follows the RTP stream (rtcp-mux keeps both on one 5-tuple).
    if (!this.fromRemote(s, rinfo)) return this.drop('unexpected-source');
    const now = this.clock.now();
    for (const p of packets) {
      switch (p.type) {
        case 'sr':
          this.srReceived++;
          if (s.rx && p.ssrc === s.rx.ssrc) s.rx.onSenderReport(p.ntpSeconds, p.ntpFraction, now);
          this.onReportBlocks(s, p.reports);
          break;
        case 'rr':
          this.rrReceived++;
          this.onReportBlocks(s, p.reports);
          break;
        case 'sdes':
          for (const chunk of p.chunks) {
            if (!s.rx || chunk.ssrc === s.rx.ssrc) this.remoteCname = sdesCname(chunk) ?? this.remoteCname;
          }
          break;
        case 'bye':
          if (!s.rx || p.ssrcs.includes(s.rx.ssrc)) {
            this.byeReceived++;
            this.handlers.bye?.(p.reason);
          }
          break;
        default:
          break;
      }
    }
  }

  private onReportBlocks(s: Session, reports: readonly ReportBlock[]): void {
    for (const b of reports) {
      if (b.ssrc !== s.ssrc) continue;
      this.remoteLossPercent = (b.fractionLost * 100) / 256;
      const rtt = roundTripMs(wallMsToNtpMiddle32(this.clock.wallNow()), b.lsr, b.dlsr);
      if (rtt !== undefined) this.rttMs = rtt;
    }
  }
}

