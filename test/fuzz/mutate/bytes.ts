/** Byte-level noise applied on top of the structural mutations: flips, overwrites, inserts, deletes, splices. */
import type { Rng } from '../rng.js';

export function mutateBytes(rng: Rng, input: Buffer, donor?: Buffer): Buffer {
  if (input.length === 0) return rng.bytes(rng.size(64));
  const b = Buffer.from(input);
  switch (rng.int(7)) {
    case 0: {
      const n = rng.range(1, 8);
      for (let i = 0; i < n; i++) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    }
    case 1: {
      const n = rng.range(1, 8);
      for (let i = 0; i < n; i++) b[rng.int(b.length)] = rng.pick([0, 0x0a, 0x0d, 0x20, 0x3a, 0x3b, 0x7f, 0x80, 0xff, rng.int(256)]);
      return b;
    }
    case 2: {
      const at = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), rng.bytes(rng.size(32)), b.subarray(at)]);
    }
    case 3: {
      const at = rng.int(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + rng.range(1, 64))]);
    }
    case 4: {
      // A slice repeated in place.
      const at = rng.int(b.length);
      const len = rng.range(1, Math.min(64, b.length - at));
      const slice = b.subarray(at, at + len);
      return Buffer.concat([b.subarray(0, at + len), ...Array.from({ length: rng.size(100) }, () => slice), b.subarray(at + len)]);
    }
    case 5:
      return b.subarray(0, rng.int(b.length));
    default: {
      if (!donor || donor.length === 0) return b.subarray(rng.int(b.length));
      // Head of this input, tail of another.
      return Buffer.concat([b.subarray(0, rng.int(b.length + 1)), donor.subarray(rng.int(donor.length))]);
    }
  }
}
