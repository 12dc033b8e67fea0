/**
 * `switchboard phone` with a registrar: Switchboard's own (register, call
 * a registered user through the proxy, a wrong password) and Kamailio 5.6
 * with digest auth (register, refresh before expiry, unregister on exit).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startKamailioRegistrar, type KamailioRegistrar } from '../helpers/kamailio.js';
import { requirePeers } from '../helpers/peers.js';
import { phoneTracker } from '../helpers/phone.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { readWav } from '../helpers/wav.js';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { EXIT } from '../../src/cli/phone/outcome.js';
import { CERT_FILE_NAME } from '../../src/sip/transport/index.js';

const USERS = { alice: 'Al1ce-phone-long-pass-61', bob: 'B0b-phone-long-pass-62' };

describe('switchboard phone registers and calls through Switchboard', { timeout: 120_000 }, () => {
  let server: TestServer;
  let tmp: string;
  const phones = phoneTracker();
  const phone = phones.start;

  before(async () => {
    server = await startTestServer({ users: USERS });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'sb-phone-reg-'));
  });
  after(async () => {
    await phones.stopAll();
    await server.stop();
  });

  test('bob registers, alice calls "bob" through the proxy, both hear each other', async () => {
    const bobRec = path.join(tmp, 'bob.wav');
    const aliceRec = path.join(tmp, 'alice.wav');
    const bob = phone(['listen', '--server', server.sip, '--user', 'bob', '--password', USERS.bob, '--auto-answer', '--calls', '1', '--play', 'tone:1000', '--record', bobRec]);
    const registered = await bob.waitFor(/^registered at/, 10_000);
    assert.match(registered, /as sip:bob@127\.0\.0\.1 for \d+ s/);
    const alice = phone(['call', 'bob', '--server', server.sip, '--user', 'alice', '--password', USERS.alice, '--play', 'tone:440', '--record', aliceRec, '--duration', '3', '--codec', 'pcma']);
    const exit = await alice.exited;
    assert.equal(exit.exitCode, EXIT.ok, exit.stdout + exit.stderr);
    assert.match(exit.stdout, /via 127\.0\.0\.1:\d+/);
    assert.equal((await bob.exited).exitCode, EXIT.ok, bob.output());
    const share = async (f: string, hz: number) => {
      const w = await readWav(f);
      return tonePresence(w.samples.subarray(800, w.samples.length - 800), w.sampleRate, hz);
    };
    assert.ok((await share(aliceRec, 1000)) >= 0.9, 'alice heard bob');
    assert.ok((await share(bobRec, 440)) >= 0.9, 'bob heard alice');
  });

  test('over TCP: register, call through the proxy on the registered connection, BYE', async () => {
    const bob = phone(['listen', '--transport', 'tcp', '--server', server.sip, '--user', 'bob', '--password', USERS.bob, '--auto-answer', '--calls', '1', '--trace-sip']);
    await bob.waitFor(/^registered at/, 10_000);
    const alice = phone(['call', 'bob', '--transport', 'tcp', '--server', server.sip, '--user', 'alice', '--password', USERS.alice, '--duration', '2']);
    const ea = await alice.exited;
    assert.equal(ea.exitCode, EXIT.ok, ea.stdout + ea.stderr);
    assert.match(ea.stdout, /on tcp:127\.0\.0\.1:\d+/);
    const eb = await bob.exited;
    assert.equal(eb.exitCode, EXIT.ok, eb.stdout);
    assert.match(eb.stdout, /^INVITE sip:bob@[^\s]+;transport=tcp SIP\/2\.0$/m, 'the INVITE reached bob over TCP');
    assert.doesNotMatch(eb.stdout, /SIP\/2\.0\/UDP/, 'no UDP at all');
  });

  test('over TLS with SRTP: register on the TLS port, call, media encrypted with keys that never crossed in clear', async () => {
    const tls = `127.0.0.1:${server.tlsPort}`;
    // The phones verify the server: they trust its self-signed certificate from its data directory.
    const ca = path.join(server.dataDir, CERT_FILE_NAME);
    const bob = phone(['listen', '--transport', 'tls', '--server', tls, '--ca', ca, '--user', 'bob', '--password', USERS.bob, '--auto-answer', '--calls', '1']);
    await bob.waitFor(/^registered at/, 10_000);
    const alice = phone(['call', 'bob', '--transport', 'tls', '--server', tls, '--ca', ca, '--user', 'alice', '--password', USERS.alice, '--duration', '2', '--srtp']);
    const ea = await alice.exited;
    assert.equal(ea.exitCode, EXIT.ok, ea.stdout + ea.stderr);
    assert.match(ea.stdout, /on tls:127\.0\.0\.1:\d+/);
    assert.match(ea.stdout, /SRTP AES_CM_128_HMAC_SHA1_80/);
    const eb = await bob.exited;
    assert.equal(eb.exitCode, EXIT.ok, eb.stdout);
    assert.match(eb.stdout, /SRTP AES_CM_128_HMAC_SHA1_80/);
  });

  test('a wrong password is shown in words and exits with the registration-failed code', async () => {
    const p = phone(['register', '--server', server.sip, '--user', 'alice', '--password', 'not-her-password']);
    const exit = await p.exited;
    assert.equal(exit.exitCode, EXIT.registrationFailed, exit.stdout + exit.stderr);
    assert.match(exit.stdout, /registration failed: (401|403) .* — (authentication failed|forbidden)/);
  });

  test('calling a user who is not registered ends with 480 in words and its exit code', async () => {
    const p = phone(['call', 'bob', '--server', server.sip, '--user', 'alice', '--password', USERS.alice]);
    const exit = await p.exited;
    assert.match(exit.stdout, /call failed: (480|404) /);
    assert.ok(exit.exitCode === EXIT.noAnswer || exit.exitCode === EXIT.notFound, `exit ${exit.exitCode}`);
  });
});

const skipKamailio = requirePeers('kamailio');

describe('switchboard phone registers to Kamailio with digest auth', { skip: skipKamailio, timeout: 120_000 }, () => {
  let kam: KamailioRegistrar;
  const phones = phoneTracker();
  before(async () => {
    kam = await startKamailioRegistrar({ users: USERS });
  });
  after(async () => {
    await phones.stopAll();
    await kam.stop();
  });

  test('registers, refreshes at about 90% of a short expiry, unregisters on Ctrl-C', async () => {
    const p = phones.start(['register', '--server', kam.sip, '--user', 'alice', '--password', USERS.alice, '--expires', '10', '--trace-sip']);
    await p.waitFor(/^registered at .* for 10 s/, 10_000);
    const bound = await kam.lookup('alice');
    assert.ok(bound.length === 1, `one binding for alice, got ${JSON.stringify(bound)}`);
    // Expect a second authenticated REGISTER at ~9 s (90% of 10 s), before the binding expires.
    const t0 = Date.now();
    await waitUntil(() => countRegisters(p.output()) >= 3, 15_000, () => p.output());
    const dt = Date.now() - t0;
    assert.ok(dt < 12_000, `refresh came after ${dt} ms`);
    assert.equal((await kam.lookup('alice')).length, 1, 'still bound after the refresh');
    await p.proc.kill('SIGINT');
    const exit = await p.exited;
    assert.equal(exit.exitCode, 0, exit.stdout + exit.stderr);
    assert.deepEqual(await kam.lookup('alice'), [], 'the binding is gone after unregistering');
  });

  test('a wrong password is refused by Kamailio and shown', async () => {
    const p = phones.start(['register', '--server', kam.sip, '--user', 'bob', '--password', 'wrong']);
    const exit = await p.exited;
    assert.equal(exit.exitCode, EXIT.registrationFailed, exit.stdout);
    assert.deepEqual(await kam.lookup('bob'), []);
  });
});

/** REGISTER requests we sent (each refresh is a 401 round plus the authenticated retry, or one when the nonce is reused). */
function countRegisters(out: string): number {
  return [...out.matchAll(/^>>> to .*\nREGISTER sip:/gm)].length;
}

async function waitUntil(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out; ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
