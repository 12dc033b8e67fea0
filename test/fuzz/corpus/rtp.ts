/** RTP and RTCP seeds built with our own writers: plain voice, CSRCs, header extensions, padding, DTMF; SR/RR/SDES/BYE/APP/feedback compounds. */
import { writeRtp, type RtpHeaderFields } from '../../../src/media/rtp/packet.js';
import { RTCP_APP, SDES_CNAME, SDES_NOTE, SDES_TOOL, writeRtcp, type RtcpPacket } from '../../../src/media/rtp/rtcp.js';

function rtp(fields: RtpHeaderFields, payload: Buffer): Buffer {
  const buf = Buffer.alloc(2048);
  return Buffer.from(buf.subarray(0, writeRtp(buf, fields, payload)));
}

function rtcp(packets: RtcpPacket[]): Buffer {
  const buf = Buffer.alloc(4096);
  return Buffer.from(buf.subarray(0, writeRtcp(buf, packets)));
}

let rtpCache: Buffer[] | undefined;
let rtcpCache: Buffer[] | undefined;

export function rtpSeeds(): Buffer[] {
  rtpCache ??= [
    rtp({ payloadType: 0, sequence: 1, timestamp: 160, ssrc: 0x12345678, marker: true }, Buffer.alloc(160, 0xff)),
    rtp({ payloadType: 8, sequence: 65535, timestamp: 0xffffffff, ssrc: 1, csrcs: [1, 2, 3] }, Buffer.alloc(160, 0xd5)),
    rtp({ payloadType: 111, sequence: 7, timestamp: 960, ssrc: 2, extension: { profile: 0xbede, data: Buffer.from([0x10, 0xff, 0, 0]) } }, Buffer.alloc(60, 1)),
    rtp({ payloadType: 101, sequence: 9, timestamp: 1000, ssrc: 3, padding: 4 }, Buffer.from([1, 0x8a, 0x03, 0x20])),
    rtp({ payloadType: 9, sequence: 10, timestamp: 1, ssrc: 4, csrcs: Array.from({ length: 15 }, (_, i) => i), extension: { profile: 0x1000, data: Buffer.alloc(16, 7) }, padding: 255 }, Buffer.alloc(0)),
  ];
  return rtpCache;
}

export function rtcpSeeds(): Buffer[] {
  const block = { ssrc: 9, fractionLost: 12, cumulativeLost: -3, highestSeq: 70000, jitter: 33, lsr: 0x12345678, dlsr: 65536 };
  rtcpCache ??= [
    rtcp([
      { type: 'sr', ssrc: 1, ntpSeconds: 3900000000, ntpFraction: 1 << 31, rtpTimestamp: 160, packetCount: 50, octetCount: 8000, reports: [block] },
      { type: 'sdes', chunks: [{ ssrc: 1, items: [{ type: SDES_CNAME, value: 'alice@127.0.0.1' }, { type: SDES_TOOL, value: 'fuzz' }] }] },
    ]),
    rtcp([
      { type: 'rr', ssrc: 2, reports: [block, { ...block, ssrc: 10 }] },
      { type: 'sdes', chunks: [{ ssrc: 2, items: [{ type: SDES_CNAME, value: 'x' }] }, { ssrc: 3, items: [{ type: SDES_NOTE, value: '\u00e9t\u00e9' }] }] },
      { type: 'bye', ssrcs: [2, 3], reason: 'hang up' },
    ]),
    rtcp([{ type: 'rr', ssrc: 5, reports: [] }, { type: 'other', packetType: RTCP_APP, count: 1, body: Buffer.from('\0\0\0\x05nameDATA') }]),
    rtcp([{ type: 'other', packetType: 205, count: 1, body: Buffer.from([0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 0]) }, { type: 'other', packetType: 206, count: 1, body: Buffer.alloc(8) }]),
  ];
  return rtcpCache;
}
