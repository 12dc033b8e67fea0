/**
 * Timer C (RFC 3261 §16.6 step 11, §16.8) in virtual time: a phone that rings
 * for ever is cancelled by the proxy, and the caller hears 487 — without the
 * test waiting three real minutes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VirtualClock } from '../../src/util/clock.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USERS = { bob: 'B0b-long-pass-88' };

describe('Timer C', { timeout: 30_000 }, () => {
  const clock = new VirtualClock(Date.now());
  let server: TestServer;
  let caller: RawSipClient;
  let phone: RawSipClient;

  before(async () => {
    server = await startTestServer({ users: USERS, clock, sipExtra: '  timer_c: 60' });
    caller = await RawSipClient.open();
    phone = await RawSipClient.open();
    const reg = phone.request('REGISTER', 'sip:127.0.0.1', {
      from: '<sip:bob@127.0.0.1>;tag=t1', to: '<sip:bob@127.0.0.1>', contact: false, headers: [['Contact', `<sip:bob@${phone.hostPort}>`]],
    });
    assert.equal((await phone.withAuth(reg, server.sip, { user: 'bob', password: USERS.bob })).status, 200);
  });
  after(async () => {
    caller?.close();
    phone?.close();
    await server?.stop();
  });

  test('a fork that rings past Timer C is cancelled and the caller gets 487', async () => {
    const invite = caller.request('INVITE', 'sip:bob@127.0.0.1', { from: '<sip:carol@example.org>;tag=c1' });
    caller.send(invite, server.sip);
    const got = await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE');
    phone.send(server.stack.makeResponse(got.msg, 180, 'Ringing', [], 'ring'), server.sip);
    const ringing = await caller.waitFor((r) => !r.msg.isRequest && r.msg.status === 180);
    assert.equal(ringing.msg.callId, invite.callId);

    clock.advance(59_000);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!phone.received.some((r) => r.msg.method === 'CANCEL'), 'no CANCEL before Timer C');

    clock.advance(1_500);
    const cancel = await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'CANCEL');
    assert.equal(cancel.msg.callId, invite.callId);
    assert.equal(cancel.msg.getAll('via').length, 1, "a proxy's CANCEL carries only its own Via");
    assert.equal(cancel.msg.getAll('via')[0], got.msg.getAll('via')[0], 'with the branch of the INVITE it cancels');
    phone.send(server.stack.makeResponse(cancel.msg, 200, 'OK', [], 'ring'), server.sip);
    phone.send(server.stack.makeResponse(got.msg, 487, 'Request Terminated', [], 'ring'), server.sip);

    const final = await caller.finalFor(invite);
    assert.equal(final.msg.status, 487);
  });
});
