/** Valid session descriptions as phones, gateways and browsers send them. */
import { createOffer, formatSdp } from '../../../src/sdp/index.js';

const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

let seeds: string[] | undefined;

export function sdpSeeds(): string[] {
  seeds ??= [
    crlf([
      'v=0', 'o=alice 2890844526 2890844526 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
      'm=audio 49170 RTP/AVP 0 8 9 101', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:9 G722/8000',
      'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:20', 'a=sendrecv',
    ]),
    crlf([
      'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'a=msid-semantic: WMS',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
      'a=candidate:1 1 udp 2122260223 127.0.0.1 51000 typ host generation 0', 'a=ice-ufrag:EsAw', 'a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y',
      'a=ice-options:trickle', 'a=fingerprint:sha-256 0D:BC:1B:BF:8B:65:7D:E9:0D:0D:3B:0F:5E:4B:D8:5E:A0:56:E2:C4:7E:9A:E5:91:1C:B9:83:66:E4:C5:AE:A1',
      'a=setup:actpass', 'a=mid:0', 'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level', 'a=sendrecv', 'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc', 'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:63 red/48000/2',
      'a=fmtp:63 111/111', 'a=rtpmap:9 G722/8000', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:13 CN/8000',
      'a=rtpmap:110 telephone-event/48000', 'a=rtpmap:126 telephone-event/8000', 'a=ssrc:3735928559 cname:4TOk42mSjXCkVIa6',
    ]),
    crlf([
      'v=0', 'o=bob 1 1 IN IP4 127.0.0.1', 's=call', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/SAVP 0 101',
      'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15',
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4',
      'a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32',
    ]),
    crlf([
      'v=0', 'o=carol 28908764872 28908764873 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 0.0.0.0', 'b=AS:64', 't=0 0', 'a=sendonly',
      'm=audio 49172 RTP/AVP 0 96', 'a=rtpmap:96 opus/48000/2', 'a=fmtp:96 stereo=1', 'a=ptime:30', 'a=maxptime:60',
      'm=video 51372 RTP/AVP 31 32', 'a=rtpmap:31 H261/90000', 'a=rtpmap:32 MPV/90000',
      'm=audio 0 RTP/AVP 8', 'm=image 5000 udptl t38', 'a=T38FaxVersion:0',
    ]),
    crlf([
      'v=0', 'o=- 1 1 IN IP6 ::1', 's=baresip', 'i=info', 'u=http://127.0.0.1/', 'e=a@127.0.0.1', 'p=+1 555', 'c=IN IP6 ::1', 'b=CT:128',
      't=3034423619 3042462419', 'r=7d 1h 0 25h', 'z=2882844526 -1h 2898848070 0', 'k=prompt', 'a=tool:fuzz',
      'm=audio 10000/2 RTP/AVP 0 8 101', 'i=voice', 'c=IN IP6 ::1', 'b=AS:80', 'k=prompt', 'a=rtcp:10001', 'a=rtpmap:101 telephone-event/8000', 'a=inactive', 'y=0100000001',
    ]),
    formatSdp(createOffer({
      address: '127.0.0.1', port: 30000, sessionId: '1', codecs: [
        { name: 'opus', clockRate: 48000, channels: 2, fmtp: 'useinbandfec=1' }, { name: 'G722', clockRate: 8000 }, { name: 'PCMU', clockRate: 8000 },
      ], telephoneEvent: true, ptime: 20, rtcpMux: true,
      crypto: [{ suite: 'AES_CM_128_HMAC_SHA1_80', keySalt: 'PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR' }],
    })),
  ];
  return seeds;
}
