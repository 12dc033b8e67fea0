import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics, type MetricsSnapshot } from '../../src/api/metrics.js';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js';

function snapshot(): MetricsSnapshot {
  return {
    sip: {
      requestsIn: { INVITE: 3, REGISTER: 7, other: 1 },
      requestsOut: { INVITE: 3 },
      responsesIn: { 200: 2, 486: 1 },
      responsesOut: { 401: 7, 200: 9 },
      malformed: { 400: 4, 0: 2 },
      refused: 12,
      connections: 1,
    },
    transactions: { client: 2, server: 5 },
    dialogs: 1,
    calls: { attempted: 3, answered: 2, failed: 1, cancelled: 0 },
    registrations: { bindings: 4, accepted: 6, storeFailures: 1 },
    authFailures: { REGISTER: 2 },
    bans: { active: 1, imposed: { 'failed-auth': 1, flood: 0, manual: 0 } },
    overload: { transactions: 3 },
    mediaDrops: { garbage: 5 },
    uncaughtErrors: 0,
  };
}

test('one scrape renders every counter from one snapshot, with bounded labels, as valid Prometheus text', async () => {
  let snap = snapshot();
  let takes = 0;
  const m = new Metrics(() => {
    takes++;
    return snap;
  });
  const { samples, types } = parsePrometheus(await m.render());
  assert.equal(takes, 1, 'the layers are read once per scrape');
  assert.equal(sampleValue(samples, 'switchboard_sip_requests_total', { method: 'REGISTER', direction: 'in' }), 7);
  assert.equal(sampleValue(samples, 'switchboard_sip_responses_total', { status: '401', direction: 'out' }), 7);
  assert.equal(sampleValue(samples, 'switchboard_sip_malformed_total', { status: '0' }), 2);
  assert.equal(sampleValue(samples, 'switchboard_sip_transactions', { side: 'server' }), 5);
  assert.equal(sampleValue(samples, 'switchboard_auth_failures_total', { method: 'INVITE' }), 0, 'both login methods are always present');
  assert.equal(sampleValue(samples, 'switchboard_registrations'), 4);
  assert.equal(sampleValue(samples, 'switchboard_overload_rejected_total', { limit: 'transactions' }), 3);
  assert.equal(types.get('switchboard_registrations'), 'gauge');
  assert.equal(types.get('switchboard_calls_failed_total'), 'counter');
  assert.ok(samples.some((x) => x.name === 'nodejs_eventloop_lag_seconds') && samples.some((x) => x.name === 'nodejs_heap_size_used_bytes'));
  // A second server in the same process reports the same process series, once each.
  const other = parsePrometheus(await new Metrics(snapshot).render());
  assert.equal(other.samples.filter((x) => x.name === 'process_cpu_user_seconds_total').length, 1);

  // Counters follow the layers' values from scrape to scrape; nothing accumulates twice.
  snap = { ...snapshot(), registrations: { bindings: 1, accepted: 9, storeFailures: 1 } };
  const second = parsePrometheus(await m.render()).samples;
  assert.equal(sampleValue(second, 'switchboard_registrations'), 1);
  assert.equal(sampleValue(second, 'switchboard_registrations_total'), 9);
  assert.equal(sampleValue(second, 'switchboard_sip_requests_total', { method: 'REGISTER', direction: 'in' }), 7);
});

test('the PBX series: labels only from the configured queues, rooms and mailboxes; all zero or absent without a PBX', async () => {
  const pbx: MetricsSnapshot['pbx'] = {
    channels: 5,
    bridges: 1,
    mediaPorts: 5,
    parked: 1,
    queues: { support: { waiting: 2, answered: 7, abandoned: 3, timeout: 1 }, sales: { waiting: 0, answered: 0, abandoned: 0, timeout: 0 } },
    conferences: { '6000': 3, '6001': 0 },
    voicemail: { '1001': { new: 2, old: 5 }, '1002': { new: 0, old: 0 } },
  };
  const { samples, types } = parsePrometheus(await new Metrics(() => ({ ...snapshot(), pbx })).render());
  assert.equal(sampleValue(samples, 'switchboard_pbx_channels'), 5);
  assert.equal(sampleValue(samples, 'switchboard_pbx_bridges'), 1);
  assert.equal(sampleValue(samples, 'switchboard_pbx_media_ports'), 5);
  assert.equal(sampleValue(samples, 'switchboard_pbx_parked_calls'), 1);
  assert.equal(sampleValue(samples, 'switchboard_pbx_queue_waiting', { queue: 'support' }), 2);
  assert.equal(sampleValue(samples, 'switchboard_pbx_queue_waiting', { queue: 'sales' }), 0);
  assert.equal(sampleValue(samples, 'switchboard_pbx_queue_calls_total', { queue: 'support', result: 'answered' }), 7);
  assert.equal(sampleValue(samples, 'switchboard_pbx_queue_calls_total', { queue: 'support', result: 'abandoned' }), 3);
  assert.equal(sampleValue(samples, 'switchboard_pbx_queue_calls_total', { queue: 'support', result: 'timeout' }), 1);
  assert.equal(sampleValue(samples, 'switchboard_pbx_conference_participants', { room: '6000' }), 3);
  assert.equal(sampleValue(samples, 'switchboard_pbx_conference_participants', { room: '6001' }), 0);
  assert.equal(sampleValue(samples, 'switchboard_pbx_voicemail_messages', { mailbox: '1001', folder: 'new' }), 2);
  assert.equal(sampleValue(samples, 'switchboard_pbx_voicemail_messages', { mailbox: '1001', folder: 'old' }), 5);
  assert.equal(types.get('switchboard_pbx_queue_calls_total'), 'counter');
  assert.equal(types.get('switchboard_pbx_queue_waiting'), 'gauge');
  // Bounded: 2 queues x 3 results, 2 rooms, 2 mailboxes x 2 folders.
  assert.equal(samples.filter((x) => x.name === 'switchboard_pbx_queue_calls_total').length, 6);
  assert.equal(samples.filter((x) => x.name === 'switchboard_pbx_voicemail_messages').length, 4);
  assert.deepEqual(new Set(samples.filter((x) => x.name === 'switchboard_pbx_voicemail_messages').map((x) => x.labels.folder)), new Set(['new', 'old']));

  const none = parsePrometheus(await new Metrics(snapshot).render()).samples;
  assert.equal(sampleValue(none, 'switchboard_pbx_channels'), 0);
  assert.equal(none.filter((x) => x.name.startsWith('switchboard_pbx_queue') || x.name.startsWith('switchboard_pbx_voicemail')).length, 0);
});

test('toll-fraud refusals by reason, and users blocked now', async () => {
  const fraud = { refused: { velocity: 2, 'user-cap': 1 }, blockedUsers: 1 };
  const { samples, types } = parsePrometheus(await new Metrics(() => ({ ...snapshot(), fraud })).render());
  assert.equal(sampleValue(samples, 'switchboard_fraud_refused_total', { reason: 'velocity' }), 2);
  assert.equal(sampleValue(samples, 'switchboard_fraud_refused_total', { reason: 'user-cap' }), 1);
  assert.equal(sampleValue(samples, 'switchboard_fraud_blocked_users'), 1);
  assert.equal(types.get('switchboard_fraud_refused_total'), 'counter');
});
