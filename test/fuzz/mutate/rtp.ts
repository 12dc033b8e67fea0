/**
 * RTP and RTCP packets mutated by field: version, padding and extension bits,
 * CSRC and report counts that disagree with the packet, extension and RTCP
 * length words that point past the end, padding counts of 0 or too many, SDES
 * item lengths and BYE reasons that overrun, truncations and concatenations.
 */
import type { Rng } from '../rng.js';
import { mutateBytes } from './bytes.js';

export function mutateRtp(rng: Rng, seed: Buffer): Buffer {
  let b = Buffer.from(seed);
  const n = rng.chance(0.1) ? 0 : rng.range(1, 3);
  for (let k = 0; k < n; k++) {
    switch (rng.int(9)) {
      case 0:
        b[0] = (b[0] & 0x3f) | (rng.int(4) << 6);
        break;
      case 1:
        b[0] ^= 0x20; // padding bit
        break;
      case 2:
        b[0] ^= 0x10; // extension bit
        break;
      case 3:
        b[0] = (b[0] & 0xf0) | rng.int(16); // CSRC count
        break;
      case 4: {
        // The extension length word, wherever the extension header would be.
        const at = 12 + (b[0] & 0x0f) * 4 + 2;
        if (at + 2 <= b.length) b.writeUInt16BE(rng.pick([0, 1, 0xffff, rng.int(0x10000)]), at);
        break;
      }
      case 5:
        if (b.length) b[b.length - 1] = rng.pick([0, 1, 4, 255, b.length, b.length + 1, rng.int(256)]);
        break;
      case 6:
        b = b.subarray(0, rng.int(b.length + 1));
        break;
      case 7:
        b = Buffer.concat([b, rng.bytes(rng.chance(0.9) ? rng.size(64) : rng.range(1000, 65000))]);
        break;
      default:
        b = mutateBytes(rng, b);
    }
  }
  return b;
}

/** Offsets of the packets of a compound, as far as their length words can be followed. */
function packetStarts(b: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 4 <= b.length && out.length < 10000) {
    out.push(off);
    off += (b.readUInt16BE(off + 2) + 1) * 4;
  }
  return out;
}

export function mutateRtcp(rng: Rng, seed: Buffer, donor?: Buffer): Buffer {
  let b = Buffer.from(seed);
  const n = rng.chance(0.1) ? 0 : rng.range(1, 3);
  for (let k = 0; k < n; k++) {
    const starts = packetStarts(b);
    const at = starts.length ? rng.pick(starts) : 0;
    if (at + 4 > b.length) {
      b = mutateBytes(rng, b, donor);
      continue;
    }
    switch (rng.int(10)) {
      case 0:
        b[at] = (b[at] & 0x3f) | (rng.int(4) << 6);
        break;
      case 1:
        b[at] ^= 0x20;
        break;
      case 2:
        b[at] = (b[at] & 0xe0) | rng.int(32); // RC / SC / FMT
        break;
      case 3:
        b[at + 1] = rng.pick([200, 201, 202, 203, 204, 205, 206, 207, 192, 0, 255]);
        break;
      case 4:
        b.writeUInt16BE(rng.pick([0, 1, 0xffff, rng.int(0x10000), (b.readUInt16BE(at + 2) + 1) & 0xffff, Math.max(0, b.readUInt16BE(at + 2) - 1)]), at + 2);
        break;
      case 5: {
        // Any byte inside the packet body: SDES item lengths, BYE reason length, padding count.
        const end = Math.min(b.length, at + (b.readUInt16BE(at + 2) + 1) * 4);
        if (end > at + 4) b[rng.range(at + 4, end - 1)] = rng.pick([0, 1, 3, 4, 255, rng.int(256)]);
        break;
      }
      case 6:
        // The compound repeated: many packets, within one datagram's size.
        b = Buffer.concat(Array.from({ length: Math.min(rng.chance(0.8) ? 2 : rng.range(100, 3000), Math.floor(65535 / Math.max(1, b.length))) }, () => b));
        break;
      case 7:
        b = b.subarray(0, rng.int(b.length + 1));
        break;
      case 8:
        if (donor) b = Buffer.concat([b, donor]);
        break;
      default:
        b = mutateBytes(rng, b, donor);
    }
  }
  return b;
}
