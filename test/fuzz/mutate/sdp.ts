/**
 * SDP bodies mutated line by line: required lines dropped, lines duplicated
 * and moved between session and media level, bad m= lines (ports, counts,
 * protocols, payload types), attributes by the thousand, and values at the
 * edges of what a=rtpmap, fmtp, ptime, rtcp and crypto accept.
 */
import type { Rng } from '../rng.js';
import { inject } from './inject.js';
import { hugeNumber, replaceNumber } from './numbers.js';

function lines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l !== '');
}

const ATTRIBUTES = [
  'rtpmap:0 PCMU/8000', 'rtpmap:8 PCMA/8000', 'rtpmap:9 G722/8000', 'rtpmap:111 opus/48000/2', 'rtpmap:101 telephone-event/8000',
  'fmtp:101 0-16', 'fmtp:111 minptime=10;useinbandfec=1', 'ptime:20', 'maxptime:150', 'sendrecv', 'sendonly', 'recvonly', 'inactive',
  'rtcp-mux', 'rtcp:9 IN IP4 0.0.0.0', 'rtcp:65535', 'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4',
  'crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj', 'ice-ufrag:abcd', 'ice-pwd:0123456789012345678901',
  'candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host', 'fingerprint:sha-256 AB:CD', 'setup:actpass', 'mid:0', 'ssrc:1 cname:x', 'x-unknown',
];

function badAttribute(rng: Rng): string {
  const n = () => hugeNumber(rng);
  return rng.pick([
    `rtpmap:${n()} PCMU/8000`, `rtpmap:0 PCMU/${n()}`, `rtpmap:96 opus/48000/${n()}`, 'rtpmap:96', 'rtpmap:96 /8000', 'rtpmap:96 x/8000/2/2', `rtpmap:${n()}`,
    `fmtp:${n()} x`, 'fmtp:', `ptime:${n()}`, 'ptime:0', 'ptime:0.000001', `maxptime:${n()}`, `rtcp:${n()}`, 'rtcp:9 IN IP4', `rtcp:${n()} IN IP6 ::1`,
    `crypto:${n()} AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz`,
    'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:', 'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNf|2^99|1:4|x', `crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|${n()}:${n()}`,
    'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^1000', 'crypto:1 F8_128_HMAC_SHA1_80 inline:AAAA KDR=99 UNENCRYPTED_SRTP',
    'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:' + 'A'.repeat(rng.range(1, 5000)), `crypto:1 x ${'inline:QUFB;'.repeat(rng.range(1, 500))}`,
    ':', 'a', '', '=', `x-${'y'.repeat(rng.range(1, 10000))}:z`,
  ]);
}

function badMediaLine(rng: Rng): string {
  const n = () => hugeNumber(rng);
  return rng.pick([
    `m=audio ${n()} RTP/AVP 0`, `m=audio 49170/${n()} RTP/AVP 0`, `m=audio 49170 RTP/AVP ${n()}`, 'm=audio 49170 RTP/AVP', 'm=audio', 'm=',
    `m=audio 49170 ${'RTP/'.repeat(rng.range(1, 2000))}AVP 0`, `m=audio 49170 RTP/AVP ${Array.from({ length: rng.range(100, 20000) }, (_, i) => i % 128).join(' ')}`,
    'm=audio 0 RTP/AVP 0', 'm=video 49170 RTP/AVP 31', 'm=audio 49170 UDP/TLS/RTP/SAVPF 111', 'm=audio 49170 RTP/SAVP 0', 'm=image 49170 udptl t38',
    `m=audio 65535 RTP/AVP 0`, 'm=audio 49170 RTP/AVP 96', 'm=audio 1 RTP/AVP 128', 'm=audio 49170/0 RTP/AVP 0', `m=${'a'.repeat(rng.range(1, 5000))} 1 RTP/AVP 0`,
  ]);
}

/** Larger descriptions only repeat what smaller ones test (and the parser refuses anything over 64 KiB). */
const MAX_CHARS = 150_000;

function fit(ls: string[]): void {
  let size = 0;
  for (let i = 0; i < ls.length; i++) {
    size += ls[i].length + 2;
    if (size > MAX_CHARS) {
      ls.length = i;
      return;
    }
  }
}

export function mutateSdp(rng: Rng, text: string): string {
  const ls = lines(text);
  fit(ls);
  const count = rng.chance(0.7) ? 1 : rng.range(2, 4);
  for (let k = 0; k < count; k++) {
    const i = rng.int(Math.max(1, ls.length));
    switch (rng.int(12)) {
      case 0:
        ls.splice(i, 1);
        break;
      case 1: {
        // Drop a required line by type.
        const type = rng.pick(['v=', 'o=', 's=', 'c=', 't=', 'm=']);
        const at = ls.findIndex((l) => l.startsWith(type));
        if (at >= 0) ls.splice(at, 1);
        break;
      }
      case 2:
        ls.splice(rng.int(ls.length + 1), 0, ls[i] ?? 'v=0');
        break;
      case 3: {
        const [l] = ls.splice(i, 1);
        if (l !== undefined) ls.splice(rng.int(ls.length + 1), 0, l);
        break;
      }
      case 4:
        ls.splice(rng.int(ls.length + 1), 0, badMediaLine(rng));
        break;
      case 5: {
        // Thousands of attributes, at session or media level.
        const n = Math.min(rng.chance(0.5) ? rng.range(10, 200) : rng.range(1000, 20000), MAX_CHARS / 20);
        const extra = Array.from({ length: n }, () => 'a=' + (rng.chance(0.9) ? rng.pick(ATTRIBUTES) : badAttribute(rng)));
        ls.splice(rng.chance(0.5) ? ls.length : rng.int(ls.length + 1), 0, ...extra);
        break;
      }
      case 6:
        ls.splice(rng.int(ls.length + 1), 0, 'a=' + badAttribute(rng));
        break;
      case 7:
        if (ls[i] !== undefined) ls[i] = replaceNumber(rng, ls[i]);
        break;
      case 8:
        if (ls[i] !== undefined) ls[i] = inject(rng, ls[i]);
        break;
      case 9:
        if (ls[i] !== undefined) ls[i] = ls[i].slice(0, rng.int(ls[i].length + 1));
        break;
      case 10:
        ls.splice(rng.int(ls.length + 1), 0, rng.pick([
          'c=IN IP4 0.0.0.0', 'c=IN IP6 ::', 'c=IN IP4 224.2.1.1/127/3', 'c=IN IP4 host.example', `c=IN IP4 ${'1'.repeat(rng.range(1, 5000))}`, 'c=IN', 'c=',
          `o=- ${hugeNumber(rng)} ${hugeNumber(rng)} IN IP4 127.0.0.1`, 'o=- 1 2 IN IP4', `t=${hugeNumber(rng)} 0`, 'r=7d 1h 0 25h', 'r=1', 'b=AS:64', `b=TIAS:${hugeNumber(rng)}`, 'b=:', 'z=0 -1h',
          'v=1', 's=', 'i=info', 'k=clear:x', 'y=0100000001', 'f=v/2/25', 'Z=upper', '1=digit', 'a',
        ]));
        break;
      default: {
        // Another media section copied many times.
        const m = ls.findIndex((l) => l.startsWith('m='));
        if (m >= 0) {
          const section = ls.slice(m);
          const sectionSize = section.reduce((n, l) => n + l.length + 2, 0);
          const copies = Math.min(rng.chance(0.8) ? rng.range(1, 4) : rng.range(50, 2000), Math.ceil(MAX_CHARS / sectionSize));
          for (let c = 0; c < copies; c++) ls.push(...section);
        }
      }
    }
    fit(ls);
  }
  const eol = rng.weighted([[8, '\r\n'], [1, '\n'], [1, '\r'], [0.5, '\r\r\n'], [0.5, '\n\r']] as const);
  return ls.join(eol) + (rng.chance(0.9) ? eol : '');
}
