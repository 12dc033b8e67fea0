/**
 * SIP parser micro-benchmark: time per message for a typical ~600-byte INVITE
 * (a softphone's INVITE with an SDP offer), over 100,000 iterations after a
 * warm-up.
 *
 *   npx tsx bench/parse.ts          (or node dist/bench/parse.js after npm run build)
 *   npx tsx bench/parse.ts 500000   more iterations
 *
 * A benchmark, not a test: nothing here fails on a number. The design target
 * is well under 5 µs per parse.
 */
import { parseMessage, validateMessage } from '../src/sip/message.js';

const SDP = [
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.101',
  's=-',
  'c=IN IP4 192.0.2.101',
  't=0 0',
  'm=audio 49172 RTP/AVP 0 8',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  '',
].join('\r\n');

const INVITE = Buffer.from(
  [
    'INVITE sip:bob@biloxi.example.com SIP/2.0',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS',
    'Content-Type: application/sdp',
    `Content-Length: ${SDP.length}`,
    '',
    SDP,
  ].join('\r\n'),
);

interface Case {
  name: string;
  run: () => unknown;
}

const cases: Case[] = [
  { name: 'parseMessage', run: () => parseMessage(INVITE) },
  {
    name: 'parse + validateMessage',
    run: () => {
      const m = parseMessage(INVITE);
      validateMessage(m);
      return m;
    },
  },
  { name: 'parse + toBuffer', run: () => parseMessage(INVITE).toBuffer() },
  {
    // What a stateful proxy does to each request: validate, read the routing
    // headers, add its Via, decrement Max-Forwards, serialize.
    name: 'proxy path (validate, Via, MF, toBuffer)',
    run: () => {
      const m = parseMessage(INVITE);
      validateMessage(m);
      void m.toTag;
      m.prepend('Via', 'SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKproxy1');
      m.set('Max-Forwards', String(Number(m.get('max-forwards')) - 1));
      return m.toBuffer();
    },
  },
];

function measure(c: Case, iterations: number): number {
  let sink: unknown;
  for (let i = 0; i < Math.min(20_000, iterations); i++) sink = c.run();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = c.run();
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === undefined) throw new Error('nothing ran');
  return ns / iterations / 1000;
}

const USAGE = `usage: npm run bench:parse [-- ITERATIONS]

Time per parse of a typical ~600-byte INVITE with SDP (default 100,000
iterations after a warm-up).

example:
  npm run bench:parse -- 500000
`;
const arg = process.argv[2];
if (arg === '--help' || arg === '-h') {
  process.stdout.write(USAGE);
  process.exit(0);
}
const iterations = Number(arg ?? 100_000);
if (!Number.isInteger(iterations) || iterations <= 0) {
  process.stderr.write(`iterations must be a positive whole number, got ${arg}\n\n${USAGE}`);
  process.exit(2);
}
console.log(`SIP parser, ${INVITE.length}-byte INVITE, ${iterations.toLocaleString('en-US')} iterations, node ${process.version}\n`);
const rows = cases.map((c) => {
  const us = measure(c, iterations);
  return [c.name, us.toFixed(2), Math.round(1e6 / us).toLocaleString('en-US')];
});
const head = ['case', 'µs/message', 'messages/s'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
console.log([line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n'));
