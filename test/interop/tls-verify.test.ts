/**
 * Verified TLS, as users meet it: `switchboard phone register --transport tls`
 * against servers whose certificates are self-signed, from our own CA, for
 * another name, or expired (a throwaway PKI made with openssl); the proxy
 * forwarding to a TLS next hop it trusts or not; `sip.tls.verify: false`; and
 * `sip.tls.client_certs: require` refusing clients without a good certificate.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { EXIT } from '../../src/cli/phone/outcome.js';
import { parseMessage } from '../../src/sip/message.js';
import { realClock } from '../../src/util/clock.js';
import { makeTestPki, type CertFiles, type TestPki } from '../helpers/certs.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { phoneTracker } from '../helpers/phone.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startUa, within, type TestUa } from '../helpers/ua.js';

const USERS = { alice: 'Al1ce-tlsv-long-pass-31', tlsgood: 'Tlsg00d-long-pass-32', tlsself: 'Tlss3lf-long-pass-33' };

let dir: string;
let pki: TestPki;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sb-tls-verify-'));
  pki = await makeTestPki(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tlsYaml(lines: string[]): string {
  return ['  tls:', ...lines.map((l) => `    ${l}`)].join('\n');
}

function serverWith(cert: CertFiles, extra: string[] = [], log?: CapturedLog['log']): Promise<TestServer> {
  return startTestServer({ users: USERS, sipExtra: tlsYaml([`cert: ${cert.cert}`, `key: ${cert.key}`, ...extra]), log });
}

describe('switchboard phone register --transport tls verifies the server', { timeout: 120_000 }, () => {
  const servers: Partial<Record<'self' | 'good' | 'wrong' | 'expired', TestServer>> = {};
  const phones = phoneTracker();

  before(async () => {
    [servers.self, servers.good, servers.wrong, servers.expired] = await Promise.all([
      serverWith(pki.selfSigned), serverWith(pki.good), serverWith(pki.wrongName), serverWith(pki.expired),
    ]);
  });
  after(async () => {
    await phones.stopAll();
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  });

  const register = (server: TestServer, ...flags: string[]) =>
    phones.start(['register', '--transport', 'tls', '--server', `127.0.0.1:${server.tlsPort}`, '--user', 'alice', '--password', USERS.alice, ...flags]);

  async function refused(server: TestServer, flags: string[], problem: RegExp, fix: RegExp): Promise<void> {
    const exit = await register(server, ...flags).exited;
    assert.equal(exit.exitCode, EXIT.registrationFailed, exit.stdout + exit.stderr);
    const line = exit.stdout.split('\n').find((l) => l.startsWith('registration failed:')) ?? '';
    assert.match(line, problem, exit.stdout);
    assert.match(line, fix, exit.stdout);
    assert.equal(server.registrar.lookup('alice').length, 0, 'nothing reached the registrar');
  }

  async function registers(server: TestServer, flags: string[]): Promise<string> {
    const p = register(server, ...flags);
    await p.waitFor(/^registered at 127\.0\.0\.1:\d+ as sip:alice@127\.0\.0\.1/, 15_000);
    assert.equal(server.registrar.lookup('alice').length, 1);
    // Printed once Ctrl-C / SIGTERM is handled: stopping now unregisters instead of killing.
    await p.waitFor(/^registered; Ctrl-C/, 5000);
    const t0 = Date.now();
    const exit = await p.stop();
    assert.equal(exit.exitCode, EXIT.ok, `${exit.signal} after ${Date.now() - t0} ms\n${exit.stdout}${exit.stderr}`);
    return exit.stdout;
  }

  test('an untrusted self-signed certificate: exit 8 naming the problem and the fix', async () => {
    await refused(servers.self!, [], /TLS certificate of 127\.0\.0\.1:\d+ rejected: self-signed certificate/, /--ca FILE.*--insecure/);
  });

  test('--ca with the server\'s own certificate: registers', async () => {
    const out = await registers(servers.self!, ['--ca', pki.selfSigned.cert]);
    assert.doesNotMatch(out, /warning/);
  });

  test('--insecure: registers, and says the certificate is not verified', async () => {
    const out = await registers(servers.self!, ['--insecure']);
    assert.match(out, /^warning: --insecure: the server's TLS certificate is not verified/m);
  });

  test('a certificate from a CA we do not know: exit 8; with --ca CA.pem it registers', async () => {
    await refused(servers.good!, [], /rejected: certificate signed by an unknown CA/, /--ca FILE/);
    await registers(servers.good!, ['--ca', pki.ca]);
  });

  test('a certificate for another name, even from a trusted CA: exit 8 naming the mismatch', async () => {
    await refused(servers.wrong!, ['--ca', pki.ca], /rejected: certificate is for other\.example, not 127\.0\.0\.1/, /--insecure/);
  });

  test('an expired certificate from a trusted CA: exit 8 naming the expiry', async () => {
    await refused(servers.expired!, ['--ca', pki.ca], /rejected: certificate has expired \(valid until [^)]+\)/, /--insecure/);
  });

  test('--ca and --insecure go with --transport tls, and not together', async () => {
    const both = await register(servers.self!, '--ca', pki.ca, '--insecure').exited;
    assert.equal(both.exitCode, EXIT.usage, both.stderr);
    assert.match(both.stderr, /--ca and --insecure contradict each other/);
    const udp = await phones.start(['register', '--server', servers.self!.sip, '--user', 'alice', '--password', USERS.alice, '--ca', pki.ca]).exited;
    assert.equal(udp.exitCode, EXIT.usage, udp.stderr);
    assert.match(udp.stderr, /--ca .* use it with --transport tls/);
    const missing = await register(servers.self!, '--ca', path.join(dir, 'missing.pem')).exited;
    assert.equal(missing.exitCode, EXIT.error, missing.stderr);
    assert.match(missing.stderr, /Cannot read the TLS CA file .*missing\.pem/);
  });
});

/** A REGISTER over UDP naming a TLS Contact: the proxy must dial that phone's TLS listener itself. */
async function bindOverTls(server: TestServer, user: keyof typeof USERS, tlsPort: number): Promise<void> {
  const raw = await RawSipClient.open();
  try {
    const req = raw.request('REGISTER', 'sip:127.0.0.1', {
      from: `<sip:${user}@127.0.0.1>;tag=r${tlsPort}`,
      to: `<sip:${user}@127.0.0.1>`,
      contact: false,
      headers: [['Contact', `<sip:${user}@127.0.0.1:${tlsPort};transport=tls>`], ['Expires', '600']],
    });
    const res = await raw.withAuth(req, server.sip, { user, password: USERS[user] });
    assert.equal(res.status, 200, `${res.status} ${res.reason}`);
  } finally {
    raw.close();
  }
}

/** A phone (our own user agent) answering on TLS with a chosen certificate. */
async function tlsCallee(name: string, cert: CertFiles): Promise<TestUa> {
  const callee = await startUa(realClock, name, { listen: 'tls:127.0.0.1:0', tls: { cert: cert.cert, key: cert.key } });
  callee.ua.on('incoming', (call) => {
    call.accept().catch(() => undefined);
  });
  return callee;
}

/** Alice calls `user` through the server; resolves with how the call went. */
async function call(server: TestServer, user: string): Promise<{ answered: boolean; status?: number; reason?: string }> {
  const port = Number(server.sip.slice(server.sip.lastIndexOf(':') + 1));
  const alice = await startUa(realClock, 'alice', { server: { host: '127.0.0.1', port }, password: USERS.alice, domain: undefined });
  try {
    const c = alice.ua.call(user);
    const outcome = await within(
      new Promise<{ answered: boolean; status?: number; reason?: string }>((resolve) => {
        c.once('answered', () => resolve({ answered: true }));
        c.once('ended', (end) => resolve({ answered: false, status: end.status, reason: end.reason }));
      }),
      10_000,
      'call outcome',
    );
    if (outcome.answered) await c.hangup();
    return outcome;
  } finally {
    await alice.ua.close();
  }
}

const certWarnings = (captured: CapturedLog): Record<string, unknown>[] => captured.records().filter((l) => String(l.msg).startsWith('TLS next hop refused'));

describe('the proxy verifies a TLS next hop', { timeout: 120_000 }, () => {
  let server: TestServer;
  let lenient: TestServer;
  const captured = captureLog();
  const lenientLog = captureLog();
  const callees: TestUa[] = [];

  before(async () => {
    server = await startTestServer({ users: USERS, sipExtra: tlsYaml([`ca: [${pki.ca}]`]), log: captured.log });
    lenient = await startTestServer({ users: USERS, sipExtra: tlsYaml(['verify: false']), log: lenientLog.log });
  });
  after(async () => {
    await Promise.all(callees.map((c) => c.ua.close()));
    await server?.stop();
    await lenient?.stop();
  });

  test('a next hop with a certificate from a CA in sip.tls.ca: the call goes through', async () => {
    const callee = await tlsCallee('tlsgood', pki.good);
    callees.push(callee);
    await bindOverTls(server, 'tlsgood', callee.ua.local.port);
    const outcome = await call(server, 'tlsgood');
    assert.deepEqual(outcome, { answered: true });
    assert.equal(certWarnings(captured).length, 0);
  });

  test('an untrusted next hop: 503 naming the certificate problem, logged once', async () => {
    const callee = await tlsCallee('tlsself', pki.selfSigned);
    callees.push(callee);
    await bindOverTls(server, 'tlsself', callee.ua.local.port);
    const outcome = await call(server, 'tlsself');
    assert.equal(outcome.answered, false);
    assert.equal(outcome.status, 503, JSON.stringify(outcome));
    assert.match(outcome.reason ?? '', /^Service Unavailable - TLS certificate of 127\.0\.0\.1:\d+ rejected: self-signed certificate/);
    const warned = certWarnings(captured);
    assert.equal(warned.length, 1, JSON.stringify(captured.records()));
    assert.equal(warned[0].problem, 'self-signed certificate (for sip.test, 127.0.0.1)');
    assert.match(String(warned[0].msg), /sip\.tls\.ca/);
    assert.equal(callee.ua.activeCalls.length, 0, 'the INVITE never reached the untrusted phone');
  });

  test('sip.tls.verify: false lets the untrusted hop in, and the server said so when it started', async () => {
    const started = lenientLog.records().find((l) => /sip\.tls\.verify is false/.test(String(l.msg)));
    assert.ok(started, JSON.stringify(lenientLog.records()));
    assert.equal(started.level, 40, 'a warning');
    const callee = await tlsCallee('tlsself', pki.selfSigned);
    callees.push(callee);
    await bindOverTls(lenient, 'tlsself', callee.ua.local.port);
    assert.deepEqual(await call(lenient, 'tlsself'), { answered: true });
  });
});

describe('sip.tls.client_certs: require', { timeout: 60_000 }, () => {
  let server: TestServer;
  const captured = captureLog();

  before(async () => {
    server = await serverWith(pki.good, [`ca: [${pki.ca}]`, 'client_certs: require'], captured.log);
  });
  after(async () => {
    await server?.stop();
  });

  /** OPTIONS to the server over TLS with this client certificate (or none): its status, or how the connection ended. */
  async function options(cert?: CertFiles): Promise<string> {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: server.tlsPort,
      ca: await readFile(pki.ca, 'utf8'),
      cert: cert ? await readFile(cert.cert, 'utf8') : undefined,
      key: cert ? await readFile(cert.key, 'utf8') : undefined,
    });
    const req = [
      'OPTIONS sip:127.0.0.1 SIP/2.0',
      'Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKcert1;rport',
      'Max-Forwards: 70',
      'From: <sip:probe@127.0.0.1>;tag=c1',
      'To: <sip:127.0.0.1>',
      'Call-ID: cert-probe@test',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return within(
      new Promise<string>((resolve) => {
        let data = '';
        socket.once('secureConnect', () => socket.write(req));
        socket.on('data', (chunk: Buffer) => {
          data += chunk.toString();
          if (data.includes('\r\n\r\n')) {
            resolve(`status ${parseMessage(Buffer.from(data)).status}`);
            socket.destroy();
          }
        });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
        socket.on('close', () => resolve('closed'));
      }),
      5000,
      'an answer or a close',
    );
  }

  test('no client certificate, or one from a stranger: refused, nothing answered, logged', async () => {
    assert.doesNotMatch(await options(), /^status/);
    assert.doesNotMatch(await options(pki.strangerClient), /^status/);
    const refusals = captured.records().filter((l) => String(l.msg).startsWith('TLS client refused'));
    assert.ok(refusals.length >= 1, JSON.stringify(captured.records()));
    assert.match(String(refusals[0].msg), /no client certificate/);
  });

  test('a client certificate signed by the CA in sip.tls.ca: the OPTIONS is answered', async () => {
    assert.equal(await options(pki.client), 'status 200');
  });
});
