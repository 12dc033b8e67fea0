/**
 * A bug costs one request, not the process: a handler that throws, or an
 * asynchronous step that rejects, answers that request 500 and is logged
 * with its context, and the server goes on answering everyone else.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, test } from 'node:test';
import { installCrashHandlers } from '../../src/cli/crash.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: RawSipClient;
let captured: CapturedLog;

before(async () => {
  captured = captureLog();
  server = await startTestServer({ log: captured.log });
  client = await RawSipClient.open();
});

after(async () => {
  client.close();
  await server.stop();
});

async function optionsStillAnswered(): Promise<void> {
  const req = client.request('OPTIONS', 'sip:127.0.0.1');
  client.send(req, server.sip);
  assert.equal((await client.finalFor(req)).msg.status, 200);
}

test('a registrar step that rejects answers that REGISTER 500 and is logged with its Call-ID', async () => {
  const original = server.registrar.register.bind(server.registrar);
  server.registrar.register = () => Promise.reject(new Error('injected registrar fault'));
  try {
    const req = client.request('REGISTER', 'sip:127.0.0.1', { from: '<sip:alice@127.0.0.1>;tag=1', to: '<sip:alice@127.0.0.1>' });
    const res = await client.withAuth(req, server.sip, { user: 'alice', password: 'Al1ce-long-pass-77' });
    assert.equal(res.status, 500);
    const logged = captured.records().find((r) => r.msg === 'request failed inside the proxy; answered 500');
    assert.ok(logged, JSON.stringify(captured.records()));
    assert.equal(logged.method, 'REGISTER');
    assert.equal(logged.callId, req.callId);
    assert.match(JSON.stringify(logged.err), /injected registrar fault/);
  } finally {
    server.registrar.register = original;
  }
  await optionsStillAnswered();
});

test('a routing step that throws answers that INVITE 500; the next request is served', async () => {
  const original = server.registrar.lookup.bind(server.registrar);
  server.registrar.lookup = () => {
    throw new Error('injected lookup fault');
  };
  try {
    const invite = client.request('INVITE', 'sip:bob@127.0.0.1', { from: '<sip:someone@192.0.2.1>;tag=2' });
    client.send(invite, server.sip);
    assert.equal((await client.finalFor(invite)).msg.status, 500);
    assert.ok(captured.records().some((r) => r.msg === 'request handler threw; answered 500' && r.callId === invite.callId));
  } finally {
    server.registrar.lookup = original;
  }
  await optionsStillAnswered();
});

test("serve's last-resort handlers log an escaped error and count it; the process goes on", async () => {
  const log = captureLog();
  const counter = { uncaught: 0 };
  // A stand-in for the process: the test runner's own handlers must not see these.
  const proc = new EventEmitter();
  installCrashHandlers(log.log, counter, proc);
  proc.emit('unhandledRejection', new Error('nobody caught me'), Promise.resolve());
  proc.emit('uncaughtException', new Error('thrown from a timer'), 'uncaughtException');
  assert.equal(counter.uncaught, 2);
  const recs = log.records();
  assert.equal(recs.length, 2);
  assert.match(JSON.stringify(recs[0].err), /nobody caught me/);
  assert.equal(recs[1].kind, 'uncaughtException');
  await optionsStillAnswered();
});
