/** Registration and calls through a real Switchboard registrar/proxy (digest auth, refresh, 423, unregister). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../src/util/clock.js';
import { SipStatusError } from '../../src/ua/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { count, next, startUa, until, within } from '../helpers/ua.js';

const ALICE = 'Al1ce-long-pass-77';
const BOB = 'B0b-long-pass-88';
let server: TestServer;
let port: number;

before(async () => {
  server = await startTestServer();
  port = Number(server.sip.slice(server.sip.lastIndexOf(':') + 1));
});
after(async () => {
  await server.stop();
});

function phone(clock: VirtualClock, user: string, password: string) {
  return startUa(clock, user, { server: { host: '127.0.0.1', port }, password, domain: undefined });
}

test('register with digest auth: granted expiry, binding at the registrar, refresh at ~90% reusing the nonce', { timeout: 15_000 }, async () => {
  const clock = new VirtualClock();
  const a = await phone(clock, 'alice', ALICE);
  try {
    const registered = next(a.ua, 'registered');
    assert.equal(await within(a.ua.register(3600)), 3600);
    assert.deepEqual(await registered, [3600]);
    assert.equal(a.ua.registered, true);
    const bindings = server.registrar.lookup('alice');
    assert.equal(bindings.length, 1);
    assert.equal(`<${bindings[0].contact}>`, a.ua.contact);
    assert.equal(count(a.trace, 'in SIP/2.0 401'), 1);
    const sent = count(a.trace, 'out REGISTER');
    clock.advance(3600 * 900 - 1000);
    assert.equal(count(a.trace, 'out REGISTER'), sent, 'no refresh before 90% of the expiry');
    const refreshed = next(a.ua, 'registered');
    clock.advance(1000);
    assert.deepEqual(await refreshed, [3600]);
    assert.equal(count(a.trace, 'out REGISTER'), sent + 1, 'one REGISTER: the kept nonce answered with nc=2');
    assert.match(a.trace.filter((t) => t.startsWith('out REGISTER')).at(-1) ?? '', /nc=00000002/);
  } finally {
    await a.ua.close();
  }
});

test('a wrong password is reported as the registrar status (SipStatusError) and an event', { timeout: 15_000 }, async () => {
  const clock = new VirtualClock();
  const a = await phone(clock, 'alice', 'not-the-password');
  try {
    const failed = next(a.ua, 'registrationFailed');
    await assert.rejects(a.ua.register(600), (e: unknown) => e instanceof SipStatusError && (e.status === 401 || e.status === 403));
    const [status] = await failed;
    assert.ok(status === 401 || status === 403);
    assert.equal(a.ua.registered, false);
    assert.equal(count(a.trace, 'out REGISTER'), 2, 'one challenge answered, then given up');
  } finally {
    await a.ua.close();
  }
});

test('423 Interval Too Brief: the registration is retried with Min-Expires', { timeout: 15_000 }, async () => {
  const clock = new VirtualClock();
  const a = await phone(clock, 'alice', ALICE);
  try {
    assert.equal(await within(a.ua.register(10)), 60);
    assert.equal(count(a.trace, 'in SIP/2.0 423'), 1);
  } finally {
    await a.ua.unregister();
    await a.ua.close();
  }
});

test('unregister removes the binding: a call to that user then gets 480', { timeout: 15_000 }, async () => {
  const clock = new VirtualClock();
  const a = await phone(clock, 'alice', ALICE);
  const b = await phone(clock, 'bob', BOB);
  try {
    await within(a.ua.register(600));
    assert.equal(server.registrar.lookup('alice').length, 1);
    const unregistered = next(a.ua, 'unregistered');
    await within(a.ua.unregister());
    await unregistered;
    assert.equal(server.registrar.lookup('alice').length, 0);
    assert.match(a.trace.filter((t) => t.startsWith('out REGISTER')).at(-1) ?? '', /\r\nExpires: 0\r\n/);
    const call = b.ua.call('alice');
    const [info] = await next(call, 'ended');
    assert.equal(info.status, 480);
  } finally {
    await Promise.all([a.ua.close(), b.ua.close()]);
  }
});

test('two registered phones call each other through the proxy (407 answered, BYE along the Record-Route)', { timeout: 15_000 }, async () => {
  const clock = new VirtualClock();
  const a = await phone(clock, 'alice', ALICE);
  const b = await phone(clock, 'bob', BOB);
  try {
    await within(Promise.all([a.ua.register(600), b.ua.register(600)]));
    const incoming = next(b.ua, 'incoming');
    const call = a.ua.call('bob');
    const [inc] = await incoming;
    assert.equal(inc.from, 'sip:alice@127.0.0.1');
    const answered = next(call, 'answered');
    await within(inc.accept());
    await answered;
    assert.equal(count(a.trace, 'in SIP/2.0 407'), 1);
    assert.equal(call.dialog?.routeSet.length, 1, 'the proxy stays on the path');
    const ended = next(call, 'ended');
    await inc.hangup();
    assert.deepEqual(await ended, [{ by: 'remote' }]);
    await until(() => count(b.trace, 'in SIP/2.0 200') >= 1);
  } finally {
    await Promise.all([a.ua.close(), b.ua.close()]);
  }
});
