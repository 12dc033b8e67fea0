/**
 * The impairment rig that stands in for `tc netem` (absent from this kernel):
 * two namespaces joined through a userspace NAT relay in a third, with
 * seeded loss and jitter. Probes in A and B learn their public addresses
 * with STUN through the relay, then stream RTP-like datagrams at each other's
 * mapped addresses. What the receivers measure must match what the relay did
 * (and what the seed predicts), SIP-looking datagrams must pass untouched,
 * and every namespace must be gone afterwards.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  Impairment,
  LineChannel,
  directionSeed,
  startImpairedNat,
  type Direction,
  type ImpairedNat,
  type ImpairmentOptions,
  type ProbeReport,
  type RigSide,
} from '../helpers/impair-nat.js';
import { listTestNamespaces, removeStaleNamespaces, requireNetns } from '../helpers/netns.js';

const skip = requireNetns();

interface Probe {
  ch: LineChannel;
  mapped: { address: string; port: number };
}

async function startProbe(rig: ImpairedNat, side: RigSide, stun: string): Promise<Probe> {
  const ch = new LineChannel();
  const proc = rig.nodeIn(side, 'test/helpers/impair-nat-main', ['probe', JSON.stringify({ stun })], {
    interactive: true,
    deadlineMs: 120_000,
    onStdout: (c) => ch.push(c),
  });
  const m = await ch.attach(proc).event('mapped');
  return { ch, mapped: { address: String(m.address), port: Number(m.port) } };
}

interface Run {
  aToB: ProbeReport;
  bToA: ProbeReport;
  rig: ImpairedNat;
  a: Probe;
  b: Probe;
}

/** Both probes send `count` datagrams at `intervalMs` at the same time; each reports what it got. */
async function exchange(rig: ImpairedNat, count: number, intervalMs: number, sipEvery: number): Promise<Run> {
  const [a, b] = await Promise.all([startProbe(rig, 'A', rig.stunA), startProbe(rig, 'B', rig.stunB)]);
  const sent = [a.ch.event('sent', count * intervalMs + 20_000), b.ch.event('sent', count * intervalMs + 20_000)];
  a.ch.send({ cmd: 'send', peer: b.mapped, count, intervalMs, sipEvery });
  b.ch.send({ cmd: 'send', peer: a.mapped, count, intervalMs, sipEvery });
  await Promise.all(sent);
  // Let the delay line drain: the longest delay configured here is well under 200 ms.
  await new Promise((r) => setTimeout(r, 400));
  const [ra, rb] = await Promise.all([a.ch.request({ cmd: 'report', expected: count }), b.ch.request({ cmd: 'report', expected: count })]);
  return { bToA: ra.report as ProbeReport, aToB: rb.report as ProbeReport, rig, a, b };
}

/** The sequence numbers the relay's PRNG drops for the first `count` impaired packets of a direction. */
function predictedDrops(opts: ImpairmentOptions, dir: Direction, count: number): number[] {
  const imp = new Impairment(opts, directionSeed(opts.seed ?? 1, dir));
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (imp.next() < 0) out.push(i);
  return out;
}

describe('impairment rig: NAT relay with seeded loss and jitter between two namespaces', { skip, timeout: 120_000 }, () => {
  const rigs: ImpairedNat[] = [];
  after(async () => {
    for (const r of rigs) await r.close();
  });

  test('5% loss and 30 ms jitter on RTP, SIP clean: receivers see what the relay did', async () => {
    await removeStaleNamespaces();
    const opts: ImpairmentOptions = { lossPercent: 5, jitterMs: 30, seed: 1 };
    const rig = await startImpairedNat(opts);
    rigs.push(rig);
    const ours = (await listTestNamespaces()).filter((n) => n.startsWith(`sbt-${process.pid}-`));
    assert.deepEqual(ours.sort(), [rig.nsA, rig.nsB, rig.nsW].sort());

    const COUNT = 1000;
    const run = await exchange(rig, COUNT, 20, 10);
    // The phones learned public addresses on the relay, not their own.
    assert.deepEqual(run.a.mapped.address, rig.natB);
    assert.deepEqual(run.b.mapped.address, rig.natA);

    const counters = await rig.counters();
    const lines: string[] = [];
    for (const dir of ['aToB', 'bToA'] as const) {
      const r = run[dir];
      const c = counters[dir];
      const lossPct = (100 * r.missing.length) / COUNT;
      const relayPct = (100 * c.media.dropped) / (c.media.dropped + c.media.forwarded);
      lines.push(
        `${dir}: loss ${lossPct.toFixed(1)}% (relay ${relayPct.toFixed(1)}%), transit ${r.transitMeanMs.toFixed(1)} ± ${r.transitStdMs.toFixed(1)} ms, ` +
          `D std ${r.interarrivalStdMs.toFixed(1)} ms, RFC 3550 jitter ${r.rfc3550JitterMs.toFixed(1)} ms, reordered ${r.reordered}, sip ${r.sipReceived}`,
      );
      assert.ok(Math.abs(lossPct - 5) <= 1.5, `${dir}: measured loss ${lossPct}% not 5 ± 1.5`);
      assert.ok(Math.abs(lossPct - relayPct) <= 1, `${dir}: receiver ${lossPct}% vs relay ${relayPct}%`);
      // Repeatable: the seed alone says which packets go.
      assert.deepEqual(r.missing, predictedDrops(opts, dir, COUNT), `${dir}: drop pattern differs from the seed's`);
      assert.equal(c.media.forwarded + c.media.dropped, COUNT);
      assert.equal(r.duplicates, 0);
      // Uniform ±30 ms has a standard deviation of 30/√3 = 17.3 ms; D(i,i+1) of two such delays √2 × that = 24.5 ms.
      assert.ok(Math.abs(r.transitStdMs - 17.3) < 4, `${dir}: transit std ${r.transitStdMs} ms`);
      assert.ok(Math.abs(r.interarrivalStdMs - 24.5) < 5, `${dir}: D std ${r.interarrivalStdMs} ms`);
      assert.ok(r.transitMeanMs > 25 && r.transitMeanMs < 45, `${dir}: mean transit ${r.transitMeanMs} ms (base 30)`);
      assert.ok(r.reordered > 0, `${dir}: ±30 ms at 20 ms pacing reorders, as netem does`);
      // SIP-looking datagrams are never impaired.
      assert.equal(r.sipReceived, COUNT / 10);
      assert.equal(c.other.dropped, 0);
      assert.equal(c.other.forwarded, COUNT / 10);
      assert.equal(c.queued, 0);
    }
    assert.equal(counters.stunAnswered, 2);
    assert.equal(counters.mappings, 2);
    console.log(lines.join('\n'));

    await rig.close();
    const left = (await listTestNamespaces()).filter((n) => n.startsWith(`sbt-${process.pid}-`));
    assert.deepEqual(left, [], 'namespaces removed');
  });

  test('without reordering, with everything impaired and no loss: order kept, nothing lost, jitter still there', async () => {
    const rig = await startImpairedNat({ lossPercent: 0, jitterMs: 30, reorder: false, impair: 'all', seed: 7 });
    rigs.push(rig);
    const COUNT = 200;
    const run = await exchange(rig, COUNT, 10, 5);
    for (const dir of ['aToB', 'bToA'] as const) {
      const r = run[dir];
      assert.deepEqual(r.missing, [], dir);
      assert.equal(r.reordered, 0, `${dir}: reorder disabled`);
      assert.equal(r.sipReceived, COUNT / 5);
      assert.ok(r.transitStdMs > 5, `${dir}: transit std ${r.transitStdMs} ms shows the jitter`);
      console.log(`${dir} (no reorder): transit ${r.transitMeanMs.toFixed(1)} ± ${r.transitStdMs.toFixed(1)} ms`);
    }
    const c = await rig.counters();
    assert.equal(c.aToB.reordered + c.bToA.reordered, 0);
    assert.equal(c.aToB.other.forwarded, COUNT / 5, 'SIP went through the delay line');

    // The impairment can change mid-run (e.g. a burst of loss): 100% loss now drops the next packets.
    await rig.setImpairment({ lossPercent: 100 });
    const before = await rig.counters();
    run.a.ch.send({ cmd: 'send', peer: run.b.mapped, count: 5, intervalMs: 1, sipEvery: 0 });
    await run.a.ch.event('sent');
    await new Promise((r) => setTimeout(r, 200));
    const afterSet = await rig.counters();
    assert.equal(afterSet.aToB.media.dropped - before.aToB.media.dropped, 5);
    await rig.close();
  });

  test('no path but the relay: A cannot reach B\'s private address', async () => {
    const rig = await startImpairedNat({ seed: 3 });
    rigs.push(rig);
    const p = rig.spawnIn('A', process.execPath, [
      '-e',
      `const s=require('dgram').createSocket('udp4');s.on('error',e=>{console.log('ERR',e.code);process.exit(0)});` +
        `s.send('x',9,'${rig.addrB}',e=>{console.log(e?'ERR '+e.code:'SENT');setTimeout(()=>process.exit(0),100)})`,
    ], { deadlineMs: 10_000 });
    const out = await p.exited;
    assert.match(out.stdout, /ERR (ENETUNREACH|EHOSTUNREACH)/, out.stdout + out.stderr);
    await rig.close();
  });

  test('a relay that cannot start leaves no namespace behind', async () => {
    // The relay process refuses the port and exits before saying 'ready'.
    const attempt = startImpairedNat({ stunPort: 70_000 });
    await assert.rejects(
      attempt.then(async (rig) => {
        await rig.close();
        return rig;
      }),
      /process exited/,
    );
    const left = (await listTestNamespaces()).filter((n) => n.startsWith(`sbt-${process.pid}-`));
    const live = rigs.flatMap((r) => [r.nsA, r.nsB, r.nsW]);
    assert.deepEqual(left.filter((n) => !live.includes(n)), []);
  });
});
