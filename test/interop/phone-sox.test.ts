/**
 * The sound card path of `switchboard phone` (`--play mic`, `--speaker`),
 * which runs sox's `rec` and `play`. There is no sound card on a CI machine,
 * so `rec` and `play` here are two small scripts earlier on PATH: `rec`
 * makes a 700 Hz tone with the real sox, `play` writes what it is given to a
 * file. What is tested is ours: the rate and format we ask for, and that
 * audio flows through the pipes both ways during a real call.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { requirePeers } from '../helpers/peers.js';
import { startPhone, type PhoneProcess } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';

const skip = requirePeers('sox');

describe('switchboard phone with the sound card through sox', { skip, timeout: 60_000 }, () => {
  const phones: PhoneProcess[] = [];
  after(async () => {
    await Promise.all(phones.map((p) => p.stop()));
  });

  test('the microphone is sent and what is heard goes to the speaker, at the codec rate', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-sox-'));
    const played = path.join(dir, 'played.raw');
    // Our arguments: -q -t raw -r RATE -e signed-integer -b 16 -c 1 -
    // A real microphone delivers in real time: 100 ms of tone every ~100 ms, for 20 s at most.
    await writeFile(
      path.join(dir, 'rec'),
      '#!/bin/sh\nfor i in $(seq 200); do sox -q -n -t raw -r "$5" -e signed-integer -b 16 -c 1 - synth 0.1 sine 700 || exit 0; sleep 0.09; done\n',
    );
    // One file per rate asked for: ringback comes at 8 kHz, the call at the codec's rate.
    await writeFile(path.join(dir, 'play'), `#!/bin/sh\nexec cat >> "${played}.$5"\n`);
    await chmod(path.join(dir, 'rec'), 0o755);
    await chmod(path.join(dir, 'play'), 0o755);
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` };

    const port = await freePort('both');
    const callee = startPhone(['listen', '--listen', `127.0.0.1:${port}`, '--calls', '1', '--play', 'mic', '--codec', 'g722'], { env });
    phones.push(callee);
    await callee.waitFor(/waiting for calls/, 10_000);
    const caller = startPhone(['call', `sip:phone@127.0.0.1:${port}`, '--speaker', '--play', 'silence', '--duration', '3'], { env });
    phones.push(caller);
    // Let it ring for 1.5 s, then answer from the callee's command line.
    await caller.waitFor(/^ringing/, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    callee.send('answer');
    assert.equal((await caller.exited).exitCode, 0, caller.output());
    await callee.exited;

    const ring = await readFile(`${played}.8000`);
    const ringPcm = new Int16Array(ring.buffer, ring.byteOffset, Math.floor(ring.length / 2));
    assert.ok(ringPcm.length >= 8000, `${ringPcm.length} samples of ringback`);
    for (const hz of [440, 480]) {
      // Two tones share the power: each holds about half of it.
      const s = tonePresence(ringPcm.subarray(0, 8000), 8000, hz, { minRatio: 0.3 });
      assert.ok(s >= 0.9, `ringback has ${hz} Hz in ${(s * 100).toFixed(1)}% of its first second`);
    }
    const raw = await readFile(`${played}.16000`);
    const pcm = new Int16Array(raw.buffer, raw.byteOffset, Math.floor(raw.length / 2));
    assert.ok(pcm.length > 16000 * 2, `${pcm.length} samples reached the speaker`);
    const share = tonePresence(pcm.subarray(3200, pcm.length - 3200), 16000, 700);
    assert.ok(share >= 0.9, `700 Hz from the far microphone in ${(share * 100).toFixed(1)}% of frames`);
  });
});
