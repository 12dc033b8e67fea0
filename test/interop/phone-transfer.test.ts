/**
 * Attended transfer between three `switchboard phone` processes, as a desk
 * phone user does it: Alice talks to Bob, puts him on hold, calls Carol,
 * and hands Bob over to Carol (REFER with Replaces, RFC 3891/5589). Bob ends
 * up talking to Carol, and each hears the other's tone.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { phoneTracker } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { readWav } from '../helpers/wav.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';

describe('switchboard phone attended transfer', { timeout: 60_000 }, () => {
  const phones = phoneTracker();
  const phone = phones.start;
  after(() => phones.stopAll());

  test('alice consults carol, then bob talks to carol', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-attended-'));
    const bobRec = path.join(dir, 'bob.wav');
    const bobPort = await freePort('both');
    const carolPort = await freePort('both');
    const bob = phone(['listen', '--listen', `127.0.0.1:${bobPort}`, '--auto-answer', '--calls', '1', '--play', 'tone:440', '--record', bobRec]);
    const carol = phone(['listen', '--listen', `127.0.0.1:${carolPort}`, '--auto-answer', '--calls', '1', '--play', 'tone:1000', '--duration', '3']);
    await bob.waitFor(/waiting for calls/, 10_000);
    await carol.waitFor(/waiting for calls/, 10_000);

    const alice = phone(['call', `sip:bob@127.0.0.1:${bobPort}`, '--play', 'tone:600']);
    await alice.waitFor(/^answered/, 10_000);
    alice.send(`attended sip:carol@127.0.0.1:${carolPort}`);
    await alice.waitFor(/attended transfer done/, 15_000);
    assert.equal((await alice.exited).exitCode, 0, alice.output());

    await carol.waitFor(/this call was replaced/, 10_000);
    await bob.waitFor(/transferred: now calling sip:/, 10_000);
    const [eb, ec] = await Promise.all([bob.exited, carol.exited]);
    assert.equal(ec.exitCode, 0, ec.stdout);
    assert.equal(eb.exitCode, 0, eb.stdout);

    // Bob's second recording is his call with Carol.
    const w = await readWav(bobRec.replace(/\.wav$/, '-2.wav'));
    const share = tonePresence(w.samples.subarray(1600, w.samples.length - 1600), w.sampleRate, 1000);
    assert.ok(share >= 0.9, `bob heard carol's 1000 Hz in ${(share * 100).toFixed(1)}% of frames`);
  });
});
