/** Control bytes and line breaks put where they do not belong: inside header names, values and the start line. */
import type { Rng } from '../rng.js';

/** Latin1 strings: each character is one byte on the wire. */
const NASTY = [
  '\r', '\n', '\r\n', '\0', '\r\n\r\n', '\n\n', '\r\r', '\t', ' ', '\x7f', '\x1b', '\x0b', '\x0c',
  '\xff', '\xc3', '\xc3\x28', '\xe2\x80\xa8', '\xef\xbf\xbd', '\xf0\x9f\x98\x80', '\xed\xa0\x80', '\xc0\x80',
  '"', '\\', '<', '>', ';', ',', ':', '=', '@', '?', '&', '%', '%00', '%0d%0a', '%zz', '[', ']', '\r\n ',
  '\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKinj', '\r\nContent-Length: 9999', '\r\n\r\nBODY',
];

export function nasty(rng: Rng): string {
  return rng.chance(0.9) ? rng.pick(NASTY) : String.fromCharCode(rng.int(256)).repeat(rng.range(1, 4));
}

/** Inserts one to a few nasty fragments at random places in `s`. */
export function inject(rng: Rng, s: string): string {
  let out = s;
  const n = rng.chance(0.8) ? 1 : rng.range(2, 6);
  for (let i = 0; i < n; i++) {
    const at = rng.int(out.length + 1);
    out = out.slice(0, at) + nasty(rng) + out.slice(at);
  }
  return out;
}

/** Replaces a random slice of `s` by a nasty fragment. */
export function overwrite(rng: Rng, s: string): string {
  if (!s) return nasty(rng);
  const at = rng.int(s.length);
  const len = rng.range(1, Math.min(8, s.length - at));
  return s.slice(0, at) + nasty(rng) + s.slice(at + len);
}
