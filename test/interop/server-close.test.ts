/**
 * Closing a server mid-call leaves nothing behind: no Timer C of a fork still
 * ringing, no transaction timer, no purge or sampler timer (all on the
 * injected clock, so the test can count them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VirtualClock } from '../../src/util/clock.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer } from '../helpers/server.js';

test('a server closed while a call rings leaves no timer running', async () => {
  const clock = new VirtualClock();
  const server = await startTestServer({ clock });
  const bob = await RawSipClient.open();
  const caller = await RawSipClient.open();
  try {
    const reg = bob.request('REGISTER', 'sip:127.0.0.1', {
      from: '<sip:bob@127.0.0.1>;tag=b', to: '<sip:bob@127.0.0.1>', contact: false,
      headers: [['Contact', `<sip:bob@${bob.hostPort}>`], ['Expires', '600']],
    });
    assert.equal((await bob.withAuth(reg, server.sip, { user: 'bob', password: 'B0b-long-pass-88' })).status, 200);
    const invite = caller.request('INVITE', 'sip:bob@127.0.0.1', { from: '<sip:carol@192.0.2.9>;tag=c' });
    caller.send(invite, server.sip);
    const forked = await bob.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE');
    bob.send(server.stack.makeResponse(forked.msg, 180, 'Ringing', [], 'ring'), server.sip);
    await caller.waitFor((r) => !r.msg.isRequest && r.msg.status === 180);
    assert.ok(clock.pending() > 0, 'Timer C and transaction timers run while the call rings');
  } finally {
    caller.close();
    bob.close();
    await server.stop();
  }
  assert.equal(clock.pending(), 0, 'nothing is left on the clock after close');
});
