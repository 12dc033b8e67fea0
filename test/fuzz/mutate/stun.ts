/**
 * STUN messages mutated by structure: the header's type, length and cookie;
 * attributes dropped, duplicated, reordered, retyped, with lying length
 * fields, missing padding, odd sizes, thousands of them; FINGERPRINT and
 * MESSAGE-INTEGRITY out of place. The length field and FINGERPRINT are
 * usually recomputed so the decoder gets past its first checks.
 */
import { crc32, StunAttr } from '../../../src/stun/index.js';
import type { Rng } from '../rng.js';
import { mutateBytes } from './bytes.js';

interface Attr {
  type: number;
  value: Buffer;
  /** Length field to write instead of value.length. */
  len?: number;
  /** Leave out the padding after the value. */
  noPad?: boolean;
}

function split(buf: Buffer): { header: Buffer; attrs: Attr[] } {
  const header = Buffer.from(buf.subarray(0, 20));
  const attrs: Attr[] = [];
  let pos = 20;
  while (pos + 4 <= buf.length) {
    const type = buf.readUInt16BE(pos);
    const len = buf.readUInt16BE(pos + 2);
    if (pos + 4 + len > buf.length) break;
    attrs.push({ type, value: Buffer.from(buf.subarray(pos + 4, pos + 4 + len)) });
    pos += 4 + ((len + 3) & ~3);
  }
  return { header, attrs };
}

const TYPES = Object.values(StunAttr);

function weirdValue(rng: Rng, type: number): Buffer {
  switch (type) {
    case StunAttr.XorMappedAddress:
    case StunAttr.MappedAddress:
    case StunAttr.AlternateServer:
      return Buffer.concat([Buffer.from([0, rng.pick([0, 1, 2, 3, 255])]), rng.bytes(rng.pick([0, 1, 2, 6, 18, 20, 100]))]);
    case StunAttr.ErrorCode:
      return Buffer.concat([Buffer.from([0, 0, rng.int(256), rng.int(256)]), rng.bytes(rng.size(300))]);
    case StunAttr.UnknownAttributes:
      return rng.bytes(rng.pick([0, 1, 3, 64, 65534]));
    default:
      return rng.bytes(rng.chance(0.9) ? rng.size(64) : rng.range(1000, 65535));
  }
}

export function mutateStun(rng: Rng, seed: Buffer): Buffer {
  const { header, attrs: list } = split(seed);
  let attrs = list;
  let fixLength = true;
  let fixFingerprint = rng.chance(0.7);
  const n = rng.chance(0.1) ? 0 : rng.range(1, 3);
  for (let k = 0; k < n; k++) {
    const i = rng.int(Math.max(1, attrs.length));
    switch (rng.int(12)) {
      case 0:
        attrs.splice(i, 1);
        break;
      case 1:
        if (attrs[i]) attrs.splice(rng.int(attrs.length + 1), 0, { ...attrs[i] });
        break;
      case 2:
        rng.shuffle(attrs);
        break;
      case 3:
        if (attrs[i]) attrs[i] = { ...attrs[i], type: rng.chance(0.7) ? rng.pick(TYPES) : rng.int(0x10000) };
        break;
      case 4:
        if (attrs[i]) attrs[i] = { ...attrs[i], len: rng.pick([0, 1, 3, 0xffff, attrs[i].value.length + rng.range(1, 8), Math.max(0, attrs[i].value.length - 1)]) };
        break;
      case 5:
        if (attrs[i]) attrs[i] = { ...attrs[i], noPad: true, value: attrs[i].value.subarray(0, rng.int(attrs[i].value.length + 1)) };
        break;
      case 6: {
        const type = rng.pick(TYPES);
        attrs.splice(rng.int(attrs.length + 1), 0, { type, value: weirdValue(rng, type) });
        break;
      }
      case 7: {
        // Thousands of small attributes (the message stays under 64 KiB).
        const count = rng.range(100, 8000);
        const extra = Array.from({ length: count }, () => ({ type: rng.chance(0.5) ? rng.pick(TYPES) : rng.int(0x10000), value: rng.bytes(rng.int(5)) }));
        attrs = attrs.concat(extra);
        break;
      }
      case 8:
        // FINGERPRINT or MESSAGE-INTEGRITY in the middle.
        attrs.splice(rng.int(attrs.length + 1), 0, { type: rng.pick([StunAttr.Fingerprint, StunAttr.MessageIntegrity]), value: rng.bytes(rng.pick([4, 20, 0, 3, 21])) });
        fixFingerprint = false;
        break;
      case 9:
        header.writeUInt16BE(rng.chance(0.5) ? rng.int(0x10000) : rng.int(0x4000), 0);
        break;
      case 10:
        if (rng.chance(0.5)) header.writeUInt32BE(rng.pick([0, 0x2112a443, 0xffffffff]), 4);
        else {
          fixLength = false;
          header.writeUInt16BE(rng.pick([0, 1, 4, 0xfffc, 0xffff, rng.int(0x10000)]), 2);
        }
        break;
      default:
        if (attrs[i]) attrs[i] = { type: attrs[i].type, value: weirdValue(rng, attrs[i].type) };
    }
  }
  const parts: Buffer[] = [header];
  let total = 0;
  for (const a of attrs) {
    const len = Math.min(0xffff, a.len ?? a.value.length);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(a.type & 0xffff, 0);
    head.writeUInt16BE(len, 2);
    const pad = a.noPad ? 0 : (4 - (a.value.length % 4)) % 4;
    parts.push(head, a.value, Buffer.alloc(pad));
    total += 4 + a.value.length + pad;
  }
  let out = Buffer.concat(parts);
  if (fixLength) out.writeUInt16BE(Math.min(0xffff, total), 2);
  // A correct FINGERPRINT lets the decoder reach the attributes before it.
  const last = attrs[attrs.length - 1];
  if (fixFingerprint && last?.type === StunAttr.Fingerprint && last.value.length === 4 && out.length >= 28) {
    out.writeUInt32BE((crc32(out, 0, out.length - 8) ^ 0x5354554e) >>> 0, out.length - 4);
  }
  if (rng.chance(0.15)) out = mutateBytes(rng, out);
  return out;
}
