/**
 * SIP over TLS with a real peer: Debian's SIPp has no TLS, so it speaks plain
 * TCP to a local relay (test/helpers/tls-relay.ts) that carries each of its
 * connections over its own TLS connection to Switchboard's TLS listener.
 * The callee is a SIPp UAS reached over plain TCP, so every call crosses
 * transports: TLS in, TCP out.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requirePeers } from '../helpers/peers.js';
import { runSipp, startSippUas, writeUsersCsv, type SippResult, type SippTransport } from '../helpers/sipp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTlsRelay, type TlsRelay } from '../helpers/tls-relay.js';

const skip = requirePeers('sipp');
const PASS = { alice: 'Al1ce-tls-long-pass-71', tlsbob: 'Tlsb0b-long-pass-7719', tlsreg: 'Tlsr3g-long-pass-5532' };
const CALLS = 200;

/** SIPp options that send over TCP to the relay while naming the server's TLS port, or straight over TCP. */
function overTlsOf(server: TestServer, relay: TlsRelay, via: 'tls' | 'tcp'): { target: string; transport: SippTransport; extraArgs: string[] } {
  if (via === 'tcp') return { target: server.sip, transport: 't1', extraArgs: [] };
  return { target: `127.0.0.1:${server.tlsPort}`, transport: 't1', extraArgs: ['-rsa', relay.address] };
}

function explain(r: SippResult): string {
  return `exit ${r.exitCode}, ${r.successful} ok, ${r.failed} failed\n${r.errors.slice(-3000)}\n${r.stderr.slice(-1500)}`;
}

describe('SIPp over TLS (through a TCP→TLS relay)', { skip, timeout: 180_000 }, () => {
  let server: TestServer;
  let relay: TlsRelay;
  let tmp: string;
  let callers: string;

  before(async () => {
    server = await startTestServer({ users: PASS });
    relay = await startTlsRelay({ target: { host: '127.0.0.1', port: server.tlsPort } });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sb-tls-'));
    callers = await writeUsersCsv(path.join(tmp, 'callers.csv'), [{ user: 'alice', password: PASS.alice, domain: '127.0.0.1' }]);
  });
  after(async () => {
    await relay?.close();
    await server?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const overTls = (via: 'tls' | 'tcp'): ReturnType<typeof overTlsOf> => overTlsOf(server, relay, via);

  /**
   * One digest-authenticated REGISTER of `user` with Contact `contact`, over
   * TLS through the relay or straight over plain TCP. Through the relay SIPp
   * still addresses the server's TLS port (its Request-URI must name the
   * server, not the relay) and only sends to the relay (-rsa).
   */
  async function register(user: keyof typeof PASS, contact: string, via: 'tls' | 'tcp'): Promise<SippResult> {
    return runSipp({
      scenario: 'register-contact.xml',
      ...overTls(via),
      keys: { user, domain: '127.0.0.1', contact, expires: '3600' },
      authUser: user,
      authPass: PASS[user],
      calls: 1,
      timeoutS: 20,
    });
  }

  test('the server speaks real TLS: the relay completes a handshake', async () => {
    const before = relay.stats();
    const r = await register('tlsreg', '127.0.0.1:5999', 'tls');
    assert.equal(r.successful, 1, `REGISTER over TLS: ${explain(r)}`);
    const after = relay.stats();
    assert.equal(after.handshakes - before.handshakes, 1, 'one TCP connection from SIPp became one TLS connection');
    assert.equal(after.errors, 0);
    assert.ok(Object.keys(after.protocols).every((p) => p === 'TLSv1.2' || p === 'TLSv1.3'), JSON.stringify(after.protocols));
    assert.ok(after.bytesDown > 0 && after.bytesUp > 0);
  });

  test('a REGISTER over TLS shows transport tls in status', async () => {
    const r = await register('tlsreg', '127.0.0.1:5998', 'tls');
    assert.equal(r.successful, 1, explain(r));
    const reg = server.status().registrations.find((b) => b.aor === 'sip:tlsreg@127.0.0.1');
    assert.ok(reg, JSON.stringify(server.status().registrations));
    assert.equal(reg.transport, 'tls', JSON.stringify(reg));
  });

  test(`${CALLS} authenticated calls TLS → proxy → TCP with 0 failures`, async () => {
    const uas = await startSippUas({ scenario: 'uas-answer.xml', transport: 't1', service: 'tlsbob' });
    try {
      // The callee registers over plain TCP: its binding is its UAS, not a relayed flow.
      const bound = await register('tlsbob', `127.0.0.1:${uas.port}`, 'tcp');
      assert.equal(bound.successful, 1, explain(bound));
      const tlsBefore = server.stack.stats().transport;
      const relayBefore = relay.stats();
      const answeredBefore = server.status().calls.answered;

      const r = await runSipp({
        scenario: 'uac-call-auth.xml',
        ...overTls('tls'),
        service: 'tlsbob',
        injectCsv: callers,
        calls: CALLS,
        rate: 100,
        maxConcurrent: 100,
        timeoutS: 90,
      });
      assert.equal(r.failed, 0, explain(r));
      assert.equal(r.successful, CALLS, explain(r));
      assert.equal(server.status().calls.answered - answeredBefore, CALLS, 'every call was counted as answered');

      // SIPp t1 keeps one connection: one more TLS connection accepted by the server.
      const tlsAfter = server.stack.stats().transport;
      const relayAfter = relay.stats();
      assert.equal(relayAfter.handshakes - relayBefore.handshakes, 1);
      assert.ok(tlsAfter.connectionsAccepted - tlsBefore.connectionsAccepted >= 1);

      // Every call's INVITE came in over TLS and left over TCP towards the UAS.
      const calls = server.traces.calls().filter((c) => c.summary.startsWith('INVITE sip:tlsbob@'));
      assert.equal(calls.length, CALLS, 'the recorder kept every call');
      for (const c of calls) {
        const entries = server.traces.get(c.callId);
        const inInvites = entries.filter((e) => e.dir === 'in' && e.sip.method === 'INVITE');
        const outInvites = entries.filter((e) => e.dir === 'out' && e.sip.method === 'INVITE');
        const inBye = entries.find((e) => e.dir === 'in' && e.sip.method === 'BYE');
        assert.ok(inInvites.length === 2 && inInvites.every((e) => e.proto === 'tls'), `${c.callId}: INVITEs in over ${inInvites.map((e) => e.proto)}`);
        assert.ok(outInvites.length >= 1 && outInvites.every((e) => e.proto === 'tcp' && e.remote.port === uas.port), `${c.callId}: INVITE out`);
        assert.equal(inBye?.proto, 'tls', `${c.callId}: the BYE came over TLS`);
      }
    } finally {
      await uas.stop();
    }
  });
});
