/**
 * The toll-fraud guard on a virtual clock: caps count live legs (not the
 * new call's own, not ended ones); the velocity limit is a sliding minute
 * that blocks for fraud.block_seconds and alerts once; trunk callers stay
 * off outbound routes unless trunks.N.outbound; allow-lists take addresses
 * and CIDRs. Every refusal is counted; identical ones are logged once a
 * minute, with how many were kept quiet.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_FRAUD, type FraudConfig, type TrunkConfig, type UserPbxConfig } from '../../src/config/pbx-schema.js';
import { REFUSAL_REASONS, REFUSAL_STATUS, TollFraud, type LiveLeg } from '../../src/pbx/fraud.js';
import { VirtualClock } from '../../src/util/clock.js';
import { captureLog } from '../helpers/log-capture.js';

function user(over: Partial<UserPbxConfig> = {}): UserPbxConfig {
  return { context: 'internal', forward: {}, dnd: false, allow: [], maxCalls: 8, callsPerMinute: 10, line: 1, ...over };
}

function trunk(name: string, over: Partial<TrunkConfig> = {}): TrunkConfig {
  return {
    name,
    host: '192.0.2.10',
    port: 5060,
    transport: 'udp',
    allow: ['192.0.2.10'],
    context: 'from-trunk',
    dids: new Map(),
    codecs: ['PCMA'],
    maxCalls: 0,
    outbound: false,
    line: 1,
    ...over,
  };
}

function leg(user: string | undefined, trunkName: string | undefined, direction: 'incoming' | 'outgoing' = 'incoming'): LiveLeg & { ended: boolean } {
  return { user, trunk: trunkName, ended: false, call: { direction } };
}

function guard(fraud: Partial<FraudConfig> = {}) {
  const clock = new VirtualClock();
  const logs = captureLog('info');
  const legs: (LiveLeg & { ended: boolean })[] = [];
  const g = new TollFraud({
    fraud: { ...DEFAULT_FRAUD, ...fraud },
    users: new Map([
      ['1001', user({ maxCalls: 2, callsPerMinute: 3, allow: ['10.1.0.0/16', '192.0.2.7'] })],
      ['1002', user({ maxCalls: 0, callsPerMinute: 0 })],
    ]),
    trunks: new Map([
      ['carrier', trunk('carrier', { maxCalls: 2 })],
      ['partner', trunk('partner', { outbound: true, allow: [] })],
    ]),
    clock,
    log: logs.log,
  });
  g.countLegs(() => legs);
  return { g, clock, logs, legs };
}

test('every reason is counted from zero and has the status a caller sees', () => {
  const { g } = guard();
  assert.deepEqual(Object.keys(g.counters.refused).sort(), [...REFUSAL_REASONS].sort());
  assert.ok(Object.values(g.counters.refused).every((n) => n === 0));
  assert.equal(REFUSAL_STATUS.user_max_calls.status, 486);
  assert.equal(REFUSAL_STATUS.max_calls.status, 503);
  assert.equal(REFUSAL_STATUS.trunk_max_calls.status, 503);
  for (const r of ['velocity', 'blocked', 'trunk_to_outbound', 'class_of_service', 'source_not_allowed'] as const) assert.equal(REFUSAL_STATUS[r].status, 403);
});

test('per-user cap: live legs of the user count, the new call and ended legs do not', () => {
  const { g, legs } = guard();
  const self = leg('1001', undefined);
  legs.push(self, leg('1001', undefined));
  assert.equal(g.admitCall(self, { user: '1001' }), undefined, 'one other call up, cap 2');
  const other = leg('1001', undefined, 'outgoing');
  legs.push(other);
  assert.equal(g.admitCall(self, { user: '1001' })?.reason, 'user_max_calls');
  other.ended = true;
  assert.equal(g.admitCall(self, { user: '1001' }), undefined);
  legs.push(...Array.from({ length: 20 }, () => leg('1002', undefined)));
  assert.equal(g.admitCall(self, { user: '1002' }), undefined, 'max_calls 0: no cap');
  assert.equal(g.counters.refused.user_max_calls, 1);
});

test('a callee at its cap is refused too', () => {
  const { g, legs } = guard();
  legs.push(leg('1001', undefined), leg('1001', undefined, 'outgoing'));
  assert.equal(g.admitCallee('1001', { user: '1002' })?.reason, 'user_max_calls');
  assert.equal(g.admitCallee('1002', { user: '1001' }), undefined);
});

test('per-trunk and global caps', () => {
  const { g, legs } = guard({ maxCalls: 3 });
  const self = leg(undefined, 'carrier');
  legs.push(self);
  assert.ok(g.hasRoom('carrier'), 'one leg of 2');
  legs.push(leg(undefined, 'carrier'));
  assert.equal(g.admitCall(self, { trunk: 'carrier' }), undefined, 'the new call itself is not counted');
  legs.push(leg('1002', 'carrier', 'outgoing'));
  assert.equal(g.admitCall(self, { trunk: 'carrier' })?.reason, 'trunk_max_calls');
  assert.equal(g.hasRoom('carrier'), false);
  assert.equal(g.trunkHasRoom('carrier', { user: '1002' })?.reason, 'trunk_max_calls');
  assert.ok(g.hasRoom('partner'), 'max_calls 0: no cap');
  // Calls across the PBX are incoming legs: four are up besides the new one, and the cap is 3.
  legs.push(leg('1002', undefined), leg('1002', undefined));
  const fresh = leg('1002', undefined);
  assert.equal(g.admitCall(fresh, { user: '1002' })?.reason, 'max_calls');
  assert.equal(g.counters.refused.max_calls, 1);
});

test('velocity: over calls per minute blocks the user for block_seconds, with one alert; the window slides', () => {
  const { g, clock, logs } = guard({ blockSeconds: 120 });
  const out = (): string | undefined => g.admitOutbound({ user: '1001', number: '0301234567' })?.reason;
  assert.equal(out(), undefined);
  clock.advance(30_000);
  assert.equal(out(), undefined);
  clock.advance(29_000);
  assert.equal(out(), undefined, 'three within a minute is the limit, not over it');
  clock.advance(2_000);
  assert.equal(out(), undefined, 'the first call left the window at 60 s');
  assert.equal(out(), 'velocity', 'four within 60 s');
  const alerts = logs.records().filter((r) => r.level === 50);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].user, '1001');
  assert.equal(alerts[0].msg, 'toll fraud: 1001 placed 3 outbound calls within a minute (limit 3); outbound calls blocked for 120 s');
  assert.equal(g.counters.blocks, 1);
  assert.deepEqual(g.blocked(), [{ user: '1001', seconds: 120 }]);
  clock.advance(60_000);
  assert.equal(out(), 'blocked');
  assert.equal(out(), 'blocked');
  assert.equal(g.counters.refused.blocked, 2);
  const quiet = logs.records().filter((r) => r.reason === 'blocked');
  assert.equal(quiet.length, 1, 'the same refusal is logged once a minute');
  clock.advance(60_000);
  assert.equal(out(), undefined, 'the block is over after 120 s');
  assert.deepEqual(g.blocked(), []);
  assert.equal(g.admitOutbound({ user: '1002' }), undefined, 'calls_per_minute 0: no limit');
});

test('a trunk caller may not dial out unless the trunk allows it; the console can lift a block', () => {
  const { g, logs } = guard();
  const r = g.admitOutbound({ trunk: 'carrier', number: '011441234567' });
  assert.equal(r?.reason, 'trunk_to_outbound');
  const line = logs.records().find((x) => x.reason === 'trunk_to_outbound');
  assert.equal(line?.trunk, 'carrier');
  assert.equal(line?.number, '011441234567');
  assert.equal(g.admitOutbound({ trunk: 'partner', number: '011441234567' }), undefined);
  assert.equal(g.unblock('nobody'), false);
});

test('allow-lists: a user from elsewhere is refused (addresses and CIDRs); users and trunks without a list are not', () => {
  const { g, logs } = guard();
  assert.ok(g.allowedSource('1001', { proto: 'udp', address: '10.1.200.3', port: 5060 }, 'REGISTER'));
  assert.ok(g.allowedSource('1001', { address: '192.0.2.7' }, 'INVITE'));
  assert.equal(g.allowedSource('1001', { proto: 'udp', address: '203.0.113.9', port: 5062 }, 'REGISTER'), false);
  assert.ok(g.allowedSource('1002', { address: '203.0.113.9' }, 'REGISTER'));
  const line = logs.records().find((x) => x.reason === 'source_not_allowed');
  assert.equal(line?.user, '1001');
  assert.equal(line?.source, 'udp:203.0.113.9:5062');
  assert.ok(g.trunkSourceAllowed('carrier', '192.0.2.10'));
  assert.equal(g.trunkSourceAllowed('carrier', '198.51.100.1'), false);
  assert.ok(g.trunkSourceAllowed('partner', '198.51.100.1'));
  assert.equal(g.counters.refused.source_not_allowed, 2);
  assert.equal(g.snapshot().refused.source_not_allowed, 2);
});
