/**
 * The softphone shows message waiting: `switchboard phone register|listen
 * --server` subscribes to message-summary for its own address and prints
 * `voicemail: N new, M old` for each NOTIFY, subscribed (a raw SIP
 * registrar/notifier here) or unsolicited. Against Switchboard's proxy with
 * no dialplan (so no PBX to serve voicemail), the SUBSCRIBE comes back to
 * the phone itself: it answers 489, and nothing loops or shows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SipMessage } from '../../src/sip/message.js';
import { phoneTracker, type PhoneProcess } from '../helpers/phone.js';
import { RawSipClient, type Received } from '../helpers/raw-sip.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USERS = { '1002': 'B0b-long-pass-88' };
const MWI = 'application/simple-message-summary';
const summary = (n: number, o: number): string => `Messages-Waiting: ${n > 0 ? 'yes' : 'no'}\r\nMessage-Account: sip:*98@127.0.0.1\r\nVoice-Message: ${n}/${o} (0/0)\r\n`;
const isReq = (method: string) => (r: Received): boolean => r.msg.isRequest && r.msg.method === method;

/** The phone's SIP address, from its `phone sip:... on udp:127.0.0.1:PORT` line. */
async function sipAddress(p: PhoneProcess): Promise<string> {
  const line = await p.waitFor(/^phone sip:\S+ on udp:/, 10_000);
  const m = /on udp:(127\.0\.0\.1:\d+)$/.exec(line);
  assert.ok(m, line);
  return m[1];
}

function answer(req: SipMessage, status: number, reason: string, tag: string, extra: [string, string][] = []): SipMessage {
  return SipMessage.response(status, reason, [
    ...req.getAll('via').map((v) => ['Via', v] as [string, string]),
    ['From', req.get('from') ?? ''], ['To', /;tag=/.test(req.get('to') ?? '') ? (req.get('to') ?? '') : `${req.get('to')};tag=${tag}`],
    ['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? ''], ...extra,
  ]);
}

function countLines(out: string, re: RegExp): number {
  return out.split('\n').filter((l) => re.test(l)).length;
}

describe('switchboard phone shows message waiting', { timeout: 90_000 }, () => {
  const phones = phoneTracker();
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ users: USERS });
  });
  after(async () => {
    await phones.stopAll();
    await server.stop();
  });

  test('through our proxy: its own SUBSCRIBE comes back and is refused 489 without a loop; an unsolicited NOTIFY prints the counts', async () => {
    const phone = phones.start(['listen', '--server', server.sip, '--user', '1002', '--password', USERS['1002'], '--trace-sip']);
    const addr = await sipAddress(phone);
    await phone.waitFor(/^registered at/, 10_000);
    // The proxy forks the SUBSCRIBE for sip:1002@127.0.0.1 to 1002's phone: this one.
    await phone.waitFor(/^SIP\/2\.0 489 Bad Event\r?$/, 10_000);
    const raw = await RawSipClient.open();
    try {
      const send = async (body: string, headers: [string, string][] = [['Event', 'message-summary'], ['Content-Type', MWI]]): Promise<number> => {
        const req = raw.request('NOTIFY', 'sip:1002@127.0.0.1', { headers, body });
        raw.send(req, addr);
        return (await raw.finalFor(req)).msg.status;
      };
      assert.equal(await send(summary(1, 0)), 200);
      await phone.waitFor(/^voicemail: 1 new, 0 old$/, 5000);
      assert.equal(await send(summary(2, 3)), 200);
      await phone.waitFor(/^voicemail: 2 new, 3 old$/, 5000);
      // Another package is refused; nothing printed for it.
      assert.equal(await send('<presence/>', [['Event', 'presence'], ['Content-Type', 'application/pidf+xml']]), 489);
    } finally {
      raw.close();
    }
    // The phone's trace of its last answer may still be in the pipe.
    const end = Date.now() + 5000;
    while (countLines(phone.output(), /^SIP\/2\.0 489 Bad Event\r?$/) < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const out = phone.output();
    // One SUBSCRIBE out (and its authenticated retry), one in from the proxy, one 489: no loop.
    assert.equal(countLines(out, /^SUBSCRIBE sip:1002@127\.0\.0\.1/), 3, out);
    assert.equal(countLines(out, /^SIP\/2\.0 489 Bad Event\r?$/), 3, 'our 489, the one the proxy relayed back, and the presence NOTIFY\'s');
    assert.equal(countLines(out, /^voicemail: /), 2);
    await phone.stop();
  });

  test('a subscribed notifier: 200, NOTIFY in the dialog, a later change, unsubscribe on exit', async () => {
    const raw = await RawSipClient.open();
    try {
      const phone = phones.start(['register', '--server', raw.hostPort, '--user', '1002', '--password', USERS['1002']]);
      const addr = await sipAddress(phone);
      const reg = (await raw.waitFor(isReq('REGISTER'), 10_000)).msg;
      raw.send(answer(reg, 200, 'OK', 'reg', [['Contact', `${reg.get('contact')?.replace(/;expires=\d+/, '')};expires=600`]]), addr);
      const sub = (await raw.waitFor(isReq('SUBSCRIBE'), 10_000)).msg;
      assert.equal(sub.uri, 'sip:1002@127.0.0.1');
      assert.equal(sub.get('event'), 'message-summary');
      assert.equal(sub.get('accept'), MWI);
      raw.send(answer(sub, 200, 'OK', 'vm', [['Expires', '600'], ['Contact', `<sip:vm@${raw.hostPort}>`]]), addr);
      const contact = /<([^>]+)>/.exec(sub.get('contact') ?? '')?.[1] ?? '';
      const notify = (cseq: number, state: string, body: string): SipMessage =>
        raw.request('NOTIFY', contact, {
          from: `<sip:1002@127.0.0.1>;tag=vm`, to: sub.get('from'), callId: sub.callId, cseq,
          headers: [['Event', 'message-summary'], ['Subscription-State', state], ['Content-Type', MWI]], body,
        });
      const n1 = notify(1, 'active;expires=600', summary(1, 0));
      raw.send(n1, addr);
      assert.equal((await raw.finalFor(n1)).msg.status, 200);
      await phone.waitFor(/^voicemail: 1 new, 0 old$/, 5000);
      const n2 = notify(2, 'active;expires=590', summary(0, 1));
      raw.send(n2, addr);
      assert.equal((await raw.finalFor(n2)).msg.status, 200);
      await phone.waitFor(/^voicemail: 0 new, 1 old$/, 5000);
      // Ctrl-C: the phone unsubscribes (Expires: 0 in the dialog) and unregisters.
      const stopped = phone.stop();
      const unsub = (await raw.waitFor((r) => isReq('SUBSCRIBE')(r) && r.msg.get('expires') === '0', 5000)).msg;
      assert.equal(unsub.toTag, 'vm');
      // The NOTIFYs' Contact refreshed the target (RFC 6665 §4.1.2.1).
      assert.equal(unsub.uri, `sip:tester@${raw.hostPort}`);
      raw.send(answer(unsub, 200, 'OK', 'vm', [['Expires', '0']]), addr);
      const unreg = (await raw.waitFor(isReq('REGISTER'), 5000)).msg;
      raw.send(answer(unreg, 200, 'OK', 'reg'), addr);
      const exit = await stopped;
      assert.equal(exit.exitCode, 0, exit.stdout + exit.stderr);
      assert.equal(countLines(exit.stdout, /^voicemail: /), 2);
    } finally {
      raw.close();
    }
  });
});
