/**
 * Bad input at the softphone: an unparsable or unanswerable offer gets 488
 * with a Warning saying why (and the phone keeps answering good calls), a
 * burst of garbage on a call's media port is dropped and counted while the
 * call goes on and still carries its tone, and a --listen port that is taken
 * is refused with what to change.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startPhone, type PhoneProcess } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { mulberry32 } from '../helpers/prng.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { readWav } from '../helpers/wav.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { EXIT } from '../../src/cli/phone/outcome.js';

const GOOD_SDP_NO_COMMON_CODEC = [
  'v=0',
  'o=- 1 1 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 18',
  'a=rtpmap:18 G729/8000',
  '',
].join('\r\n');

describe('switchboard phone and bad input', { timeout: 90_000 }, () => {
  let tmp: string;
  const phones: PhoneProcess[] = [];
  let sip: RawSipClient;
  const phone = (args: string[]): PhoneProcess => {
    const p = startPhone(args);
    phones.push(p);
    return p;
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'sb-phone-bad-'));
    sip = await RawSipClient.open();
  });
  after(async () => {
    sip.close();
    await Promise.all(phones.map((p) => p.stop()));
  });

  test('garbage SDP and an offer with no common codec get 488 with a Warning; a good call still works', async () => {
    const port = await freePort('both');
    const target = `127.0.0.1:${port}`;
    const p = phone(['listen', '--listen', target, '--auto-answer', '--calls', '1', '--duration', '1']);
    await p.waitFor(/waiting for calls/, 10_000);

    const garbage = sip.request('INVITE', `sip:phone@${target}`, {
      headers: [['Content-Type', 'application/sdp']],
      body: 'v=0\r\nthis is not SDP\r\nm=audio banana RTP/AVP 0\r\n',
    });
    sip.send(garbage, target);
    const r1 = (await sip.finalFor(garbage, 5000)).msg;
    assert.equal(r1.status, 488);
    assert.match(r1.get('warning') ?? '', /^3\d\d \S+ ".+"/, 'Warning: code, agent and the reason in quotes');
    await p.waitFor(/rejected a call from .*: 488/, 5000);

    const g729 = sip.request('INVITE', `sip:phone@${target}`, {
      headers: [['Content-Type', 'application/sdp']],
      body: GOOD_SDP_NO_COMMON_CODEC,
    });
    sip.send(g729, target);
    const r2 = (await sip.finalFor(g729, 5000)).msg;
    assert.equal(r2.status, 488);
    assert.match(r2.get('warning') ?? '', /^305 /, 'warn-code 305: incompatible media format');

    // The phone is still up and answers a real call.
    const caller = phone(['call', `sip:phone@${target}`, '--duration', '1']);
    assert.equal((await caller.exited).exitCode, 0, caller.output());
    assert.equal((await p.exited).exitCode, 0, p.output());
  });

  test('a burst of garbage on the media port is dropped and counted; the call and its tone survive', async () => {
    const port = await freePort('both');
    const rec = path.join(tmp, 'heard.wav');
    const callee = phone(['listen', '--listen', `127.0.0.1:${port}`, '--auto-answer', '--calls', '1', '--record', rec, '--play', 'tone:1000']);
    await callee.waitFor(/waiting for calls/, 10_000);
    const caller = phone(['call', `sip:phone@127.0.0.1:${port}`, '--play', 'tone:440', '--duration', '4', '--codec', 'pcmu']);
    const media = await caller.waitFor(/^media: PCMU\/8000 to /, 10_000);
    const m = /to (127\.0\.0\.1):(\d+)/.exec(media);
    assert.ok(m, media);
    const calleeMediaPort = Number(m[2]);

    // 1,000 datagrams from a stranger: random bytes, RTP-looking packets with
    // a bad version or payload type, truncated headers, empty and oversized ones.
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const rnd = mulberry32(7);
    for (let i = 0; i < 1000; i++) {
      const len = [0, 3, 12, 172, 1400][i % 5];
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
      if (len >= 12 && i % 2 === 0) b[0] = 0x80; // looks like RTP version 2
      sock.send(b, calleeMediaPort, '127.0.0.1');
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
    }
    sock.close();

    assert.equal((await caller.exited).exitCode, 0, caller.output());
    const out = (await callee.exited).stdout;
    const dropped = /media: dropped (\d+) datagrams \(([^)]*)\)/.exec(out);
    assert.ok(dropped, `the callee reports what it dropped:\n${out}`);
    assert.ok(Number(dropped[1]) >= 1000, `dropped ${dropped[1]}`);
    const w = await readWav(rec);
    const share = tonePresence(w.samples.subarray(800, w.samples.length - 800), w.sampleRate, 440);
    assert.ok(share >= 0.9, `the callee heard 440 Hz in ${(share * 100).toFixed(1)}% of frames`);
  });

  test('a --listen port already taken: the phone names the address and says to choose another with --listen', async () => {
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(0, '127.0.0.1', r));
    const port = squatter.address().port;
    try {
      const exit = await phone(['listen', '--listen', `127.0.0.1:${port}`]).exited;
      assert.equal(exit.exitCode, EXIT.error, exit.stdout + exit.stderr);
      assert.match(exit.stderr, new RegExp(`udp:127\\.0\\.0\\.1:${port} is already in use`), exit.stderr);
      assert.match(exit.stderr, /--listen 127\.0\.0\.1:0/, exit.stderr);
      assert.doesNotMatch(exit.stderr, /switchboard\.yaml|sip\.listen/, 'no server advice for a phone');
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
  });
});
