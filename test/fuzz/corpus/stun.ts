/** STUN seeds: the RFC 5769 test vectors and Binding messages built with our encoder (ICE requests, v4/v6 answers, errors). */
import { encodeStun, StunAttr } from '../../../src/stun/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5769 §2.1-2.3 (the same vectors test/unit/stun-message.test.ts checks).
const RFC5769 = [
  `00010058 2112a442 b7e7a701 bc34d686 fa87dfae 80220010 5354554e 20746573 7420636c 69656e74 00240004 6e0001ff
   80290008 932ff9b1 51263b36 00060009 6576746a 3a683676 59202020 00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2 80280004 e57a3bcf`,
  `0101003c 2112a442 b7e7a701 bc34d686 fa87dfae 8022000b 74657374 20766563 746f7220 00200008 0001a147 e112a643
   00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7 80280004 c07d4c96`,
  `01010048 2112a442 b7e7a701 bc34d686 fa87dfae 8022000b 74657374 20766563 746f7220 00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
   00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41 80280004 c8fb0b4c`,
];

export const STUN_KEY = Buffer.from('VOkJxbRl1RmTxUk/WvJxBt');

let seeds: Buffer[] | undefined;

export function stunSeeds(): Buffer[] {
  if (seeds) return seeds;
  const tid = hex('b7e7a701 bc34d686 fa87dfae');
  const big = (): Buffer => Buffer.alloc(2048);
  const copy = (b: Buffer): Buffer => Buffer.from(b);
  seeds = [
    ...RFC5769.map(hex),
    copy(encodeStun({ cls: 'request', transactionId: tid, fingerprint: true }, big())),
    copy(encodeStun({
      cls: 'request', transactionId: tid, username: 'abcd:efgh', software: 'fuzz',
      attributes: [
        { type: StunAttr.Priority, value: hex('6e0001ff') }, { type: StunAttr.IceControlling, value: hex('932ff9b151263b36') }, { type: StunAttr.UseCandidate, value: Buffer.alloc(0) },
      ],
      integrityKey: STUN_KEY, fingerprint: true,
    }, big())),
    copy(encodeStun({ cls: 'success', transactionId: tid, xorMappedAddress: { address: '127.0.0.1', port: 40000 }, mappedAddress: { address: '127.0.0.1', port: 40000 } }, big())),
    copy(encodeStun({ cls: 'success', transactionId: tid, xorMappedAddress: { address: '::1', port: 3478 }, software: 'x', fingerprint: true }, big())),
    copy(encodeStun({ cls: 'error', transactionId: tid, errorCode: { code: 420, reason: 'Unknown Attribute' }, unknownAttributes: [0x0003, 0x7fff] }, big())),
    copy(encodeStun({
      cls: 'error', transactionId: tid, errorCode: { code: 401, reason: 'Unauthorized' },
      attributes: [{ type: StunAttr.Realm, value: Buffer.from('127.0.0.1') }, { type: StunAttr.Nonce, value: Buffer.from('f//499k954d6OL34oL9FSTvy64sA') }],
    }, big())),
    copy(encodeStun({ cls: 'indication', transactionId: tid, fingerprint: true }, big())),
  ];
  return seeds;
}
