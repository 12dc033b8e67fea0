import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Security } from '../../src/proxy/security/index.js';
import type { Peer } from '../../src/sip/transport/types.js';
import { BanStore } from '../../src/store/bans.js';
import { openDatabase } from '../../src/store/db.js';
import { VirtualClock } from '../../src/util/clock.js';

const from = (address: string): Peer => ({ proto: 'udp', address, port: 5060 });
const policy = {
  ban: { maxFailures: 5, findTime: 60, banTime: 300 },
  pike: { requestsPerSecond: 100, burst: 200, banTime: 60 },
  allow: ['10.0.0.0/8', '2001:db8::/32'],
};

test('five failed logins within find_time ban the source for ban_time; others are untouched', () => {
  const clock = new VirtualClock();
  const sec = new Security({ clock, policy });
  for (let i = 0; i < 4; i++) {
    sec.failedLogin(from('192.0.2.2'), '1001', 'REGISTER');
    clock.advance(10_000);
  }
  assert.equal(sec.admit(from('192.0.2.2')), true, 'four failures are not enough');
  sec.failedLogin(from('192.0.2.2'), '1001', 'INVITE');
  assert.equal(sec.admit(from('192.0.2.2')), false);
  assert.equal(sec.admit(from('192.0.2.1')), true);
  const [ban] = sec.list();
  assert.equal(ban.address, '192.0.2.2');
  assert.equal(ban.reason, 'failed-auth');
  assert.equal(ban.until - ban.since, 300_000);
  assert.match(ban.detail, /5 failed logins within 60 s \(last: INVITE as "1001"\)/);
  assert.equal(sec.counters.dropped, 1);
  clock.advance(300_000);
  assert.equal(sec.admit(from('192.0.2.2')), true, 'the ban runs out');
  assert.deepEqual(sec.list(), []);
});

test('failures spread wider than find_time never add up to a ban', () => {
  const clock = new VirtualClock();
  const sec = new Security({ clock, policy });
  for (let i = 0; i < 20; i++) {
    sec.failedLogin(from('192.0.2.2'), 'x', 'REGISTER');
    clock.advance(15_001);
  }
  assert.equal(sec.activeBans, 0);
});

test('pike: a source over burst at more than requests_per_second is banned; a steady one never is', () => {
  const clock = new VirtualClock();
  const sec = new Security({ clock, policy });
  // 90 messages a second for a minute: under the rate, never banned.
  for (let s = 0; s < 60; s++) {
    for (let i = 0; i < 90; i++) assert.equal(sec.admit(from('192.0.2.5')), true);
    clock.advance(1000);
  }
  // 5,000/s: the 200 burst plus the refill is gone within ~42 ms.
  let admitted = 0;
  for (let i = 0; i < 5000 && sec.admit(from('192.0.2.3')); i++) {
    admitted++;
    clock.advance(0.2);
  }
  assert.ok(admitted >= 200 && admitted < 260, `admitted ${admitted}`);
  assert.equal(sec.list()[0].reason, 'flood');
  assert.equal(sec.admit(from('192.0.2.3')), false);
  clock.advance(60_000);
  assert.equal(sec.admit(from('192.0.2.3')), true, 'after ban_time the bucket starts full again');
});

test('allowed addresses and blocks are never banned, by pike or by failed logins', () => {
  const clock = new VirtualClock();
  const sec = new Security({ clock, policy });
  for (let i = 0; i < 1000; i++) assert.equal(sec.admit(from('10.1.2.3')), true);
  for (let i = 0; i < 10; i++) sec.failedLogin(from('2001:db8::7'), 'x', 'REGISTER');
  assert.equal(sec.admit(from('2001:db8::7')), true);
  assert.equal(sec.activeBans, 0);
  assert.equal(sec.counters.failedLogins, 10, 'failures from allowed sources are still counted');
});

test('bans off: failures never ban; lift and ban by hand', () => {
  const clock = new VirtualClock();
  const sec = new Security({ clock, policy: { allow: [] } });
  for (let i = 0; i < 50; i++) sec.failedLogin(from('192.0.2.9'), 'x', 'REGISTER');
  assert.equal(sec.activeBans, 0);
  sec.banByHand('2001:DB8::9', 60, 'scanner');
  assert.equal(sec.admit(from('2001:db8::9')), false, 'addresses are compared in one spelling');
  assert.equal(sec.lift('192.0.2.99'), undefined);
  assert.equal(sec.lift('2001:db8::9')?.detail, 'scanner');
  assert.equal(sec.admit(from('2001:db8::9')), true);
});

test('bans survive a restart through the database; expired ones are purged', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-bans-'));
  try {
    const clock = new VirtualClock();
    let db = openDatabase(dir);
    let sec = new Security({ clock, policy, store: new BanStore(db) });
    sec.banByHand('192.0.2.20', 100);
    sec.banByHand('192.0.2.21', 1000);
    db.close();

    db = openDatabase(dir);
    sec = new Security({ clock, policy, store: new BanStore(db) });
    assert.equal(sec.admit(from('192.0.2.20')), false);
    assert.deepEqual(sec.list().map((b) => b.address), ['192.0.2.20', '192.0.2.21']);
    clock.advance(101_000);
    sec.purge();
    assert.equal((db.prepare('SELECT count(*) AS n FROM bans').get() as { n: number }).n, 1);
    assert.equal(sec.lift('192.0.2.21')?.address, '192.0.2.21');
    assert.equal((db.prepare('SELECT count(*) AS n FROM bans').get() as { n: number }).n, 0);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database that refuses writes does not stop a ban from holding', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-bans-'));
  const db = openDatabase(dir);
  try {
    const clock = new VirtualClock();
    const sec = new Security({ clock, policy, store: new BanStore(db) });
    db.pragma('query_only = ON');
    for (let i = 0; i < 5; i++) sec.failedLogin(from('192.0.2.30'), 'x', 'REGISTER');
    assert.equal(sec.admit(from('192.0.2.30')), false);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stored ban on an address now in security.allow is lifted at start; ban details are safe to print', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-bans-'));
  try {
    const clock = new VirtualClock();
    let db = openDatabase(dir);
    let sec = new Security({ clock, policy: { ...policy, allow: [] }, store: new BanStore(db) });
    sec.banByHand('10.9.9.9', 3600);
    for (let i = 0; i < 5; i++) sec.failedLogin(from('192.0.2.40'), 'evil\x1b[2J\nuser', 'REGISTER');
    db.close();

    db = openDatabase(dir);
    sec = new Security({ clock, policy: { ...policy, allow: ['10.0.0.0/8'] }, store: new BanStore(db) });
    assert.equal(sec.admit(from('10.9.9.9')), true, 'the trunk in security.allow is never banned, whatever the database says');
    assert.deepEqual(sec.list().map((b) => b.address), ['192.0.2.40']);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(sec.list()[0].detail, /[\x00-\x1f]/, 'no control characters from the attacker reach a terminal');
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
