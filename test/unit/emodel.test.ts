import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delayImpairment, estimateMos, mosFromR, type EModelInput } from '../../src/media/quality/emodel.js';
import { formatStatsLine, parseStatsLine } from '../../src/media/quality/stats-line.js';
import type { MediaEndpointStats } from '../../src/media/endpoint/types.js';
import { DROP_REASONS } from '../../src/media/endpoint/types.js';

const near = (actual: number, expected: number, tol: number, what: string): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);
};

describe('E-model (G.107) MOS estimate', () => {
  it('G.711 on a perfect network scores the G.107 default R 93.2, MOS 4.41', () => {
    const q = estimateMos({ codec: 'pcmu', lossPercent: 0, jitterMs: 0, rttMs: 0 });
    near(q.r, 93.2, 1e-9, 'R');
    near(q.mos, 4.41, 0.005, 'MOS');
    // PCMA is the same codec family and must score the same.
    assert.deepEqual(estimateMos({ codec: 'pcma', lossPercent: 0, jitterMs: 0 }), q);
  });

  it('5% random loss on G.711 gives the hand-computed MOS 3.92', () => {
    // By hand: Ie,eff = 0 + 95·5 / (5/1 + 25.1) = 475 / 30.1 = 15.7807
    //          R = 93.2 − 15.7807 = 77.4193 (no delay impairment: Ta = 0 + 20 + 20 = 40 ms)
    //          MOS = 1 + 0.035·77.4193 + 77.4193·17.4193·22.5807·7e-6 = 1 + 2.7097 + 0.2132 = 3.9229
    const q = estimateMos({ codec: 'pcmu', lossPercent: 5, jitterMs: 0 });
    near(q.r, 77.4193, 0.001, 'R');
    near(q.mos, 3.9229, 0.01, 'MOS');
  });

  it('bursty loss hurts more than the same random loss', () => {
    const random = estimateMos({ codec: 'pcmu', lossPercent: 5, jitterMs: 0 });
    const bursty = estimateMos({ codec: 'pcmu', lossPercent: 5, jitterMs: 0, burstRatio: 2 });
    // By hand: Ie,eff = 475 / (2.5 + 25.1) = 17.2101, R = 75.9899.
    near(bursty.r, 75.9899, 0.001, 'R');
    assert.ok(bursty.mos < random.mos);
  });

  it('400 ms one-way delay lowers R by Idd = 24.07', () => {
    // By hand, G.107 §7.4: X = log2(400/100) = 2;
    // Idd = 25·((1 + 2⁶)^(1/6) − 3·(1 + (2/3)⁶)^(1/6) + 2) = 25·(2.00517 − 3.04237 + 2) = 24.070
    near(delayImpairment(400), 24.07, 0.001, 'Idd(400)');
    // Ta = rtt/2 + jitter buffer + 20 ms G.711 packetization = 360 + 20 + 20 = 400 ms.
    const slow = estimateMos({ codec: 'pcmu', lossPercent: 0, jitterMs: 0, rttMs: 720, jitterBufferMs: 20 });
    near(93.2 - slow.r, 24.07, 0.001, 'R drop');
    near(slow.mos, mosFromR(93.2 - 24.07), 0.001, 'MOS');
    // Up to 100 ms mouth-to-ear the delay costs nothing (G.107's mT).
    assert.equal(estimateMos({ codec: 'pcmu', lossPercent: 0, jitterMs: 0, rttMs: 120 }).r, 93.2);
  });

  it('jitter costs through the jitter buffer it forces', () => {
    // 60 ms jitter → 120 ms buffer → Ta = 140 ms > 100.
    const q = estimateMos({ codec: 'pcmu', lossPercent: 0, jitterMs: 60 });
    near(q.r, 93.2 - delayImpairment(140), 1e-9, 'R');
    assert.ok(q.r < 93.2);
  });

  it('never improves as loss grows, for every codec', () => {
    for (const codec of ['pcmu', 'pcma', 'g722', 'opus'] as const) {
      let prev = Infinity;
      for (let loss = 0; loss <= 40; loss += 0.5) {
        const { mos } = estimateMos({ codec, lossPercent: loss, jitterMs: 5, rttMs: 40 });
        assert.ok(mos <= prev, `${codec}: MOS rose from ${prev} to ${mos} at ${loss}% loss`);
        assert.ok(mos >= 1 && mos <= 4.5);
        prev = mos;
      }
      assert.ok(prev < 2.5, `${codec}: 40% loss should be poor, got ${prev}`);
    }
  });

  it('maps R to MOS by G.107 Annex B, clamped outside 0..100', () => {
    assert.equal(mosFromR(-5), 1);
    assert.equal(mosFromR(120), 4.5);
    near(mosFromR(50), 1 + 1.75 + 50 * -10 * 50 * 7e-6, 1e-12, 'MOS(50)');
  });

  it('rejects bad input with a RangeError naming the field', () => {
    const ok: EModelInput = { codec: 'pcmu', lossPercent: 1, jitterMs: 1 };
    const cases: [Partial<EModelInput>, RegExp][] = [
      [{ lossPercent: -1 }, /lossPercent/],
      [{ lossPercent: Number.NaN }, /lossPercent/],
      [{ lossPercent: 101 }, /lossPercent/],
      [{ jitterMs: -0.5 }, /jitterMs/],
      [{ jitterMs: Number.POSITIVE_INFINITY }, /jitterMs/],
      [{ rttMs: Number.NaN }, /rttMs/],
      [{ jitterBufferMs: -20 }, /jitterBufferMs/],
      [{ burstRatio: 0 }, /burstRatio/],
      [{ codec: 'g729' as never }, /codec/],
    ];
    for (const [bad, field] of cases) {
      assert.throws(() => estimateMos({ ...ok, ...bad }), (e: unknown) => e instanceof RangeError && field.test(e.message), JSON.stringify(bad));
    }
  });
});

function stats(over: Partial<MediaEndpointStats>): MediaEndpointStats {
  return {
    sent: { packets: 250, bytes: 40000, sr: 1, rr: 0 },
    received: { packets: 249, bytes: 39840, datagrams: 251, sr: 1, rr: 0, bye: 0 },
    lost: 1,
    lossPercent: 0.4,
    jitterMs: 1.2,
    rttMs: 0.8,
    remoteLossPercent: 0,
    late: 0,
    concealed: 1,
    dropped: { total: 0, reasons: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as MediaEndpointStats['dropped']['reasons'] },
    ...over,
  };
}

describe('[STATS] line', () => {
  it('prints exactly the documented form', () => {
    assert.equal(formatStatsLine(stats({}), 'PCMU', 4.3912), '[STATS] sent=250 recv=249 loss=0.4% jitter=1.2ms rtt=0.8ms mos=4.39 codec=PCMU');
  });

  it('prints rtt=- while no round trip is known', () => {
    assert.equal(
      formatStatsLine(stats({ rttMs: undefined, lossPercent: 12.345, jitterMs: 20 }), 'opus', 2.5),
      '[STATS] sent=250 recv=249 loss=12.3% jitter=20.0ms rtt=- mos=2.50 codec=opus',
    );
  });

  it('parses back what it printed, also inside a log line', () => {
    const line = formatStatsLine(stats({}), 'PCMU', estimateMos({ codec: 'pcmu', lossPercent: 0.4, jitterMs: 1.2, rttMs: 0.8 }).mos);
    assert.deepEqual(parseStatsLine(`12:00:01.123 phone: ${line}`), {
      sent: 250,
      recv: 249,
      lossPercent: 0.4,
      jitterMs: 1.2,
      rttMs: 0.8,
      mos: 4.38, // 0.4% loss: Ie,eff = 38 / 25.5 = 1.49, R = 91.71
      codec: 'PCMU',
    });
    assert.equal(parseStatsLine(formatStatsLine(stats({ rttMs: undefined }), 'G722', 4))?.rttMs, undefined);
  });

  it('returns undefined for lines that are not stats lines', () => {
    assert.equal(parseStatsLine('[INFO] call connected'), undefined);
    assert.equal(parseStatsLine('[STATS] sent=abc recv=1'), undefined);
    assert.equal(parseStatsLine(''), undefined);
  });
});
