import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { SipMessage } from '../../src/sip/message.js';
import type { LocalEndpoint, Peer } from '../../src/sip/transport/types.js';
import { Registrar } from '../../src/proxy/registrar.js';
import { BindingStore } from '../../src/store/bindings.js';
import { openDatabase } from '../../src/store/db.js';
import { VirtualClock } from '../../src/util/clock.js';

const limits = { minExpires: 60, maxExpires: 7200, defaultExpires: 3600, maxContacts: 3 };
const source: Peer = { proto: 'udp', address: '192.0.2.10', port: 40000 };
const local: LocalEndpoint = { proto: 'udp', address: '127.0.0.1', port: 5060 };

function register(contacts: string[], opts: { callId?: string; cseq?: number; expires?: string } = {}): SipMessage {
  const headers: [string, string][] = [
    ['Via', 'SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bK1'],
    ['From', '<sip:alice@example.com>;tag=1'],
    ['To', '<sip:alice@example.com>'],
    ['Call-ID', opts.callId ?? 'reg-1'],
    ['CSeq', `${opts.cseq ?? 1} REGISTER`],
  ];
  for (const c of contacts) headers.push(['Contact', c]);
  if (opts.expires !== undefined) headers.push(['Expires', opts.expires]);
  return SipMessage.request('REGISTER', 'sip:example.com', headers);
}

test('registrar keeps several contacts per AOR and lists them all in the 200 OK', async () => {
  const clock = new VirtualClock();
  const reg = new Registrar(clock, limits);
  let out = await reg.register(register(['<sip:alice@192.0.2.10:5060>']), 'alice', source, local);
  assert.equal(out.status, 200);
  out = await reg.register(register(['<sip:alice@192.0.2.11:5060>;expires=120'], { callId: 'reg-2' }), 'alice', source, local);
  assert.equal(out.status, 200);
  const contacts = out.headers.filter(([n]) => n === 'Contact').map(([, v]) => v);
  assert.deepEqual(contacts.sort(), ['<sip:alice@192.0.2.10:5060>;expires=3600', '<sip:alice@192.0.2.11:5060>;expires=120']);
  assert.ok(out.headers.some(([n]) => n === 'Date'));
  assert.equal(reg.lookup('alice').length, 2);
});

test('Expires header, expires= parameter, expiry and max clamp', async () => {
  const clock = new VirtualClock();
  const reg = new Registrar(clock, limits);
  await reg.register(register(['<sip:a@192.0.2.1>', '<sip:a@192.0.2.2>;expires=300'], { expires: '100000' }), 'alice', source, local);
  const [b1, b2] = reg.lookup('alice').sort((x, y) => x.expiresAt - y.expiresAt);
  assert.equal(b1.expiresAt - clock.wallNow(), 300_000);
  assert.equal(b2.expiresAt - clock.wallNow(), 7200_000, 'clamped to max_expires');
  clock.advance(301_000);
  assert.equal(reg.lookup('alice').length, 1, 'the 300 s binding expired');
  clock.advance(7200_000);
  assert.equal(reg.lookup('alice').length, 0);
});

test('423 with Min-Expires for a too-brief interval, but 0 is allowed', async () => {
  const reg = new Registrar(new VirtualClock(), limits);
  const out = await reg.register(register(['<sip:a@192.0.2.1>'], { expires: '30' }), 'alice', source, local);
  assert.equal(out.status, 423);
  assert.deepEqual(out.headers, [['Min-Expires', '60']]);
  const zero = await reg.register(register(['<sip:a@192.0.2.1>'], { expires: '0' }), 'alice', source, local);
  assert.equal(zero.status, 200);
});

test('"*" removes every binding, only with Expires: 0 and alone', async () => {
  const reg = new Registrar(new VirtualClock(), limits);
  await reg.register(register(['<sip:a@192.0.2.1>', '<sip:a@192.0.2.2>']), 'alice', source, local);
  assert.equal((await reg.register(register(['*'], { cseq: 2 }), 'alice', source, local)).status, 400);
  assert.equal((await reg.register(register(['*', '<sip:a@192.0.2.1>'], { cseq: 2, expires: '0' }), 'alice', source, local)).status, 400);
  const ok = await reg.register(register(['*'], { cseq: 3, expires: '0' }), 'alice', source, local);
  assert.equal(ok.status, 200);
  assert.equal(reg.lookup('alice').length, 0);
});

test('Call-ID/CSeq ordering: an older REGISTER with the same Call-ID fails', async () => {
  const reg = new Registrar(new VirtualClock(), limits);
  await reg.register(register(['<sip:a@192.0.2.1>'], { cseq: 5 }), 'alice', source, local);
  const stale = await reg.register(register(['<sip:a@192.0.2.1>'], { cseq: 4, expires: '0' }), 'alice', source, local);
  assert.equal(stale.status, 500);
  assert.equal(reg.lookup('alice').length, 1, 'the binding survived the out-of-order removal');
  const other = await reg.register(register(['<sip:a@192.0.2.1>'], { callId: 'other', cseq: 1, expires: '0' }), 'alice', source, local);
  assert.equal(other.status, 200, 'a different Call-ID may remove it');
  assert.equal(reg.lookup('alice').length, 0);
});

test('a query (no Contact) lists bindings without changing them; max contacts drops the oldest', async () => {
  const clock = new VirtualClock();
  const reg = new Registrar(clock, limits);
  for (let i = 1; i <= 4; i++) {
    clock.advance(1000);
    await reg.register(register([`<sip:a@192.0.2.${i}>`], { callId: `c${i}` }), 'alice', source, local);
  }
  const q = await reg.register(register([], { callId: 'q' }), 'alice', source, local);
  const listed = q.headers.filter(([n]) => n === 'Contact').map(([, v]) => v);
  assert.equal(listed.length, 3);
  assert.ok(!listed.some((c) => c.includes('192.0.2.1>')), 'the oldest binding was dropped');
});

test('bad expires values get 400', async () => {
  const reg = new Registrar(new VirtualClock(), limits);
  assert.equal((await reg.register(register(['<sip:a@192.0.2.1>'], { expires: 'soon' }), 'alice', source, local)).status, 400);
  assert.equal((await reg.register(register(['<sip:a@192.0.2.1>;expires=-1']), 'alice', source, local)).status, 400);
});

test('bindings are on disk before the 200 OK and survive a restart; expired ones are purged', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-reg-'));
  try {
    const clock = new VirtualClock();
    let db = openDatabase(dir);
    const reg = new Registrar(clock, limits, new BindingStore(db));
    // The source port differs from the Via: behind NAT, so the binding keeps the source connection.
    const out = await reg.register(register(['<sip:a@192.0.2.1>;expires=120', '<sip:a@192.0.2.2>']), 'alice', { ...source, proto: 'tcp', port: 40001, connectionId: 7 }, local);
    assert.equal(out.status, 200);
    // Read with a second connection, as another process would after a crash.
    const peek = openDatabase(dir);
    assert.equal((peek.prepare('SELECT count(*) AS n FROM bindings').get() as { n: number }).n, 2);
    peek.close();
    db.close();

    db = openDatabase(dir);
    const again = new Registrar(clock, limits, new BindingStore(db));
    const found = again.lookup('alice');
    assert.equal(found.length, 2);
    assert.equal(found[0].source.proto, 'tcp');
    assert.equal(found[0].connectionId, undefined, 'connections do not survive a restart');
    clock.advance(121_000);
    again.purge();
    assert.equal((db.prepare('SELECT count(*) AS n FROM bindings').get() as { n: number }).n, 1);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write the database refuses (locked) answers 500 + Retry-After, keeps the bindings, and recovers by itself', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-reg-'));
  const db = openDatabase(dir);
  const other = openDatabase(dir);
  try {
    const clock = new VirtualClock();
    const reg = new Registrar(clock, limits, new BindingStore(db));
    assert.equal((await reg.register(register(['<sip:a@192.0.2.1>']), 'alice', source, local)).status, 200);

    // Another process holds the write lock past our busy timeout.
    other.exec('BEGIN EXCLUSIVE');
    const refused = await reg.register(register(['<sip:a@192.0.2.1>'], { callId: 'c2', expires: '0' }), 'alice', source, local);
    const also = await reg.register(register(['<sip:b@192.0.2.2>'], { callId: 'c3' }), 'bob', source, local);
    assert.equal(refused.status, 500);
    assert.deepEqual(refused.headers, [['Retry-After', '5']]);
    assert.equal(also.status, 500);
    assert.equal(reg.lookup('alice').length, 1, "alice's binding is kept: the refused removal never happened");
    assert.equal(reg.lookup('bob').length, 0, 'nothing unsaved is acknowledged or used');
    assert.equal(reg.writeFailures, 2);
    // A REGISTER with nothing to save in the same turn as a refused one keeps its own answer.
    const [failing, query] = await Promise.all([
      reg.register(register(['<sip:d@192.0.2.4>'], { callId: 'c5' }), 'dave', source, local),
      reg.register(register([], { callId: 'q1' }), 'alice', source, local),
    ]);
    assert.equal(query.status, 200, 'a query is answered from the table, whatever the disk says');
    assert.equal(failing.status, 500);
    assert.equal(reg.registrations, 1, 'only the REGISTER that was saved counts as accepted');

    other.exec('COMMIT');
    // A read-only database file is refused the same way.
    db.pragma('query_only = ON');
    assert.equal((await reg.register(register(['<sip:c@192.0.2.3>'], { callId: 'c4' }), 'carol', source, local)).status, 500);
    db.pragma('query_only = OFF');
    const again = await reg.register(register(['<sip:b@192.0.2.2>'], { callId: 'c3', cseq: 2 }), 'bob', source, local);
    assert.equal(again.status, 200);
    assert.equal(reg.lookup('bob').length, 1);
    assert.equal((db.prepare('SELECT count(*) AS n FROM bindings').get() as { n: number }).n, 2);
  } finally {
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('REGISTERs of one turn build on each other and are saved or refused together', async () => {
  const reg = new Registrar(new VirtualClock(), limits);
  const [a, b] = await Promise.all([
    reg.register(register(['<sip:a@192.0.2.1>'], { callId: 'p1' }), 'alice', source, local),
    reg.register(register(['<sip:a@192.0.2.2>'], { callId: 'p2' }), 'alice', source, local),
  ]);
  assert.equal(a.status, 200);
  assert.equal(b.headers.filter(([n]) => n === 'Contact').length, 2, 'the second 200 lists both contacts');
  assert.equal(reg.lookup('alice').length, 2);
});
