import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actionLine, formatChannels, formatConferences, formatTrunks, formatVoicemail } from '../../src/cli/pbx.js';
import type { ChannelView, TrunkView } from '../../src/cli/pbx-admin.js';
import { formatStatus } from '../../src/cli/status.js';
import type { StatusReport } from '../../src/cli/server.js';

function channel(over: Partial<ChannelView>): ChannelView {
  return {
    channel: 'SIP/1001-00000001', uniqueid: '1764852250.1', linkedid: '1764852250.1', caller: '1001', callerName: 'Alice Archer',
    exten: '500', context: 'main-menu', state: 'Up', app: 'enqueue', peer: '', trunk: '', seconds: 75, ...over,
  };
}

test('channels: a summary line counting calls and bridged pairs, then one row per leg', () => {
  const text = formatChannels([
    channel({ peer: 'SIP/1003-00000002' }),
    channel({ channel: 'SIP/1003-00000002', uniqueid: '1764852250.2', caller: '1001', callerName: '', exten: '', context: '', app: '', peer: 'SIP/1001-00000001', seconds: 3 }),
    channel({ channel: 'SIP/carrier-00000003', uniqueid: '1764852260.3', linkedid: '1764852260.3', caller: '+4930123', callerName: '', exten: '100', context: 'from-trunk', state: 'Ringing', app: 'dial', trunk: 'carrier', seconds: 0 }),
  ]);
  assert.deepEqual(text.split('\n'), [
    '3 active channels, 2 calls, 1 bridged pair:',
    '  CHANNEL               LOCATION        STATE    APP      BRIDGED TO         CALLER ID              UP     TRUNK',
    '  SIP/1001-00000001     500@main-menu   Up       enqueue  SIP/1003-00000002  "Alice Archer" <1001>  1m15s  -',
    '  SIP/1003-00000002     -               Up       -        SIP/1001-00000001  1001                   3s     -',
    '  SIP/carrier-00000003  100@from-trunk  Ringing  dial     -                  +4930123               0s     carrier',
  ]);
  assert.equal(formatChannels([]), '0 active channels.');
});

test('conferences, voicemail and trunks: empty and filled', () => {
  assert.equal(formatConferences([]), 'No conference rooms configured (conferences: in switchboard.yaml).');
  assert.deepEqual(
    formatConferences([
      { room: '6000', participants: [{ number: 2, channel: 'SIP/1002-00000009', caller: '1002', name: '', muted: true, leader: true, talking: false, seconds: 61, rate: 16000 }] },
      { room: '6001', participants: [] },
    ]).split('\n'),
    ['6000: 1 participant', '  #  CHANNEL            CALLER ID  FLAGS         UP     RATE', '  2  SIP/1002-00000009  1002       muted,leader  1m01s  16 kHz', '', '6001: empty'],
  );
  assert.deepEqual(formatVoicemail([{ mailbox: '1002', name: '', email: '', new: 1, old: 0 }]).split('\n'), ['1 mailbox:', '  MAILBOX  NAME  NEW  OLD  E-MAIL', '  1002     -     1    0    -']);
  const trunks: TrunkView[] = [
    { name: 'carrier', kind: 'register', server: 'udp:sip.carrier.example:5060', state: 'registered', expires: 600, local: 'udp:192.0.2.10:40123', calls: 2, maxCalls: 10 },
    { name: 'backup', kind: 'register', server: 'udp:192.0.2.80:5060', state: 'failed: 403 Forbidden, retrying in 40 s', expires: null, local: 'udp:192.0.2.10:40125', calls: 0, maxCalls: 0 },
    { name: 'pbx2', kind: 'ip', server: 'udp:192.0.2.99:5060', state: 'ip-authenticated', expires: null, local: '', calls: 1, maxCalls: 0 },
  ];
  assert.deepEqual(formatTrunks(trunks).split('\n'), [
    '3 trunks:',
    '  TRUNK    KIND      SERVER                        STATE                                    CALLS  EXPIRES  LOCAL',
    '  carrier  register  udp:sip.carrier.example:5060  registered                               2/10   10m00s   udp:192.0.2.10:40123',
    '  backup   register  udp:192.0.2.80:5060           failed: 403 Forbidden, retrying in 40 s  0      -        udp:192.0.2.10:40125',
    '  pbx2     ip peer   udp:192.0.2.99:5060           ip-authenticated                         1      -        -',
  ]);
});

test('a conference action prints one line saying what happened, or that nothing had to', () => {
  const r = { room: '6000', number: 2, channel: 'SIP/1003-00000003', caller: '1003', name: 'Carol Cole' };
  assert.equal(actionLine({ ...r, action: 'mute', changed: true }), 'muted participant 2 (Carol Cole <1003>, SIP/1003-00000003) in conference 6000: the others no longer hear them');
  assert.equal(actionLine({ ...r, action: 'unmute', changed: false }), 'participant 2 (Carol Cole <1003>, SIP/1003-00000003) in conference 6000 was not muted');
  assert.equal(actionLine({ ...r, name: '', action: 'kick', changed: true }), 'kicked participant 2 (1003, SIP/1003-00000003) out of conference 6000: the call is hung up');
});

test('switchboard status shows the PBX counts only when a PBX runs', () => {
  const base: StatusReport = {
    version: '0.1.0', domain: '127.0.0.1', uptimeSeconds: 5, listen: ['udp:127.0.0.1:5060'], registrations: [], dialogs: [],
    transactions: { client: 0, server: 0 }, calls: { started: 0, answered: 0 }, counters: { received: 0, sent: 0, malformed: 0, authFailures: 0 }, pbx: null, webrtc: null,
  };
  assert.doesNotMatch(formatStatus(base), /PBX/);
  const text = formatStatus({
    ...base,
    pbx: { channels: 4, bridges: 1, mediaPorts: 4, queueCallers: 1, conferenceParticipants: 1, parked: 0, timers: 9, sipTransactions: 3 },
  });
  assert.match(text, /^PBX: 4 channels \(1 bridged pair\), 4 media ports, 1 in queues, 1 in conferences, 0 parked, 9 timers pending, 3 SIP transactions$/m);
});
