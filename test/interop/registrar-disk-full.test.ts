/**
 * The registrar's database on a real 16 MB tmpfs that fills up: REGISTERs
 * that cannot be saved get 500 + Retry-After, the
 * phones registered before keep their bindings and their calls, and the
 * server recovers by itself once the disk is writable again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { mountSmallDisk, requireTmpfs, type SmallDisk } from '../helpers/tmpfs.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';

const skip = requireTmpfs();
const users = { alice: 'Al1ce-long-pass-77', bob: 'B0b-long-pass-88' };

let disk: SmallDisk;
let server: TestServer;
let captured: CapturedLog;
let phone: RawSipClient;

async function register(user: keyof typeof users, cseq: number): Promise<{ status: number; retryAfter?: string }> {
  const req = phone.request('REGISTER', `sip:${server.sip.split(':')[0]}`, {
    from: `<sip:${user}@127.0.0.1>;tag=${user}${cseq}`,
    to: `<sip:${user}@127.0.0.1>`,
    callId: `reg-${user}@test`,
    cseq,
    contact: false,
    headers: [['Contact', `<sip:${user}@${phone.hostPort}>`], ['Expires', '600']],
  });
  const res = await phone.withAuth(req, server.sip, { user, password: users[user] });
  return { status: res.status, retryAfter: res.get('retry-after') };
}

before(async () => {
  if (skip) return;
  disk = mountSmallDisk(16);
  captured = captureLog();
  server = await startTestServer({ users, dataDir: disk.dir, keepData: true, log: captured.log });
  phone = await RawSipClient.open();
});

after(async () => {
  if (skip) return;
  phone?.close();
  await server?.stop();
  disk?.unmount();
});

test('a full disk costs the REGISTERs that cannot be saved, nothing else; freeing it heals', { skip }, async () => {
  assert.equal((await register('alice', 1)).status, 200);

  const filled = disk.fill();
  assert.ok(filled > 1_000_000, `the filler took ${filled} bytes`);
  const refused = await register('bob', 1);
  assert.equal(refused.status, 500, 'bob cannot be saved: 500');
  assert.equal(refused.retryAfter, '5');
  assert.equal((await register('bob', 3)).status, 500, 'and again, while the disk stays full');

  const regs = server.status().registrations.map((r) => r.aor);
  assert.deepEqual(regs, ['sip:alice@127.0.0.1'], 'alice keeps her binding; bob was never acknowledged');
  // A call to alice still finds her phone: the INVITE reaches the contact she registered.
  const invite = phone.request('INVITE', 'sip:alice@127.0.0.1', { from: '<sip:outsider@192.0.2.1>;tag=x' });
  phone.send(invite, server.sip);
  const forwarded = await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE' && r.msg.uri.startsWith('sip:alice@'));
  phone.send(server.stack.makeResponse(forwarded.msg, 486, 'Busy Here', [], 'busy'), server.sip);
  assert.equal((await phone.finalFor(invite)).msg.status, 486, 'the call to alice was routed to her phone');

  const errors = captured.records().filter((r) => r.level === 50 && String(r.msg).includes('cannot be saved'));
  assert.equal(errors.length, 1, 'the failure is logged once, not per REGISTER');
  assert.equal(server.registrar.writeFailures, 2);

  disk.free();
  assert.equal((await register('bob', 5)).status, 200, 'with room again, registrations are saved by themselves');
  assert.ok(captured.records().some((r) => r.msg === 'registrations are saved again'));
  assert.deepEqual(server.status().registrations.map((r) => r.aor).sort(), ['sip:alice@127.0.0.1', 'sip:bob@127.0.0.1']);
  const options = phone.request('OPTIONS', 'sip:127.0.0.1');
  phone.send(options, server.sip);
  assert.equal((await phone.finalFor(options)).msg.status, 200, 'and the server answers as before');
});
