/**
 * A softphone call across a bad network: two `switchboard phone` processes
 * in their own network namespaces, joined only through our userspace NAT
 * relay (this kernel has no netem) that drops 5% of media packets and
 * delays each by 0-60 ms (30 ms jitter), seeded. The phones learn their
 * public addresses by STUN from the relay. Each side's [STATS] loss must be
 * within a point of what the relay really dropped toward it, and each
 * recording must still hold the far tone in at least 85% of its frames.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { requireNetns } from '../helpers/netns.js';
import { startImpairedNat, type ImpairedNat } from '../helpers/impair-nat.js';
import { statsLines, waitForOutput } from '../helpers/phone.js';
import { readWav } from '../helpers/wav.js';
import type { StatsLine } from '../../src/media/quality/stats-line.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';

const skip = requireNetns();
const CALL_SECONDS = 20;

function lastStats(out: string): StatsLine {
  const all = statsLines(out);
  assert.ok(all.length > 0, `no [STATS] line in:\n${out}`);
  return all[all.length - 1];
}


async function share(file: string, hz: number): Promise<number> {
  const w = await readWav(file);
  const trim = w.sampleRate / 5;
  return tonePresence(w.samples.subarray(trim, w.samples.length - trim), w.sampleRate, hz);
}

describe('switchboard phone across an impaired network (5% loss, 30 ms jitter)', { skip, timeout: 120_000 }, () => {
  let rig: ImpairedNat | undefined;
  after(async () => {
    await rig?.close();
  });

  test('loss is reported within a point and the tones survive', async (t) => {
    rig = await startImpairedNat({ lossPercent: 5, jitterMs: 30, seed: 3 });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-impair-'));
    const recA = path.join(dir, 'a-heard.wav');
    const recB = path.join(dir, 'b-heard.wav');

    const b = rig.nodeIn('B', 'src/cli/main', [
      'phone', 'listen', '--listen', `${rig.addrB}:5080`, '--stun', rig.stunB, '--auto-answer', '--calls', '1',
      '--play', 'tone:1000', '--record', recB, '--stats', '--codec', 'pcmu',
    ], { deadlineMs: 90_000 });
    const mapped = await waitForOutput(b, /STUN: our SIP port \d+ is (\S+):(\d+) outside/, 15_000);
    assert.equal(mapped[1], rig.natA, 'B is reached from A through the relay');
    await waitForOutput(b, /waiting for calls/, 10_000);

    const a = rig.nodeIn('A', 'src/cli/main', [
      'phone', 'call', `sip:phone@${mapped[1]}:${mapped[2]}`, '--listen', `${rig.addrA}:5070`, '--stun', rig.stunA,
      '--play', 'tone:440', '--record', recA, '--duration', String(CALL_SECONDS), '--stats', '--codec', 'pcmu',
    ], { deadlineMs: 90_000 });
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    assert.equal(ea.exitCode, 0, `A:\n${ea.stdout}\n${ea.stderr}`);
    assert.equal(eb.exitCode, 0, `B:\n${eb.stdout}\n${eb.stderr}`);

    const c = await rig.counters();
    const relayLoss = (d: { forwarded: number; dropped: number }) => (100 * d.dropped) / (d.forwarded + d.dropped);
    const towardB = relayLoss(c.aToB.media);
    const towardA = relayLoss(c.bToA.media);
    const sa = lastStats(ea.stdout);
    const sb = lastStats(eb.stdout);
    assert.ok(c.aToB.media.forwarded > CALL_SECONDS * 40, `media crossed the relay: ${JSON.stringify(c.aToB.media)}`);
    assert.ok(Math.abs(sa.lossPercent - towardA) <= 1, `A reports ${sa.lossPercent}% loss, the relay dropped ${towardA.toFixed(2)}% toward A`);
    assert.ok(Math.abs(sb.lossPercent - towardB) <= 1, `B reports ${sb.lossPercent}% loss, the relay dropped ${towardB.toFixed(2)}% toward B`);
    assert.ok(sa.lossPercent >= 2 && sb.lossPercent >= 2, 'the impairment really happened');
    assert.ok(sa.jitterMs > 5, `A sees jitter ${sa.jitterMs} ms`);
    assert.ok(sa.mos < 4.3, `MOS ${sa.mos} reflects the loss`);

    const heardByA = await share(recA, 1000);
    const heardByB = await share(recB, 440);
    t.diagnostic(
      `relay dropped ${towardA.toFixed(2)}% toward A, ${towardB.toFixed(2)}% toward B; A: ${JSON.stringify(sa)}; B: ${JSON.stringify(sb)}; ` +
        `tone share A ${heardByA.toFixed(3)}, B ${heardByB.toFixed(3)}`,
    );
    assert.ok(heardByA >= 0.85, `A heard 1000 Hz in ${(heardByA * 100).toFixed(1)}% of frames`);
    assert.ok(heardByB >= 0.85, `B heard 440 Hz in ${(heardByB * 100).toFixed(1)}% of frames`);
  });
});
