/**
 * `switchboard phone` against a real softphone (baresip 1.0), peer to peer
 * on 127.0.0.1, with each codec both ways: our phone sends 440 Hz, baresip
 * 1 kHz, and each side's recording must hold the other's tone in at least
 * 90% of its 20 ms frames. Then DTMF each way, hold and resume, and blind
 * transfer, checked by what each side reports.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBaresip, type Baresip } from '../helpers/baresip.js';
import { requirePeers } from '../helpers/peers.js';
import { phoneTracker, type PhoneProcess } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { readWav, writeToneWav } from '../helpers/wav.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';

const skip = requirePeers('baresip');
const OUR_HZ = 440;
const THEIR_HZ = 1000;
const CALL_SECONDS = 4;

interface CodecCase {
  name: 'pcmu' | 'pcma' | 'g722' | 'opus';
  baresip: string;
  module?: string;
  rate: number;
  channels: number;
}
const CODECS: CodecCase[] = [
  { name: 'pcmu', baresip: 'PCMU/8000/1', rate: 8000, channels: 1 },
  { name: 'pcma', baresip: 'PCMA/8000/1', rate: 8000, channels: 1 },
  { name: 'g722', baresip: 'G722/16000/1', module: 'g722', rate: 16000, channels: 1 },
  { name: 'opus', baresip: 'opus/48000/2', module: 'opus', rate: 48000, channels: 2 },
];

/**
 * Share of 20 ms frames holding `hz`, over the part of the recording where
 * the call was up: the first and last 100 ms (media starting, the BYE) are
 * left out, as a listener would not count the click of the line opening.
 */
async function presence(file: string, hz: number): Promise<number> {
  const wav = await readWav(file);
  const ch = wav.channels;
  const mono = new Int16Array(Math.floor(wav.samples.length / ch));
  for (let i = 0; i < mono.length; i++) mono[i] = wav.samples[i * ch];
  const trim = Math.round(wav.sampleRate * 0.1);
  return tonePresence(mono.subarray(trim, Math.max(trim, mono.length - trim)), wav.sampleRate, hz);
}

async function heardByBaresip(b: Baresip, from: number): Promise<string> {
  const files = (await b.recordings()).filter((f) => f.endsWith('-dec.wav')).sort();
  assert.ok(files.length > from, `baresip ${b.name} recorded nothing (files: ${files.join(', ')})`);
  return files[files.length - 1];
}

describe('switchboard phone with baresip', { skip, timeout: 300_000 }, () => {
  let tmp: string;
  const peers: Baresip[] = [];
  const phones = phoneTracker();
  const phone = phones.start;

  async function baresipFor(c: CodecCase, user: string, manual = false): Promise<Baresip> {
    const tone = await writeToneWav(path.join(tmp, `${user}-${c.name}.wav`), {
      freqHz: THEIR_HZ,
      sampleRate: c.rate,
      channels: c.channels,
      seconds: 60,
    });
    const b = await startBaresip({
      name: `${user}-${c.name}`,
      account: `<sip:${user}@127.0.0.1>;regint=0;answermode=${manual ? 'manual' : 'auto'};audio_codecs=${c.baresip}`,
      toneWav: tone,
      codecs: c.module ? [c.module] : [],
    });
    peers.push(b);
    return b;
  }

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'sb-phone-baresip-'));
  });

  after(async () => {
    await phones.stopAll();
    await Promise.all(peers.map((b) => b.stop()));
  });

  for (const c of CODECS) {
    test(`${c.name}: our phone calls baresip; each hears the other's tone`, async () => {
      const b = await baresipFor(c, `bob${c.name}`);
      const rec = path.join(tmp, `we-heard-${c.name}.wav`);
      const p = phone([
        'call', `sip:bob${c.name}@127.0.0.1:${b.sipPort}`,
        '--codec', c.name, '--play', `tone:${OUR_HZ}`, '--record', rec,
        '--duration', String(CALL_SECONDS), '--stats',
      ]);
      const exit = await p.exited;
      assert.equal(exit.exitCode, 0, `phone exit ${exit.exitCode}:\n${exit.stdout}\n${exit.stderr}`);
      assert.match(exit.stdout, new RegExp(`media: ${c.name === 'opus' ? 'opus' : c.name.toUpperCase()}/`, 'i'));
      const ours = await presence(rec, THEIR_HZ);
      assert.ok(ours >= 0.9, `we heard ${THEIR_HZ} Hz in ${(ours * 100).toFixed(1)}% of frames`);
      await b.waitForEvent('CALL_CLOSED', 5000);
      const theirs = await presence(await heardByBaresip(b, 0), OUR_HZ);
      assert.ok(theirs >= 0.9, `baresip heard ${OUR_HZ} Hz in ${(theirs * 100).toFixed(1)}% of frames`);
      const stats = p.stats();
      assert.ok(stats.length >= 1, 'a [STATS] line was printed');
      const last = stats[stats.length - 1];
      assert.ok(last.recv > CALL_SECONDS * 40, `received ${last.recv} packets`);
      assert.ok(last.mos > 4, `MOS ${last.mos} on a clean loopback`);
    });

    test(`${c.name}: baresip calls our phone; each hears the other's tone`, async () => {
      const port = await freePort('both');
      const rec = path.join(tmp, `we-answered-${c.name}.wav`);
      const p = phone([
        'listen', '--listen', `127.0.0.1:${port}`, '--auto-answer', '--codec', c.name,
        '--play', `tone:${OUR_HZ}`, '--record', rec, '--calls', '1', '--duration', String(CALL_SECONDS),
      ]);
      await p.waitFor(/waiting for calls/, 10_000);
      const b = await baresipFor(c, `alice${c.name}`);
      await b.dial(`sip:phone@127.0.0.1:${port}`);
      const exit = await p.exited;
      assert.equal(exit.exitCode, 0, `phone exit ${exit.exitCode}:\n${exit.stdout}\n${exit.stderr}`);
      const ours = await presence(rec, THEIR_HZ);
      assert.ok(ours >= 0.9, `we heard ${THEIR_HZ} Hz in ${(ours * 100).toFixed(1)}% of frames`);
      await b.waitForEvent('CALL_CLOSED', 5000);
      const theirs = await presence(await heardByBaresip(b, 0), OUR_HZ);
      assert.ok(theirs >= 0.9, `baresip heard ${OUR_HZ} Hz in ${(theirs * 100).toFixed(1)}% of frames`);
    });
  }

  for (const c of CODECS) {
    test(`${c.name}: DTMF over RFC 4733 both ways arrives as the same digits`, async () => {
      const b = await baresipFor(c, `dtmf${c.name}`);
      const p = phone(['call', `sip:dtmf${c.name}@127.0.0.1:${b.sipPort}`, '--codec', c.name, '--dtmf', '159#']);
      await p.waitFor(/^answered/, 10_000);
      assert.equal(await b.waitForDtmf(4, 10_000), '159#');
      assert.match(p.output(), /DTMF sent: 159#/, 'sent as RFC 4733 events, not the SIP INFO fallback');
      await b.sendDtmf('2580*');
      await p.waitFor(/DTMF received: \*/, 10_000);
      const heard = [...p.output().matchAll(/DTMF received: (\S) \(rfc4733\)/g)].map((m) => m[1]).join('');
      assert.equal(heard, '2580*');
      p.send('hangup');
      assert.equal((await p.exited).exitCode, 0);
    });
  }

  for (const direction of ['we call', 'baresip calls'] as const) {
    test(`SRTP (SDES, mandatory at baresip): ${direction}; each hears the other's tone`, async () => {
      const tone = await writeToneWav(path.join(tmp, `srtp-${direction.replace(' ', '')}.wav`), { freqHz: THEIR_HZ, seconds: 60 });
      const b = await startBaresip({
        name: `srtp-${direction.replace(' ', '')}`,
        account: `<sip:sbob@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU/8000/1;mediaenc=srtp-mand`,
        toneWav: tone,
        extraConfig: ['module          srtp.so'],
      });
      peers.push(b);
      const rec = path.join(tmp, `srtp-heard-${direction.replace(' ', '')}.wav`);
      let p: PhoneProcess;
      if (direction === 'we call') {
        p = phone(['call', `sip:sbob@127.0.0.1:${b.sipPort}`, '--srtp', '--codec', 'pcmu', '--play', `tone:${OUR_HZ}`, '--record', rec, '--duration', String(CALL_SECONDS)]);
      } else {
        const port = await freePort('both');
        p = phone(['listen', '--listen', `127.0.0.1:${port}`, '--auto-answer', '--calls', '1', '--codec', 'pcmu', '--play', `tone:${OUR_HZ}`, '--record', rec, '--duration', String(CALL_SECONDS)]);
        await p.waitFor(/waiting for calls/, 10_000);
        await b.dial(`sip:phone@127.0.0.1:${port}`);
      }
      const exit = await p.exited;
      assert.equal(exit.exitCode, 0, `phone exit ${exit.exitCode}:\n${exit.stdout}\n${exit.stderr}`);
      assert.match(exit.stdout, /SRTP AES_CM_128_HMAC_SHA1_(80|32)/);
      const ours = await presence(rec, THEIR_HZ);
      assert.ok(ours >= 0.9, `we heard ${THEIR_HZ} Hz in ${(ours * 100).toFixed(1)}% of frames`);
      await b.waitForEvent('CALL_CLOSED', 5000);
      const theirs = await presence(await heardByBaresip(b, 0), OUR_HZ);
      assert.ok(theirs >= 0.9, `baresip heard ${OUR_HZ} Hz in ${(theirs * 100).toFixed(1)}% of frames`);
    });
  }

  test('hold and resume, each side in turn', async () => {
    const b = await baresipFor(CODECS[0], 'holdbob');
    const p = phone(['call', `sip:holdbob@127.0.0.1:${b.sipPort}`, '--codec', 'pcmu']);
    await p.waitFor(/^answered/, 10_000);
    p.send('hold');
    await p.waitFor(/^on hold/, 10_000);
    assert.equal(await b.waitForMediaDirection(['recvonly', 'inactive'], 5000), 'recvonly');
    p.send('resume');
    await p.waitFor(/^resumed/, 10_000);
    assert.equal(await b.waitForMediaDirection('sendrecv', 5000), 'sendrecv');
    await b.hold();
    await p.waitFor(/the other side put us on hold/, 10_000);
    await b.resume();
    await p.waitFor(/the other side took us off hold/, 10_000);
    p.send('hangup');
    assert.equal((await p.exited).exitCode, 0);
  });

  /** Our phone in a call with baresip as `user`, and a third phone (carol) waiting for one call at `carolAt` (host:port). */
  async function transferSetup(user: string): Promise<{ b: Baresip; p: PhoneProcess; carol: PhoneProcess; carolAt: string }> {
    const b = await baresipFor(CODECS[0], user);
    const carolAt = `127.0.0.1:${await freePort('both')}`;
    const carol = phone(['listen', '--listen', carolAt, '--auto-answer', '--calls', '1', '--codec', 'pcmu', '--duration', '2']);
    await carol.waitFor(/waiting for calls/, 10_000);
    const p = phone(['call', `sip:${user}@127.0.0.1:${b.sipPort}`, '--codec', 'pcmu']);
    await p.waitFor(/^answered/, 10_000);
    return { b, p, carol, carolAt };
  }

  test('blind transfer: our phone hands baresip over to a third phone', async () => {
    const { b, p, carol, carolAt } = await transferSetup('xferbob');
    p.send(`transfer sip:carol@${carolAt}`);
    await carol.waitFor(/incoming call from .*xferbob/, 10_000);
    await p.waitFor(/transfer done/, 10_000);
    assert.equal((await p.exited).exitCode, 0, p.output());
    assert.equal((await carol.exited).exitCode, 0, carol.output());
    const t = await b.waitForEvent('TRANSFER', 1000);
    assert.match(String(t.param), new RegExp(`carol@${carolAt}`));
  });

  test('blind transfer: baresip hands our phone over to a third phone', async () => {
    const { b, p, carol, carolAt } = await transferSetup('xferalice');
    await b.transfer(`sip:carol@${carolAt}`);
    await p.waitFor(/transferred: now calling .*carol/, 10_000);
    await carol.waitFor(/^answered|incoming call/, 10_000);
    assert.equal((await carol.exited).exitCode, 0, carol.output());
  });
});
