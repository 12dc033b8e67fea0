/**
 * SIPp UAC → Switchboard → SIPp UAS on 127.0.0.1: digest-authenticated
 * registration, bulk calls over UDP and TCP, CANCEL, 486 and forking.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requirePeers } from '../helpers/peers.js';
import { runSipp, startSippUas, writeUsersCsv, type SippResult, type SippTransport } from '../helpers/sipp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';

const skip = requirePeers('sipp');
// One callee per test, so a phone bound (and stopped) by an earlier test is not rung again.
const PASS = {
  alice: 'Al1ce-long-pass-77', bob: 'B0b-long-pass-88', tcpbob: 'Tcpb0b-long-pass-1', busy: 'Bz-long-pass-22x',
  ringer: 'Rg-long-pass-33x', carol: 'C4rol-long-pass-99', dave: 'D4ve-long-pass-00',
};

function explain(r: SippResult): string {
  return `exit ${r.exitCode}, ${r.successful} ok, ${r.failed} failed\n${r.errors.slice(-3000)}\n${r.stderr.slice(-1500)}`;
}

describe('SIPp through the proxy', { skip, timeout: 240_000 }, () => {
  let server: TestServer;
  let tmp: string;
  let callers: string;

  before(async () => {
    server = await startTestServer({ users: PASS });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sb-sipp-'));
    callers = await writeUsersCsv(path.join(tmp, 'callers.csv'), [{ user: 'alice', password: PASS.alice, domain: '127.0.0.1' }]);
  });
  after(async () => {
    await server?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Points `user` at a SIPp UAS with a digest-authenticated REGISTER (expires 0 removes it). */
  async function bind(user: keyof typeof PASS, uasPort: number, transport: SippTransport = 'u1', expires = 3600): Promise<void> {
    const r = await runSipp({
      scenario: 'register-contact.xml',
      target: server.sip,
      transport,
      keys: { user, domain: '127.0.0.1', contact: `127.0.0.1:${uasPort}`, expires: String(expires) },
      authUser: user,
      authPass: PASS[user],
      calls: 1,
      timeoutS: 20,
    });
    assert.equal(r.successful, 1, `REGISTER of ${user}: ${explain(r)}`);
  }

  test('REGISTER with digest auth; a wrong password is refused', async () => {
    const users = path.join(tmp, 'reg.csv');
    await writeUsersCsv(users, [
      { user: 'alice', password: PASS.alice, domain: '127.0.0.1' },
      { user: 'bob', password: PASS.bob, domain: '127.0.0.1' },
    ]);
    const ok = await runSipp({ scenario: 'register-auth.xml', target: server.sip, transport: 'u1', injectCsv: users, calls: 2, timeoutS: 20 });
    assert.equal(ok.successful, 2, explain(ok));
    const regs = server.status().registrations.map((r) => r.aor).sort();
    assert.deepEqual(regs, ['sip:alice@127.0.0.1', 'sip:bob@127.0.0.1']);

    const badCsv = path.join(tmp, 'bad.csv');
    await writeUsersCsv(badCsv, [{ user: 'carol', password: 'not-her-password', domain: '127.0.0.1' }]);
    const bad = await runSipp({ scenario: 'register-auth.xml', target: server.sip, transport: 'u1', injectCsv: badCsv, calls: 1, timeoutS: 20, recvTimeoutMs: 3000 });
    assert.equal(bad.successful, 0, 'a wrong password must not register');
    assert.ok(!server.status().registrations.some((r) => r.aor.includes('carol')));
  });

  for (const [transport, calls, rate, callee] of [['u1', 1000, 200, 'bob'], ['t1', 300, 100, 'tcpbob']] as const) {
    test(`${calls} authenticated calls over ${transport === 'u1' ? 'UDP' : 'TCP'} with 0 failures`, async () => {
      const uas = await startSippUas({ scenario: 'uas-answer.xml', transport, service: callee });
      try {
        await bind(callee, uas.port, transport);
        const before = server.status().calls.answered;
        const r = await runSipp({
          scenario: 'uac-call-auth.xml',
          target: server.sip,
          transport,
          service: callee,
          injectCsv: callers,
          calls,
          rate,
          maxConcurrent: 200,
          timeoutS: 120,
        });
        assert.equal(r.failed, 0, explain(r));
        assert.equal(r.successful, calls, explain(r));
        assert.equal(server.status().calls.answered - before, calls, 'every call was counted as answered');
      } finally {
        await uas.stop();
      }
    });
  }

  test('a 486 Busy Here from the callee reaches the caller', async () => {
    const uas = await startSippUas({ scenario: 'uas-busy.xml', service: 'busy' });
    try {
      await bind('busy', uas.port);
      const r = await runSipp({ scenario: 'uac-call-expect-486.xml', target: server.sip, transport: 'u1', service: 'busy', injectCsv: callers, calls: 3, timeoutS: 30 });
      assert.equal(r.successful, 3, explain(r));
    } finally {
      await uas.stop();
    }
  });

  test('CANCEL before answer reaches the ringing phone and the caller gets 487', async () => {
    const uas = await startSippUas({ scenario: 'uas-ring-then-cancel.xml', service: 'ringer' });
    try {
      await bind('ringer', uas.port);
      const r = await runSipp({ scenario: 'uac-cancel.xml', target: server.sip, transport: 'u1', service: 'ringer', injectCsv: callers, calls: 3, timeoutS: 30 });
      assert.equal(r.successful, 3, explain(r));
      const u = await uas.stop();
      assert.equal(u.successful, 3, `the UAS saw CANCEL and sent 487: ${explain(u)}`);
    } finally {
      await uas.stop().catch(() => undefined);
    }
  });

  test('forking: two phones ring, one answers, the other is cancelled', async () => {
    const answering = await startSippUas({ scenario: 'uas-answer.xml', service: 'carol' });
    const losing = await startSippUas({ scenario: 'uas-ring-then-cancel.xml', service: 'carol' });
    try {
      await bind('carol', answering.port);
      await bind('carol', losing.port);
      assert.equal(server.registrar.lookup('carol').length, 2);
      const r = await runSipp({ scenario: 'uac-call-auth.xml', target: server.sip, transport: 'u1', service: 'carol', injectCsv: callers, calls: 2, rate: 1, timeoutS: 40 });
      assert.equal(r.successful, 2, explain(r));
      const lost = await losing.stop();
      assert.equal(lost.successful, 2, `the losing phone got CANCEL: ${explain(lost)}`);
      const won = await answering.stop();
      assert.equal(won.successful, 2, explain(won));
    } finally {
      await answering.stop().catch(() => undefined);
      await losing.stop().catch(() => undefined);
    }
  });

  test('404 for an unknown user, 480 for a known user with no phone', async () => {
    const r404 = await runSipp({
      scenario: 'uac-call-expect-486.xml', target: server.sip, transport: 'u1', service: 'nobody', injectCsv: callers, calls: 1, timeoutS: 15, recvTimeoutMs: 3000, traceMessages: true,
    });
    assert.match(r404.messages, /SIP\/2\.0 404 Not Found/);
    const r480 = await runSipp({
      scenario: 'uac-call-expect-486.xml', target: server.sip, transport: 'u1', service: 'dave', injectCsv: callers, calls: 1, timeoutS: 15, recvTimeoutMs: 3000, traceMessages: true,
    });
    assert.match(r480.messages, /SIP\/2\.0 480 Temporarily Unavailable/, 'dave exists but has no phone registered');
  });
});
