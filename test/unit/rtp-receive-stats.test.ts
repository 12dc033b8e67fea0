import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/util/clock.js';
import { ntpFraction, ntpSeconds, wallMsToNtpMiddle32 } from '../../src/media/rtp/ntp.js';
import { ReceiveStats, roundTripMs } from '../../src/media/rtp/receive-stats.js';
import { parseRtcp, rtcpLength, writeRtcp, type RtcpPacket } from '../../src/media/rtp/rtcp.js';
import { SendStats } from '../../src/media/rtp/send-stats.js';

/**
 * PCMU at 8000 Hz: 8 timestamp units per millisecond, 160 units per 20 ms packet.
 *
 *  i  seq  RTP ts  arrival ms  arrival units  D = ΔR − ΔS          J += (|D| − J)/16
 *  0  100       0     1000        8000        (probation: not counted, no transit)
 *  1  101     160     1020        8160        (first accepted packet: transit only)
 *  2  102     320     1045        8360        200 − 160 =  40     0       + 40/16            = 2.5
 *  3  103     480     1060        8480        120 − 160 = −40     2.5     + 37.5/16          = 4.84375
 *  4  104     640     1080        8640        160 − 160 =   0     4.84375 − 4.84375/16       = 4.541015625
 *  5  105     800     1110        8880        240 − 160 =  80     4.541015625 + 75.458984375/16 = 9.2572021484375
 *  6  106     960     1125        9000        120 − 160 = −40     9.2572021484375 + 30.7427978515625/16
 *                                                                   = 11.17862701416015625
 *  7  107    1120     1145.5      9164        164 − 160 =   4     11.17862701416015625 − 7.17862701416015625/16
 *                                                                   = 10.729962825775146484375
 *
 * In milliseconds: 10.729962825775146484375 / 8 = 1.341245353221893310546875.
 */
const TRACE: [seq: number, ts: number, arrivalMs: number][] = [
  [100, 0, 1000],
  [101, 160, 1020],
  [102, 320, 1045],
  [103, 480, 1060],
  [104, 640, 1080],
  [105, 800, 1110],
  [106, 960, 1125],
  [107, 1120, 1145.5],
];
const EXPECTED_JITTER = [0, 0, 2.5, 4.84375, 4.541015625, 9.2572021484375, 11.17862701416015625, 10.729962825775146484375];

test('interarrival jitter follows RFC 3550 A.8 on a hand-computed trace', () => {
  const stats = new ReceiveStats(0xabc, 8000, TRACE[0][0]);
  TRACE.forEach(([seq, ts, at], i) => {
    const accepted = stats.onPacket(seq, ts, at);
    assert.equal(accepted, i > 0, `packet ${i} accepted`);
    assert.ok(Math.abs(stats.jitter - EXPECTED_JITTER[i]) < 1e-9, `after packet ${i}: ${stats.jitter}`);
  });
  assert.ok(Math.abs(stats.jitterMs - 1.341245353221893310546875) < 1e-9);
  assert.equal(stats.reportBlock(2000).jitter, 10, 'report carries the integer part');
});

test('jitter is unaffected by the RTP timestamp wrapping past 2^32', () => {
  const stats = new ReceiveStats(1, 8000, TRACE[0][0]);
  const base = 2 ** 32 - 500; // packets 4.. have wrapped
  for (const [seq, ts, at] of TRACE) stats.onPacket(seq, (base + ts) % 2 ** 32, at);
  assert.ok(Math.abs(stats.jitter - EXPECTED_JITTER[7]) < 1e-9, String(stats.jitter));
});

test('a steady stream has zero jitter and zero loss', () => {
  const stats = new ReceiveStats(1, 48000, 5000);
  for (let i = 0; i < 100; i++) stats.onPacket(5000 + i, 123 + i * 960, 7 + i * 20);
  assert.equal(stats.jitter, 0);
  assert.equal(stats.cumulativeLost, 0);
  assert.equal(stats.received, 99, 'the first probation packet is not counted (A.1)');
  assert.equal(stats.expected, 99);
});

test('loss with gaps, reordering, a duplicate and a sequence wrap (A.1, A.3)', () => {
  const stats = new ReceiveStats(7, 8000, 65530);
  const feed = (seq: number) => stats.onPacket(seq, seq * 160, 0);

  // 65530 is the probation packet; 65531 confirms the source and becomes base_seq.
  assert.equal(feed(65530), false);
  assert.equal(stats.onProbation, true);
  assert.equal(feed(65531), true);
  assert.equal(stats.onProbation, false);
  feed(65532);
  feed(65534); // 65533 is late
  // First report: expected 65531..65534 = 4, received 3 → lost 1, fraction 1/4 → 64/256.
  let block = stats.reportBlock(0);
  assert.equal(block.fractionLost, 64);
  assert.equal(block.cumulativeLost, 1);
  assert.equal(block.highestSeq, 65534);

  feed(65533); // reordered: counted, highest unchanged
  assert.equal(stats.extendedHighestSeq, 65534);
  feed(65535);
  feed(0); // wrap: one cycle
  assert.equal(stats.extendedHighestSeq, 65536);
  feed(2); // 1 is lost
  feed(2); // duplicate: counted as received, as the RFC does
  feed(3);
  feed(6); // 4 and 5 are lost
  feed(7);
  // expected = 65543 − 65531 + 1 = 13 (65531..65535 and 0..7); received = 11
  // (65531, 65532, 65534, 65533, 65535, 0, 2, 2, 3, 6, 7). Three are missing
  // (1, 4, 5) but the duplicate offsets one: cumulative lost = 2.
  assert.equal(stats.expected, 13);
  assert.equal(stats.received, 11);
  assert.equal(stats.cumulativeLost, 2);
  // Second interval: expected 13 − 4 = 9, received 11 − 3 = 8 → lost 1 → ⌊256/9⌋ = 28.
  block = stats.reportBlock(0);
  assert.equal(block.fractionLost, 28);
  assert.equal(block.cumulativeLost, 2);
  assert.equal(block.highestSeq, 0x0001_0007);
  // Third interval: nothing new arrived → fraction 0, cumulative unchanged.
  block = stats.reportBlock(0);
  assert.equal(block.fractionLost, 0);
  assert.equal(block.cumulativeLost, 2);
});

test('duplicates can make loss negative; the fraction is then reported as 0', () => {
  const stats = new ReceiveStats(1, 8000, 10);
  for (const seq of [10, 11, 12, 12, 12]) stats.onPacket(seq, 0, 0);
  // expected 11..12 = 2, received 4
  assert.equal(stats.cumulativeLost, -2);
  const block = stats.reportBlock(0);
  assert.equal(block.fractionLost, 0);
  assert.equal(block.cumulativeLost, -2);
});

test('a gap under MAX_DROPOUT is loss; a larger jump is a restart only once confirmed', () => {
  const stats = new ReceiveStats(1, 8000, 1000);
  stats.onPacket(1000, 0, 0);
  stats.onPacket(1001, 160, 20);
  assert.equal(stats.onPacket(1001 + 2999, 320, 40), true, 'within MAX_DROPOUT');
  assert.equal(stats.cumulativeLost, 2998);

  // A jump of 30000: a lone stray packet is ignored and changes nothing.
  assert.equal(stats.onPacket(34000, 999_999, 60), false);
  assert.equal(stats.cumulativeLost, 2998);
  assert.equal(stats.extendedHighestSeq, 4000);
  // Back to normal, then the jump again followed by its successor: the source restarted.
  assert.equal(stats.onPacket(4001, 480, 80), true);
  assert.equal(stats.onPacket(34000, 5_000_000, 100), false);
  assert.equal(stats.onPacket(34001, 5_000_160, 120), true);
  assert.equal(stats.expected, 1, 'counting starts over at the confirming packet');
  assert.equal(stats.received, 1);
  assert.equal(stats.cumulativeLost, 0);
  assert.equal(stats.extendedHighestSeq, 34001);
  // The new timestamp base does not show up as jitter.
  const before = stats.jitter;
  stats.onPacket(34002, 5_000_320, 140);
  assert.equal(stats.jitter, before * (15 / 16));
});

test('a source that never sends two packets in a row stays on probation', () => {
  const stats = new ReceiveStats(1, 8000, 500);
  for (const seq of [500, 700, 900, 1100]) assert.equal(stats.onPacket(seq, 0, 0), false);
  assert.equal(stats.onProbation, true);
  assert.equal(stats.onPacket(1101, 0, 0), true);
  assert.equal(stats.onProbation, false);
});

test('probation works across the 16-bit wrap', () => {
  const stats = new ReceiveStats(1, 8000, 65535);
  assert.equal(stats.onPacket(65535, 0, 0), false);
  assert.equal(stats.onPacket(0, 160, 20), true);
  assert.equal(stats.extendedHighestSeq, 0);
  assert.equal(stats.onPacket(1, 320, 40), true);
  assert.equal(stats.expected, 2);
});

test('round-trip time from LSR/DLSR: the RFC 3550 §6.4.1 example', () => {
  // A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
  // DLSR = 0x0005:4000 (5.250 s) → RTT = 6.125 s.
  assert.equal(roundTripMs(0xb7108000, 0xb7052000, 0x00054000), 6125);
  assert.equal(roundTripMs(0xb7108000, 0, 0), undefined, 'no SR received yet');
  assert.equal(roundTripMs(0xb7050000, 0xb7052000, 0x10), 0, 'clock step: never negative');
  // Across the wrap of the middle 32 bits.
  assert.equal(roundTripMs(0x00001000, 0xfffff000, 0x00001000), 62.5); // 0x1000 units = 1/16 s
});

test('round trip through SR, report block and RR on a virtual clock', () => {
  const clock = new VirtualClock();
  const send = new SendStats(8000);
  send.onSent(160, 1000, clock.now());
  const senderInfo = send.senderInfo(clock.wallNow(), clock.now());
  const srPackets: RtcpPacket[] = [{ type: 'sr', ssrc: 0xa, reports: [], ...senderInfo }];
  const srWire = Buffer.alloc(rtcpLength(srPackets));
  writeRtcp(srWire, srPackets);

  clock.advance(30); // one-way delay 30 ms
  const receiver = new ReceiveStats(0xa, 8000, 1);
  const [sr] = parseRtcp(srWire);
  assert.equal(sr.type, 'sr');
  if (sr.type !== 'sr') return;
  receiver.onSenderReport(sr.ntpSeconds, sr.ntpFraction, clock.now());

  clock.advance(250); // the receiver holds the SR for 250 ms before reporting
  const block = receiver.reportBlock(clock.now());
  assert.equal(block.lsr, wallMsToNtpMiddle32(clock.wallNow() - 280));
  assert.equal(block.dlsr, Math.floor(250 * 65.536));
  const rrPackets: RtcpPacket[] = [{ type: 'rr', ssrc: 0xb, reports: [block] }];
  const rrWire = Buffer.alloc(rtcpLength(rrPackets));
  writeRtcp(rrWire, rrPackets);

  clock.advance(40); // return delay 40 ms
  const [rr] = parseRtcp(rrWire);
  assert.ok(rr.type === 'rr');
  const got = rr.reports[0];
  const rtt = roundTripMs(wallMsToNtpMiddle32(clock.wallNow()), got.lsr, got.dlsr);
  assert.ok(rtt !== undefined && Math.abs(rtt - 70) < 0.05, `rtt ${rtt}`);
});

test('report blocks before any SR carry LSR and DLSR of zero', () => {
  const stats = new ReceiveStats(1, 8000, 1);
  stats.onPacket(1, 0, 0);
  stats.onPacket(2, 160, 20);
  const block = stats.reportBlock(5000);
  assert.equal(block.lsr, 0);
  assert.equal(block.dlsr, 0);
  stats.onSenderReport(ntpSeconds(Date.UTC(2026, 0, 1)), ntpFraction(Date.UTC(2026, 0, 1)), 6000);
  const next = stats.reportBlock(7000);
  assert.notEqual(next.lsr, 0);
  assert.equal(next.dlsr, 65536, 'one second in 1/65536 s');
});
