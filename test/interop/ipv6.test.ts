/** The same registrar and proxy on ::1: IPv6 references in Via, Contact and Record-Route. */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

async function hasIpv6Loopback(): Promise<boolean> {
  const s = dgram.createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '::1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

const skip = (await hasIpv6Loopback()) ? undefined : 'this host has no ::1';
const USERS = { alice: 'Al1ce-long-pass-77', bob: 'B0b-long-pass-88' };

describe('IPv6', { skip, timeout: 30_000 }, () => {
  let server: TestServer;
  let phone: RawSipClient;
  let caller: RawSipClient;

  before(async () => {
    server = await startTestServer({ users: USERS, host: '::1' });
    phone = await RawSipClient.open('::1');
    caller = await RawSipClient.open('::1');
  });
  after(async () => {
    phone?.close();
    caller?.close();
    await server?.stop();
  });

  test('REGISTER over [::1] with digest auth, then a call from alice reaches bob record-routed', async () => {
    const reg = phone.request('REGISTER', 'sip:[::1]', {
      from: '<sip:bob@[::1]>;tag=6a', to: '<sip:bob@[::1]>', contact: false, headers: [['Contact', `<sip:bob@${phone.hostPort}>`]],
    });
    assert.equal((await phone.withAuth(reg, server.sip, { user: 'bob', password: USERS.bob })).status, 200);
    assert.equal(server.status().registrations[0]?.source, phone.hostPort);

    const invite = caller.request('INVITE', 'sip:bob@[::1]', { from: '<sip:alice@[::1]>;tag=6b' });
    const answer = caller.withAuth(invite, server.sip, { user: 'alice', password: USERS.alice });
    const got = await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE');
    assert.equal(got.msg.uri, `sip:bob@${phone.hostPort}`);
    assert.deepEqual(got.msg.getAll('record-route'), [`<sip:${server.sip};lr>`]);
    assert.match(got.msg.getAll('via')[0], new RegExp(`^SIP/2\\.0/UDP \\[::1\\]:${server.endpoints[0].port};branch=`));
    phone.send(server.stack.makeResponse(got.msg, 603, 'Decline', [], 'v6'), server.sip);
    assert.equal((await answer).status, 603);
  });
});
