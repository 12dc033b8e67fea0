/**
 * The PBX features a small office uses every day, driven by `switchboard
 * phone` processes against a real server: a ring group where the second
 * phone answers, forward on busy, blind and attended transfer through the
 * PBX (REFER), park and retrieve, the ## feature code, and a queue's
 * abandon and wrap-up figures. Audio is checked by each party's tone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/cli/server.js';
import { heard } from '../helpers/pbx.js';
import { phoneTracker, type PhoneProcess } from '../helpers/phone.js';
import { freePort } from '../helpers/ports.js';
import { requirePeers } from '../helpers/peers.js';

const PW: Record<string, string> = { '2001': 'Ann-long-pass-71', '2002': 'Ben-long-pass-72', '2003': 'Cat-long-pass-73', '2004': 'Dan-long-pass-74', '2005': 'Eve-long-pass-75' };
const TONE: Record<string, number> = { '2001': 440, '2002': 700, '2003': 1100, '2004': 1400, '2005': 1700 };

function yaml(port: number, admin: number, data: string): string {
  return `domain: 127.0.0.1
sip:
  listen: [udp:127.0.0.1:${port}]
admin:
  listen: 127.0.0.1:${admin}
data: ${data}
users:
  "2001": { password: "${PW['2001']}", name: Ann Abbot }
  "2002": { password: "${PW['2002']}", name: Ben Brown, forward: { busy: "2003" } }
  "2003": { password: "${PW['2003']}", name: Cat Cooper }
  "2004": { password: "${PW['2004']}", name: Dan Dunn }
  "2005": { password: "${PW['2005']}", name: Eve Evans, follow_me: "2004" }
queues:
  help: { strategy: ringall, members: ["2004"], timeout: 10, max_wait: 30, wrap_up: 4 }
dialplan:
  internal:
    include: [parkedcalls]
    "_2XXX":
      - dial: { to: "\${EXTEN}", timeout: 15 }
    "300":
      - dial: { to: ["2001", "2003"], timeout: 15 }
    "400":
      - enqueue: help
    "600":
      - answer
      - record: { max_length: 3, timeout: 0, play_beep: true, var: MSG }
      - play: "\${MSG}"
`;
}

describe('PBX features with switchboard phone', { timeout: 400_000 }, () => {
  let server: RunningServer;
  let sip: string;
  let dir: string;
  const phones = phoneTracker();
  const account = (u: string): string[] => ['--server', sip, '--user', u, '--password', PW[u]];
  const rec = (name: string): string => path.join(dir, `${name}.wav`);
  /** A registered phone that answers at once, sending its own tone. */
  const answering = async (u: string, name: string, extra: string[] = []): Promise<PhoneProcess> => {
    const p = phones.start(['listen', ...account(u), '--auto-answer', '--play', `tone:${TONE[u]}`, '--record', rec(name), ...extra]);
    await p.waitFor(/^registered at/, 15_000);
    return p;
  };

  before(async () => {
    requirePeers('espeak-ng');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sb-pbx-features-'));
    const port = await freePort('udp');
    sip = `127.0.0.1:${port}`;
    server = await startServer(parseConfig(yaml(port, await freePort('tcp'), dir), 'switchboard.yaml'));
  });
  after(async () => {
    await phones.stopAll();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('ring group 300: 2001 does not answer, 2003 does; the caller talks to 2003', async () => {
    const ann = phones.start(['listen', ...account('2001'), '--play', 'tone:440']);
    await ann.waitFor(/^registered at/, 15_000);
    const cat = await answering('2003', 'rg-cat', ['--calls', '1']);
    const dan = phones.start(['call', '300', ...account('2004'), '--play', `tone:${TONE['2004']}`, '--record', rec('rg-dan'), '--duration', '5']);
    await ann.waitFor(/^incoming call/, 15_000);
    assert.equal((await dan.exited).exitCode, 0, dan.output());
    await cat.exited;
    assert.ok((await heard(rec('rg-dan'), TONE['2003'], 1)) >= 0.8, 'the caller heard 2003');
    assert.ok((await heard(rec('rg-cat'), TONE['2004'], 1)) >= 0.8, '2003 heard the caller');
    await ann.stop();
  });

  test('forward on busy: 2002 rejects with 486, the call goes to 2003', async () => {
    const ben = phones.start(['listen', ...account('2002')]);
    await ben.waitFor(/^registered at/, 15_000);
    const cat = await answering('2003', 'fwd-cat', ['--calls', '1']);
    const ann = phones.start(['call', '2002', ...account('2001'), '--play', `tone:${TONE['2001']}`, '--record', rec('fwd-ann'), '--duration', '4']);
    await ben.waitFor(/^incoming call/, 15_000);
    ben.send('reject');
    assert.equal((await ann.exited).exitCode, 0, ann.output());
    await cat.exited;
    assert.ok((await heard(rec('fwd-ann'), TONE['2003'], 1)) >= 0.8, 'the caller reached 2003');
    await ben.stop();
  });

  test('blind transfer through the PBX: 2001 calls 2002 and transfers it to 2003', async () => {
    const ben = await answering('2002', 'blind-ben', ['--calls', '1']);
    const cat = await answering('2003', 'blind-cat', ['--calls', '1', '--duration', '4']);
    const ann = phones.start(['call', '2002', ...account('2001'), '--play', `tone:${TONE['2001']}`]);
    await ann.waitFor(/^answered/, 15_000);
    ann.send('transfer sip:2003@127.0.0.1');
    assert.equal((await ann.exited).exitCode, 0, ann.output());
    await cat.exited;
    await ben.exited;
    assert.ok((await heard(rec('blind-cat'), TONE['2002'], 1)) >= 0.8, '2003 talks to 2002 after the transfer');
  });

  test('attended transfer through the PBX: 2001 consults 2003, then 2002 talks to 2003', async () => {
    const ben = await answering('2002', 'att-ben', ['--calls', '1']);
    const cat = await answering('2003', 'att-cat', ['--calls', '1', '--duration', '8']);
    const ann = phones.start(['call', '2002', ...account('2001'), '--play', `tone:${TONE['2001']}`]);
    await ann.waitFor(/^answered/, 15_000);
    ann.send('attended sip:2003@127.0.0.1');
    await ann.waitFor(/attended transfer done/, 20_000);
    await cat.exited;
    await ben.exited;
    // The last seconds of 2003's call are with 2002.
    assert.ok((await heard(rec('att-cat'), TONE['2002'], 5, 7.5)) >= 0.8, '2003 hears 2002 after the transfer');
  });

  test('park and retrieve: 2001 transfers 2002 to 700, 2003 dials 701 and talks to 2002', async () => {
    const ben = await answering('2002', 'park-ben', ['--calls', '1']);
    const ann = phones.start(['call', '2002', ...account('2001'), '--play', `tone:${TONE['2001']}`]);
    await ann.waitFor(/^answered/, 15_000);
    ann.send('transfer sip:700@127.0.0.1');
    assert.equal((await ann.exited).exitCode, 0, ann.output());
    const deadline = Date.now() + 15_000;
    while (server.pbx?.lot.list().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(server.pbx?.lot.list().map((p) => p.slot), [701], 'parked in 701');
    const cat = phones.start(['call', '701', ...account('2003'), '--play', `tone:${TONE['2003']}`, '--record', rec('park-cat'), '--duration', '4']);
    assert.equal((await cat.exited).exitCode, 0, cat.output());
    await ben.exited;
    assert.ok((await heard(rec('park-cat'), TONE['2002'], 1)) >= 0.8, '2003 talks to the parked 2002');
    assert.equal(server.pbx?.lot.list().length, 0);
  });

  test('## then a number transfers the other party (feature code)', async () => {
    const ben = await answering('2002', 'keys-ben', ['--calls', '1']);
    const cat = await answering('2003', 'keys-cat', ['--calls', '1', '--duration', '4']);
    const ann = phones.start(['call', '2002', ...account('2001'), '--play', `tone:${TONE['2001']}`]);
    await ann.waitFor(/^answered/, 15_000);
    ann.send('dtmf ##2003#');
    await cat.exited;
    await ben.exited;
    assert.ok((await heard(rec('keys-cat'), TONE['2002'], 1)) >= 0.8, '2003 talks to 2002 after ##2003#');
    await ann.stop();
  });

  test('follow-me: 2005 does not answer; after half the ring time its follow-me 2004 rings and answers', async () => {
    const eve = phones.start(['listen', ...account('2005')]);
    await eve.waitFor(/^registered at/, 15_000);
    const dan = await answering('2004', 'follow-dan', ['--calls', '1']);
    const ann = phones.start(['call', '2005', ...account('2001'), '--play', `tone:${TONE['2001']}`, '--record', rec('follow-ann'), '--duration', '4']);
    await eve.waitFor(/^incoming call/, 15_000);
    assert.equal((await ann.exited).exitCode, 0, ann.output());
    await dan.exited;
    assert.ok((await heard(rec('follow-ann'), TONE['2004'], 1)) >= 0.8, 'the caller reached the follow-me number');
    await eve.stop();
  });

  test('record: the caller is recorded for 3 s and hears the recording played back', async () => {
    const ann = phones.start(['call', '600', ...account('2001'), '--play', `tone:${TONE['2001']}`, '--record', rec('record-ann'), '--duration', '7']);
    assert.equal((await ann.exited).exitCode, 0, ann.output());
    // The phone writes only what it receives: the beep, then (the PBX silent while it records) the playback.
    assert.ok((await heard(rec('record-ann'), TONE['2001'], 0.5)) >= 0.7, 'the recording played back holds the caller\'s tone');
  });

  test('queue figures: an abandoned caller counts, a member in wrap-up is not offered the next call', async () => {
    const q = server.pbx?.queues.get('help');
    assert.ok(q);
    // Nobody to take it: the caller gives up after 3 s.
    const first = phones.start(['call', '400', ...account('2001'), '--duration', '3']);
    assert.equal((await first.exited).exitCode, 0, first.output());
    assert.equal(q.figures().abandoned, 1);

    const dan = await answering('2004', 'queue-dan', ['--calls', '2', '--duration', '2']);
    const second = phones.start(['call', '400', ...account('2001'), '--duration', '6']);
    await dan.waitFor(/^answered/, 15_000);
    await second.exited;
    // 2004 hung up after 2 s and is in wrap-up (4 s): a caller now waits that long.
    const t0 = Date.now();
    const third = phones.start(['call', '400', ...account('2003'), '--duration', '10']);
    await third.waitFor(/^answered/, 15_000);
    const out = dan.output();
    const waitUntil = Date.now() + 15_000;
    while ((dan.output().match(/^answered/gm) ?? []).length < 2 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 100));
    const waited = Date.now() - t0;
    assert.ok(waited >= 2500, `the member was offered the call only after wrap-up (${waited} ms; ${out})`);
    await third.exited;
    const f = q.figures();
    assert.equal(f.answered, 2);
    assert.equal(f.abandoned, 1);
    assert.ok(f.averageWait > 0);
  });
});
