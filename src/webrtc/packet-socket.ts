/**
 * The media endpoint's packet socket for a WebRTC leg: plain RTP/RTCP in
 * and out, with ICE, DTLS and SRTP done by werift underneath.
 *
 * Sending keeps the endpoint's own header (payload type, marker, sequence,
 * timestamp, SSRC): the packet goes straight to the DTLS transport's SRTP,
 * not through werift's RTCRtpSender, which would overwrite the payload type
 * with the primary codec's and break RFC 4733 events.
 *
 * RTCP: werift only sends sender reports for streams that went through its
 * RTCRtpSender, so without ours the browser would see no SR for our stream
 * (no remote-outbound stats, no RTT on its side). Our SR/RR/SDES/BYE are
 * therefore passed through werift's SRTCP (it wants parsed packets; a few
 * per second, so the parse costs nothing), and what the browser sends is
 * handed back to the endpoint for its RTT and loss figures. werift's own
 * receiver reports about the browser's stream go out as well, under the
 * receiver's SSRC: two report blocks for one stream are harmless.
 */
import { RtcpPacketConverter, RtpHeader, type RTCDtlsTransport, type RtcpPacket, type RtpPacket } from 'werift';
import type { PacketSocket, PacketSource } from '../media/endpoint/index.js';

/**
 * Where the endpoint believes its peer is: packets have no address of their
 * own here (ICE picks and may change the path), so every datagram handed up
 * says it came from this, and the endpoint is configured to send to it.
 * 0.0.0.0:9 is what WebRTC writes in c=/m= for "see the candidates".
 */
export const WEBRTC_PEER: PacketSource = Object.freeze({ address: '0.0.0.0', port: 9 });

const LOCAL: PacketSource = Object.freeze({ address: '0.0.0.0', port: 0 });

type MessageListener = (msg: Buffer, rinfo: PacketSource) => void;
type ErrorListener = (err: Error) => void;

export class WebRtcPacketSocket implements PacketSocket {
  /** Packets the endpoint sent before DTLS was up (dropped: there are no keys yet). */
  droppedBeforeConnect = 0;
  private dtls: RTCDtlsTransport | undefined;
  private onMessage: MessageListener | undefined;
  private onError: ErrorListener | undefined;
  private unsubscribe: (() => void)[] = [];
  private closed = false;
  /** Reused for every packet: werift serializes it synchronously before its first await. */
  private readonly header = new RtpHeader();
  private local: PacketSource = LOCAL;

  /** Starts carrying packets over `dtls` once its SRTP keys exist. */
  attach(dtls: RTCDtlsTransport): void {
    if (this.closed || this.dtls === dtls) return;
    this.detach();
    this.dtls = dtls;
    this.unsubscribe.push(
      dtls.onRtp.subscribe((rtp: RtpPacket) => this.deliver(rtp.serialize())).unSubscribe,
      dtls.onRtcp.subscribe((rtcp: RtcpPacket) => this.deliver(rtcp.serialize())).unSubscribe,
    );
  }

  /** The local side of the selected pair, for address(). */
  setLocal(local: PacketSource): void {
    this.local = local;
  }

  private deliver(buf: Buffer): void {
    if (!this.closed) this.onMessage?.(buf, WEBRTC_PEER);
  }

  send(buf: Uint8Array, offset: number, length: number, _port: number, _address: string, cb: (err: Error | null) => void): void {
    const dtls = this.dtls;
    if (this.closed || !dtls || !dtls.srtpStarted) {
      this.droppedBeforeConnect++;
      cb(null);
      return;
    }
    const b = Buffer.from(buf.buffer, buf.byteOffset + offset, length);
    // RTCP packet types 200-204 in the second octet (RFC 5761 §4).
    const pt = length > 1 ? b[1] : 0;
    if (pt >= 200 && pt <= 204) {
      let packets: RtcpPacket[];
      try {
        packets = RtcpPacketConverter.deSerialize(Buffer.from(b));
      } catch (err) {
        cb(err as Error);
        return;
      }
      dtls.sendRtcp(packets).then(
        () => cb(null),
        (err: unknown) => cb(err as Error),
      );
      return;
    }
    if (length < 12 || (b[0] & 0x3f) !== 0) {
      // The endpoint writes 12-octet headers; anything else takes the general parser.
      let header: RtpHeader;
      try {
        header = RtpHeader.deSerialize(b);
      } catch (err) {
        cb(err as Error);
        return;
      }
      dtls.sendRtp(b.subarray(header.payloadOffset), header).then(
        () => cb(null),
        (err: unknown) => cb(err as Error),
      );
      return;
    }
    const h = this.header;
    h.marker = (b[1] & 0x80) !== 0;
    h.payloadType = b[1] & 0x7f;
    h.sequenceNumber = b.readUInt16BE(2);
    h.timestamp = b.readUInt32BE(4);
    h.ssrc = b.readUInt32BE(8);
    dtls.sendRtp(b.subarray(12), h).then(
      () => cb(null),
      (err: unknown) => cb(err as Error),
    );
  }

  on(event: 'message', listener: MessageListener): this;
  on(event: 'error', listener: ErrorListener): this;
  on(event: 'message' | 'error', listener: MessageListener | ErrorListener): this {
    if (event === 'message') this.onMessage = listener as MessageListener;
    else this.onError = listener as ErrorListener;
    return this;
  }

  /** Reports an error to the endpoint's counter (the transport's own failures go elsewhere). */
  error(err: Error): void {
    this.onError?.(err);
  }

  address(): PacketSource {
    return this.local;
  }

  /** Stops delivering; the peer connection itself is closed by its transport. */
  close(cb?: () => void): void {
    this.closed = true;
    this.detach();
    this.dtls = undefined;
    this.onMessage = undefined;
    cb?.();
  }

  private detach(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
  }
}
