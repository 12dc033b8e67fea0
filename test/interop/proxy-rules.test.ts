/**
 * The proxy's routing rules, checked with exact messages from raw UDP
 * endpoints against a real server: authentication, relaying, loops,
 * Max-Forwards, Record-Route and loose routing, NAT.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseNameAddr } from '../../src/sip/headers.js';
import type { SipMessage } from '../../src/sip/message.js';
import net from 'node:net';
import { buildAuthorization } from '../../src/sip/auth/index.js';
import { parseMessage, SipMessage as Msg } from '../../src/sip/message.js';
import { StreamFramer } from '../../src/sip/transport/framer.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USERS = {
  alice: 'Al1ce-long-pass-77', bob: 'B0b-long-pass-88', looper: 'L00per-long-pass-5', natbob: 'N4tbob-long-pass-6', tcpgone: 'Tcpg0ne-long-pass-7',
};

describe('proxy routing rules', { timeout: 60_000 }, () => {
  let server: TestServer;
  let caller: RawSipClient;
  let callee: RawSipClient;
  let target: string;

  before(async () => {
    server = await startTestServer({ users: USERS });
    target = server.sip;
    caller = await RawSipClient.open();
    callee = await RawSipClient.open();
    const reg = callee.request('REGISTER', 'sip:127.0.0.1', {
      from: '<sip:bob@127.0.0.1>;tag=r1', to: '<sip:bob@127.0.0.1>', contact: false, headers: [['Contact', `<sip:bob@${callee.hostPort}>`]],
    });
    const res = await callee.withAuth(reg, target, { user: 'bob', password: USERS.bob });
    assert.equal(res.status, 200);
  });
  after(async () => {
    caller?.close();
    callee?.close();
    await server?.stop();
  });

  test('OPTIONS to the server is answered 200 with Allow', async () => {
    const req = caller.request('OPTIONS', `sip:${target}`);
    caller.send(req, target);
    const { msg } = await caller.finalFor(req);
    assert.equal(msg.status, 200);
    assert.match(msg.getAll('allow').join(', '), /INVITE.*REGISTER/);
  });

  test('Max-Forwards: 0 gets 483 Too Many Hops', async () => {
    const req = caller.request('INVITE', 'sip:bob@127.0.0.1', { maxForwards: 0, from: '<sip:carol@example.org>;tag=x' });
    caller.send(req, target);
    assert.equal((await caller.finalFor(req)).msg.status, 483);
  });

  test('a caller claiming a local user must authenticate; unknown user and wrong password look the same', async () => {
    const answers: SipMessage[] = [];
    for (const [user, password] of [['alice', 'wrong-password-1'], ['mallory', 'whatever-password']]) {
      const req = caller.request('INVITE', 'sip:bob@127.0.0.1', { from: `<sip:${user}@127.0.0.1>;tag=a1` });
      answers.push(await caller.withAuth(req, target, { user, password }));
    }
    const shape = (m: SipMessage): string => `${m.status} ${m.reason} ${m.getAll('proxy-authenticate').map((h) => h.replace(/nonce="[^"]+"/, 'nonce')).join('|')}`;
    assert.equal(answers[0].status, 407);
    assert.equal(shape(answers[0]), shape(answers[1]));
    assert.equal(server.registrar.lookup('bob').length, 1, 'nothing reached bob');
  });

  test('credentials of one user cannot be used with another user in From', async () => {
    const req = caller.request('INVITE', 'sip:bob@127.0.0.1', { from: '<sip:looper@127.0.0.1>;tag=a2' });
    const res = await caller.withAuth(req, target, { user: 'alice', password: USERS.alice });
    assert.equal(res.status, 403);
  });

  test('outside to outside is not relayed; REGISTER of another user is refused', async () => {
    const relay = caller.request('INVITE', 'sip:someone@example.net', { from: '<sip:carol@example.org>;tag=x' });
    caller.send(relay, target);
    assert.equal((await caller.finalFor(relay)).msg.status, 403);
    const reg = caller.request('REGISTER', 'sip:127.0.0.1', { from: '<sip:bob@127.0.0.1>;tag=r', to: '<sip:bob@127.0.0.1>' });
    assert.equal((await caller.withAuth(reg, target, { user: 'alice', password: USERS.alice })).status, 403);
  });

  test('a call is record-routed: ACK and BYE go through the proxy to the callee, dialogs are counted', async () => {
    const invite = caller.request('INVITE', 'sip:bob@127.0.0.1', { from: '<sip:carol@example.org>;tag=c1' });
    caller.send(invite, target);
    const inAtCallee = await callee.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE' && r.msg.callId === invite.callId);
    const rr = inAtCallee.msg.getAll('record-route');
    assert.equal(rr.length, 1);
    assert.match(rr[0], new RegExp(`<sip:${target.replace(/\./g, '\\.')};lr>`));
    assert.equal(inAtCallee.msg.getAll('via').length, 2, 'the proxy added its Via on top');
    assert.equal(inAtCallee.msg.get('max-forwards'), '69');
    assert.equal(inAtCallee.msg.uri, `sip:bob@${callee.hostPort}`);

    const ok = server.stack.makeResponse(inAtCallee.msg, 200, 'OK', [['Contact', `<sip:bob@${callee.hostPort}>`]], 'calleetag');
    for (const r of rr) ok.add('Record-Route', r);
    callee.send(ok, target);
    const okAtCaller = (await caller.finalFor(invite)).msg;
    assert.equal(okAtCaller.status, 200);
    assert.equal(okAtCaller.getAll('via').length, 1, 'the proxy removed its own Via');
    assert.equal(server.status().dialogs.length, 1);

    // The caller's route set is the Record-Route of the 200, its remote target the callee's Contact.
    const route = okAtCaller.getAll('record-route').reverse();
    const remote = parseNameAddr(okAtCaller.get('contact') ?? '').uri;
    const ack = caller.request('ACK', remote, { callId: invite.callId, from: invite.get('from'), to: okAtCaller.get('to'), headers: route.map((r) => ['Route', r]) });
    caller.send(ack, target);
    const ackAtCallee = await callee.waitFor((r) => r.msg.isRequest && r.msg.method === 'ACK' && r.msg.callId === invite.callId);
    assert.equal(ackAtCallee.msg.getAll('route').length, 0, 'the proxy consumed its own Route');

    const bye = caller.request('BYE', remote, { callId: invite.callId, cseq: 2, from: invite.get('from'), to: okAtCaller.get('to'), headers: route.map((r) => ['Route', r]) });
    caller.send(bye, target);
    const byeAtCallee = await callee.waitFor((r) => r.msg.isRequest && r.msg.method === 'BYE' && r.msg.callId === invite.callId);
    callee.send(server.stack.makeResponse(byeAtCallee.msg, 200, 'OK'), target);
    assert.equal((await caller.finalFor(bye)).msg.status, 200);
    assert.equal(server.status().dialogs.length, 0);
  });

  test('a phone behind NAT is reached where its REGISTER came from, for the INVITE and for in-dialog requests', async () => {
    const phone = await RawSipClient.open();
    try {
      // The phone believes it is 127.0.0.99:5060 (its "private" address); the packets come from phone.port.
      const privateAddr = '127.0.0.99:5060';
      const reg = phone.request('REGISTER', 'sip:127.0.0.1', {
        from: '<sip:natbob@127.0.0.1>;tag=n1', to: '<sip:natbob@127.0.0.1>', contact: false, headers: [['Contact', `<sip:natbob@${privateAddr}>`]],
      });
      reg.set('Via', `SIP/2.0/UDP ${privateAddr};branch=z9hG4bKnat1;rport`);
      const regOk = await phone.withAuth(reg, target, { user: 'natbob', password: USERS.natbob });
      assert.equal(regOk.status, 200);
      assert.equal(server.status().registrations.find((r) => r.aor.includes('natbob'))?.source, phone.hostPort);

      const invite = caller.request('INVITE', 'sip:natbob@127.0.0.1', { from: '<sip:carol@example.org>;tag=c2' });
      caller.send(invite, target);
      const got = await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE');
      assert.equal(got.msg.uri, `sip:natbob@${privateAddr}`, 'the Request-URI stays the registered Contact');
      phone.send(server.stack.makeResponse(got.msg, 486, 'Busy Here', [], 'nt'), target);
      assert.equal((await caller.finalFor(invite)).msg.status, 486);

      // A request sent to the phone's private Contact still reaches it.
      const msg = caller.request('MESSAGE', `sip:natbob@${privateAddr}`, { from: '<sip:carol@example.org>;tag=c3', to: '<sip:natbob@127.0.0.1>;tag=nt', body: 'hi' });
      msg.set('Route', `<sip:${target};lr>`);
      caller.send(msg, target);
      const m = await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'MESSAGE');
      assert.equal(m.msg.body.toString(), 'hi');
    } finally {
      phone.close();
    }
  });

  test('a request that comes back unchanged is a loop (482); a spiral is not', async () => {
    // looper's only phone is the server itself: the INVITE spirals once (new Request-URI), then loops.
    const reg = caller.request('REGISTER', 'sip:127.0.0.1', {
      from: '<sip:looper@127.0.0.1>;tag=l1', to: '<sip:looper@127.0.0.1>', contact: false, headers: [['Contact', `<sip:looper@${target}>`]],
    });
    assert.equal((await caller.withAuth(reg, target, { user: 'looper', password: USERS.looper })).status, 200);
    const invite = caller.request('INVITE', 'sip:looper@127.0.0.1', { from: '<sip:carol@example.org>;tag=c4' });
    caller.send(invite, target);
    const res = (await caller.finalFor(invite, 5000)).msg;
    assert.equal(res.status, 482);
  });

  test('a phone registered over TCP that has gone away: the caller hears 500 at once, not after 32 s', async () => {
    const [host, port] = [target.split(':')[0], Number(target.split(':')[1])];
    const sock = net.connect(port, host);
    await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
    const local = `${sock.localAddress}:${sock.localPort}`;
    const replies: Msg[] = [];
    const framer = new StreamFramer({ message: (b) => replies.push(parseMessage(b, { datagram: false })), ping: () => undefined, error: () => undefined });
    sock.on('data', (d) => framer.push(d));
    const next = async (): Promise<Msg> => {
      for (let i = 0; i < 60 && replies.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      const m = replies.shift();
      assert.ok(m, 'a reply over TCP');
      return m;
    };
    const register = (cseq: number, auth?: string): Msg => {
      const m = Msg.request('REGISTER', 'sip:127.0.0.1', [
        ['Via', `SIP/2.0/TCP ${local};branch=z9hG4bKtcpgone${cseq}`], ['Max-Forwards', '70'],
        ['From', '<sip:tcpgone@127.0.0.1>;tag=tg'], ['To', '<sip:tcpgone@127.0.0.1>'], ['Call-ID', 'tcpgone-reg'],
        ['CSeq', `${cseq} REGISTER`], ['Contact', `<sip:tcpgone@${local};transport=tcp>`],
      ]);
      if (auth) m.set('Authorization', auth);
      return m;
    };
    sock.write(register(1).toBuffer());
    const challenge = await next();
    assert.equal(challenge.status, 401);
    const auth = buildAuthorization(challenge.get('www-authenticate') ?? '', { user: 'tcpgone', password: USERS.tcpgone }, 'REGISTER', 'sip:127.0.0.1', 1);
    sock.write(register(2, auth).toBuffer());
    assert.equal((await next()).status, 200);
    assert.equal(server.status().registrations.find((r) => r.aor.includes('tcpgone'))?.transport, 'tcp');
    sock.destroy();
    await new Promise((r) => setTimeout(r, 100));

    const started = Date.now();
    const invite = caller.request('INVITE', 'sip:tcpgone@127.0.0.1', { from: '<sip:carol@example.org>;tag=c5' });
    caller.send(invite, target);
    const final = (await caller.finalFor(invite, 5000)).msg;
    // RFC 3261 §16.9: a transport error counts as a 503, which §16.7 turns into a 500 upstream.
    assert.equal(final.status, 500);
    assert.ok(Date.now() - started < 3000, `answered after ${Date.now() - started} ms`);
  });
});
