import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { demoConfig, DEMO_NUMBERS, DEMO_USERS } from '../../src/config/demo.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { compileDialplan } from '../../src/voice/dialplan/index.js';
import { CONTRACT_YAML } from '../helpers/pbx.js';

/** Issue 8, "Contract: this config works exactly as written" — verbatim. */
const CONTRACT = CONTRACT_YAML;

function errorOf(yaml: string): ConfigError {
  try {
    compileDialplan(parseConfig(yaml, 'sb.yaml'));
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${(err as Error).stack}`);
    return err;
  }
  assert.fail(`config was accepted:\n${yaml}`);
}

/** The 1-based line of the first line of `yaml` holding `marker`. */
function lineOf(yaml: string, marker: string): number {
  const i = yaml.split('\n').findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `marker ${marker} not in the yaml`);
  return i + 1;
}

function refused(yaml: string, marker: string, key: string, message: RegExp): void {
  const e = errorOf(yaml);
  assert.equal(e.key, key, e.message);
  assert.equal(e.line, lineOf(yaml, marker), e.message);
  assert.match(e.message, message);
  assert.ok(e.message.startsWith(`sb.yaml:${e.line}: ${key}: `), e.message);
}

test('the issue contract loads exactly as written, with the values it says', () => {
  const c = parseConfig(CONTRACT, 'switchboard.yaml');
  const d = compileDialplan(c);
  const pbx = c.pbx;
  assert.deepEqual(pbx.smtp, { host: '127.0.0.1', port: 2525, from: 'voicemail@acme.example', secure: false });
  assert.deepEqual([...pbx.users.keys()], ['1001', '1002', '1003']);
  for (const u of pbx.users.values()) assert.equal(u.context, 'internal', 'users are in internal unless users.N.context says otherwise');
  assert.equal(pbx.users.get('1001')?.name, 'Alice Archer');
  assert.equal(c.users.get('1001')?.displayName, 'Alice Archer', 'the full name is the SIP display name');
  assert.deepEqual(pbx.users.get('1002')?.voicemail, { pin: '4712', email: 'bob@acme.example', maxMessageSeconds: 180 });
  assert.equal(pbx.users.get('1003')?.voicemail, undefined);
  const q = pbx.queues.get('support');
  assert.ok(q);
  assert.deepEqual([q.strategy, q.members, q.timeout, q.maxWait], ['ringall', ['1003'], 15, 60]);
  assert.deepEqual(d.queueAfter('support'), [{ verb: 'voicemail', mailbox: '1002', greeting: 'unavailable', line: 13 }]);
  assert.deepEqual(pbx.conferences.get('6000'), { name: '6000', waitForLeader: false, record: false, tones: true, maxMembers: 50, line: 15 });

  const ext = d.find('internal', '1002');
  assert.equal(ext?.pattern, '_1XXX');
  assert.deepEqual(ext?.steps, [
    { verb: 'dial', targets: [{ to: '${EXTEN}' }], strategy: 'simultaneous', timeout: 15, time_limit: 14_400, line: 19 },
    { verb: 'voicemail', mailbox: '${EXTEN}', greeting: 'unavailable', line: 20 },
  ]);
  assert.deepEqual(d.find('internal', '500')?.steps, [{ verb: 'goto', target: { context: 'main-menu' }, line: 22 }]);
  assert.deepEqual(d.find('internal', '6000')?.steps, [{ verb: 'conference', room: '6000', muted: false, leader: false, line: 24 }]);
  assert.deepEqual(d.find('internal', '*98')?.steps, [{ verb: 'voicemail_main', line: 26 }]);
  assert.deepEqual(d.find('main-menu', 's')?.steps, [
    { verb: 'answer', line: 29 },
    {
      verb: 'gather',
      num_digits: 1,
      timeout: 5,
      finish_on_key: '#',
      prompts: [{ say: 'Thank you for calling Acme Corporation. For sales, press 1. For support, press 2.' }],
      line: 30,
    },
  ]);
  assert.deepEqual(d.find('main-menu', '1')?.steps, [
    { verb: 'dial', targets: [{ to: '1001' }, { to: '1003' }], strategy: 'simultaneous', timeout: 20, time_limit: 14_400, line: 32 },
  ]);
  assert.deepEqual(d.find('main-menu', '2')?.steps, [{ verb: 'enqueue', queue: 'support', line: 34 }]);
  assert.deepEqual(d.find('main-menu', 'i')?.steps.map((s) => s.verb), ['say', 'goto']);
  assert.equal(d.find('main-menu', '9'), undefined, 'an invalid key finds nothing: the engine runs i');
  assert.ok(d.knows('1002') && d.knows('500') && d.knows('*98') && d.knows('6000'));
  assert.ok(!d.knows('2000'), 'a number no context matches stays with the proxy');
});

test('defaults: a config without PBX keys has an empty PBX and no dialplan numbers', () => {
  const c = parseConfig('domain: a.example\nusers:\n  bob: { password: "B0b-long-pass-88" }\n', 'x.yaml');
  const p = c.pbx;
  assert.deepEqual(p.users.get('bob'), { context: 'internal', forward: {}, dnd: false, allow: [], maxCalls: 8, callsPerMinute: 10, line: 3 });
  assert.equal(p.dialplan.size, 0);
  assert.deepEqual(p.park, { exten: '700', first: 701, last: 720, timeout: 45 });
  assert.deepEqual(p.features, { blindTransfer: '##', attendedTransfer: '*2' });
  assert.deepEqual(p.fraud, { maxCalls: 0, userMaxCalls: 8, userCallsPerMinute: 10, blockSeconds: 900 });
  assert.equal(p.smtp, undefined);
  assert.equal(p.defaultContext, 'internal');
  const d = compileDialplan(c);
  assert.deepEqual(d.contexts(), [], 'no parkedcalls without a dialplan: calls to 700 stay phone to phone');
  assert.ok(!d.knows('700') && !d.knows('bob'));
});

test('every PBX key is read: users, queues, conferences, trunks, routes, calendars, smtp, park, features, fraud', () => {
  const yaml = `domain: 127.0.0.1
fraud: { max_calls: 40, user_max_calls: 3, user_calls_per_minute: 5 }
users:
  "0100":
    password: "Zer0-lead-pass-1"
    display_name: Reception
    name: "  Rita Reyes "
    context: staff
    voicemail: { pin: "0472", email: rita@acme.example, max_message: 60 }
    forward: { always: "+4930123456", busy: "1002", no_answer: 0171234567 }
    follow_me: 0171234567
    dnd: true
    allow: [10.0.0.0/8, 192.0.2.7]
    max_calls: 2
  "1002": { password: "B0b-long-pass-88", calls_per_minute: 0 }
queues:
  sales: { strategy: leastrecent, members: ["0100", "sip:agent@192.0.2.9"], timeout: 20, max_wait: 300, wrap_up: 10, announce_every: 45, service_level: 20, after: [hangup] }
conferences:
  "6001": { pin: "1234", leader_pin: "9876", wait_for_leader: true, record: true, tones: false, max_members: 10 }
trunks:
  carrier:
    host: sip.carrier.example
    transport: tls
    register: { user: "4930123", password: "carrier-secret", expires: 600 }
    context: staff
    dids: { "+4930123456": staff, 4930999: staff }
    codecs: [pcma, G722]
    caller_id: "+4930123456"
    max_calls: 30
    listen: 127.0.0.1:5081
  peer: { host: 192.0.2.50, context: staff }
routes:
  - { name: international, patterns: ["_00."], strip: 2, prepend: "+", trunks: [carrier, peer] }
  - { patterns: "_0Z.", strip: 1, prepend: "+49", trunks: carrier }
calendars:
  office: { time_zone: Europe/Berlin, hours: ["mon-fri 09:00-12:00,13:00-17:00", "sat 10:00-14:00"], holidays: ["2026-12-25", "01-01"] }
  always: {}
smtp: { host: mail.acme.example, port: 465, from: pbx@acme.example, user: pbx, password: "mail-secret" }
park: { exten: "*70", slots: "71-79", timeout: 90 }
features: { blind_transfer: "*1", attended_transfer: "*3" }
dialplan:
  staff:
    "_X.": [ { dial: { to: "\${EXTEN}" } } ]
`;
  const c = parseConfig(yaml, 'x.yaml');
  const p = c.pbx;
  const u = p.users.get('0100');
  assert.ok(u, 'a quoted user name keeps its leading zero');
  assert.deepEqual(u, {
    name: 'Rita Reyes',
    context: 'staff',
    voicemail: { pin: '0472', email: 'rita@acme.example', maxMessageSeconds: 60 },
    forward: { always: '+4930123456', busy: '1002', noAnswer: '0171234567' },
    followMe: '0171234567',
    dnd: true,
    allow: ['10.0.0.0/8', '192.0.2.7'],
    maxCalls: 2,
    callsPerMinute: 5,
    line: 4,
  });
  assert.equal(c.users.get('0100')?.displayName, 'Reception', 'display_name wins over name');
  assert.equal(p.users.get('1002')?.maxCalls, 3, 'fraud.user_max_calls is the default');
  assert.equal(p.users.get('1002')?.callsPerMinute, 0);
  assert.deepEqual(p.fraud, { maxCalls: 40, userMaxCalls: 3, userCallsPerMinute: 5, blockSeconds: 900 });
  const q = p.queues.get('sales');
  assert.deepEqual({ ...q, after: q?.after.map((s) => s.name) }, {
    name: 'sales', strategy: 'leastrecent', members: ['0100', 'sip:agent@192.0.2.9'], timeout: 20, maxWait: 300, wrapUp: 10,
    announceEvery: 45, serviceLevel: 20, after: ['hangup'], line: 17,
  });
  assert.deepEqual(p.conferences.get('6001'), {
    name: '6001', pin: '1234', leaderPin: '9876', waitForLeader: true, record: true, tones: false, maxMembers: 10, line: 19,
  });
  const t = p.trunks.get('carrier');
  assert.deepEqual(t, {
    name: 'carrier', host: 'sip.carrier.example', port: 5061, transport: 'tls',
    register: { user: '4930123', password: 'carrier-secret', expires: 600 },
    allow: [], context: 'staff', dids: new Map([['+4930123456', 'staff'], ['4930999', 'staff']]), codecs: ['PCMA', 'G722'],
    callerId: '+4930123456', maxCalls: 30, outbound: false, listen: { proto: 'tls', address: '127.0.0.1', port: 5081 }, line: 21,
  });
  const peer = p.trunks.get('peer');
  assert.deepEqual([peer?.port, peer?.transport, peer?.allow, peer?.codecs, peer?.register], [5060, 'udp', ['192.0.2.50'], ['PCMU', 'PCMA'], undefined]);
  assert.deepEqual(p.routes, [
    { name: 'international', patterns: ['_00.'], strip: 2, prepend: '+', trunks: ['carrier', 'peer'], line: 33 },
    { name: 'route2', patterns: ['_0Z.'], strip: 1, prepend: '+49', trunks: ['carrier'], line: 34 },
  ]);
  const cal = p.calendars.get('office');
  assert.deepEqual(cal?.hours, [
    { days: [1, 2, 3, 4, 5], from: 540, to: 720 },
    { days: [1, 2, 3, 4, 5], from: 780, to: 1020 },
    { days: [6], from: 600, to: 840 },
  ]);
  assert.deepEqual(cal?.holidays, ['2026-12-25', '01-01']);
  assert.deepEqual(p.calendars.get('always')?.hours, []);
  assert.equal(p.calendars.get('always')?.timeZone, Intl.DateTimeFormat().resolvedOptions().timeZone, "the host's zone by default");
  assert.deepEqual(p.smtp, { host: 'mail.acme.example', port: 465, from: 'pbx@acme.example', user: 'pbx', password: 'mail-secret', secure: true });
  assert.deepEqual(p.park, { exten: '*70', first: 71, last: 79, timeout: 90 });
  assert.deepEqual(p.features, { blindTransfer: '*1', attendedTransfer: '*3' });

  const d = compileDialplan(c);
  assert.deepEqual(d.route('004420123'), { route: p.routes[0], number: '+4420123' });
  assert.deepEqual(d.route('030123456'), { route: p.routes[1], number: '+4930123456' });
  assert.equal(d.route('123'), undefined);
  assert.equal(d.find('parkedcalls', '75')?.steps[0].verb, 'parked_call', 'park.slots make the parkedcalls extensions');
});

test('weak SIP passwords are refused at start with the line and what a good one looks like', () => {
  const user = (name: string, pw: string): string => `domain: a.example\nusers:\n  ${name}:\n    password: ${JSON.stringify(pw)}\n`;
  const digits = errorOf(user('"1001"', '12345678'));
  assert.equal(digits.line, 4);
  assert.equal(digits.key, 'users.1001.password');
  assert.match(digits.message, /too weak: digits only .*use 12 or more characters mixing letters, digits and symbols/);
  assert.match(errorOf(user('alice-smith', 'Alice-Smith')).message, /users\.alice-smith\.password: too weak: it is the user name/);
  assert.match(errorOf(user('"1001"', 'my-1001-phone')).message, /too weak: it contains the user name "1001"/);
  assert.match(errorOf(user('bob', 'short')).message, /too short: use at least 8 characters/);
  // Two-letter names are not searched for inside passwords: "al" is in too many good ones.
  assert.equal(parseConfig(user('al', 'Totally-normal-pass-9'), 'x.yaml').users.get('al')?.password, 'Totally-normal-pass-9');
});

test('each PBX refusal names the line, the key and what to write', () => {
  const base = 'domain: a.example\nusers:\n  "1001": { password: "Al1ce-long-pass-77" }\n';
  refused(`${base}  "1002": { password: "B0b-long-pass-88", voicemail: { pin: "12" } }\n`, '"1002"', 'users.1002.voicemail.pin', /expected 4 to 10 digits/);
  refused(`${base}  "1002": { password: "B0b-long-pass-88", voicemail: { email: b@x.example } }\n`, '"1002"', 'users.1002.voicemail.pin', /required: 4 to 10 digits/);
  refused(`${base}  "1002": { password: "B0b-long-pass-88", voicemail: { pin: "1002" } }\n`, '"1002"', 'users.1002.voicemail.pin', /is the mailbox number/);
  refused(`${base}  "1002": { password: "B0b-long-pass-88", voicemail: { pin: "4712", email: bob } }\n`, '"1002"', 'users.1002.voicemail.email', /mail address/);
  refused(`${base}  "1002":\n    password: "B0b-long-pass-88"\n    nickname: Bobby\n`, 'nickname', 'users.1002.nickname', /unknown key; expected one of password, ha1, ha1_sha256, display_name, name, context, voicemail, forward, follow_me, dnd, allow, max_calls, calls_per_minute/);
  refused(`${base}  "1002":\n    password: "B0b-long-pass-88"\n    context: sales\n`, 'context', 'users.1002.context', /no context "sales" in the dialplan \(it has none\)/);
  refused(`${base}  "1002":\n    password: "B0b-long-pass-88"\n    allow: [10.0.0.0/33]\n`, 'allow', 'users.1002.allow.0', /CIDR/);
  refused(`${base}  "1002":\n    password: "B0b-long-pass-88"\n    forward: { always: "call me" }\n`, 'forward', 'users.1002.forward.always', /expected an extension, a user, a number/);
  refused(`${base}queues:\n  support: { members: ["1009"] }\n`, 'support', 'queues.support.members.0', /"1009" is not one of the users \(1001\)/);
  refused(`${base}queues:\n  support: { strategy: linear }\n`, 'support', 'queues.support.strategy', /expected one of ringall, roundrobin, leastrecent, fewestcalls, random/);
  refused(`${base}queues:\n  support:\n    members: ["1001"]\n    moh: ./no-such-moh-folder\n`, 'moh', 'queues.support.moh', /no such folder: .*no-such-moh-folder/);
  refused(`${base}conferences:\n  "6000": { pin: "1234", leader_pin: "1234" }\n`, '6000', 'conferences.6000.leader_pin', /must differ from pin/);
  refused(`${base}conferences:\n  "6000": { members: 5 }\n`, '6000', 'conferences.6000.members', /unknown key; expected one of pin, leader_pin, wait_for_leader, record, tones, max_members/);
  refused(`${base}trunks:\n  carrier: { port: 5060 }\n`, 'carrier', 'trunks.carrier.host', /required: the carrier's SIP server/);
  refused(`${base}trunks:\n  carrier: { host: sip.carrier.example }\n`, 'carrier', 'trunks.carrier.allow', /an IP-authenticated trunk \(no register:\) .* allow: \[/);
  refused(`${base}trunks:\n  carrier: { host: 192.0.2.1, codecs: [PCMU, G729] }\n`, 'carrier', 'trunks.carrier.codecs.1', /unknown codec "G729"; expected some of PCMU, PCMA, G722, opus/);
  refused(`${base}trunks:\n  carrier:\n    host: 192.0.2.1\n    register: { user: acct }\n`, 'register', 'trunks.carrier.register.password', /required/);
  refused(
    `${base}trunks:\n  carrier: { host: 192.0.2.1 }\n`,
    'carrier',
    'trunks.carrier',
    /no context "from-trunk" in the dialplan .*inbound calls from a trunk start in "from-trunk" unless trunks\.carrier\.context names another/,
  );
  refused(`${base}trunks:\n  carrier: { host: 192.0.2.1, context: x, dids: { "+4930123": nowhere } }\ndialplan:\n  x: { s: [answer] }\n`, 'carrier', 'trunks.carrier.dids.+4930123', /no context "nowhere" in the dialplan \(it has x\)/);
  refused(`${base}trunks:\n  carrier: { host: 192.0.2.1, transport: tcp, listen: "udp:127.0.0.1:5090", context: x }\ndialplan:\n  x: { s: [answer] }\n`, 'carrier', 'trunks.carrier.listen', /listens on udp but the trunk's transport is tcp/);
  refused(`${base}routes:\n  - { patterns: ["_0."], trunks: [nope] }\n`, 'nope', 'routes.0.trunks.0', /no trunk "nope" \(trunks: none configured\)/);
  refused(`${base}routes:\n  - { name: out, trunks: [] }\n`, 'name: out', 'routes.0.patterns', /required: the numbers this route carries/);
  refused(`${base}calendars:\n  office: { time_zone: Mars/Olympus }\n`, 'office', 'calendars.office.time_zone', /not a time zone this system knows.*Europe\/Berlin/);
  refused(`${base}calendars:\n  office:\n    hours: ["mon-fri 09:00-17:00", "sun 18:00-09:00"]\n`, 'hours', 'calendars.office.hours.1', /ends before it starts; a range over midnight is two entries/);
  refused(`${base}calendars:\n  office:\n    hours: ["mon-fry 09:00-17:00"]\n`, 'hours', 'calendars.office.hours.0', /"fry" is not a weekday/);
  refused(`${base}calendars:\n  office:\n    holidays: ["2026-02-30"]\n`, 'holidays', 'calendars.office.holidays.0', /not a date in the calendar/);
  refused(`${base}smtp: { host: mail.example.com }\n`, 'smtp', 'smtp.from', /required: the sender of voicemail mails/);
  refused(`${base}smtp: { host: mail.example.com, from: a@b.example, user: x }\n`, 'smtp', 'smtp.password', /give both user and password/);
  refused(`${base}park: { slots: "720-701" }\n`, 'park', 'park.slots', /expected a range/);
  refused(`${base}park: { exten: "705" }\n`, 'park', 'park.exten', /705 is one of the slots 701-720/);
  refused(`${base}features: { blind_transfer: "*2" }\n`, 'features', 'features.attended_transfer', /overlap/);
  refused(`${base}fraud: { user_max_calls: -1 }\n`, 'fraud', 'fraud.user_max_calls', /between 0 and 100000/);
  refused(`${base}dialplan:\n  "main menu": { s: [answer] }\n`, 'main menu', 'dialplan.main menu', /context names may hold letters, digits, _ and - only/);
  refused(`${base}dialplan:\n  x:\n    s:\n      - answer\n      - { say: hi, hangup: 1 }\n`, 'say: hi', 'dialplan.x.s.1', /a step is one verb, but this one has say and hangup: give each its own list item/);
  refused(`${base}dialplan:\n  x:\n    s:\n`, '    s:', 'dialplan.x.s', /needs steps/);
  refused(`${base}dialplan:\n  x:\n    include: ["no such"]\n`, 'include', 'dialplan.x.include.0', /expected a context name/);
  refused(`${base}voicemail_to_email: true\n`, 'voicemail_to_email', 'voicemail_to_email', /unknown key; expected one of .*queues, conferences, trunks, routes, calendars, park, moh, features, fraud, dialplan/);
});

test('numbers keep the digits they were written with: leading zeros and plus signs are not YAML integers', () => {
  const c = parseConfig(
    'domain: a.example\nusers:\n  007: { password: "B0nd-long-pass-7", forward: { always: 0049301234 } }\ndialplan:\n  x:\n    00:\n      - dial: { to: +4930123 }\n',
    'x.yaml',
  );
  assert.deepEqual([...c.users.keys()], ['007']);
  assert.equal(c.pbx.users.get('007')?.forward.always, '0049301234');
  const ext = c.pbx.dialplan.get('x')?.extensions[0];
  assert.equal(ext?.pattern, '00');
  assert.deepEqual(ext?.steps[0].args, { to: '+4930123' });
});

test('domain: auto is this host\'s address, with every local address as an alias and advertised', () => {
  const c = parseConfig('domain: auto\naliases: [pbx.example]\n', 'x.yaml');
  assert.notEqual(c.domain, 'auto');
  assert.match(c.domain, /^[\d.]+$|:/);
  assert.equal(c.sip.advertise, c.domain);
  assert.ok(c.aliases.includes('pbx.example') && c.aliases.includes('127.0.0.1') && c.aliases.includes(c.domain));
});

test('the demo office: written once as a commented config, never overwritten, loaded and compiled like any other', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-demo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // An older demo kept its passwords in demo-users.json: they are carried over, so its phones stay registered.
  writeFileSync(path.join(dir, 'demo-users.json'), JSON.stringify({ '1001': 'Old-demo-pass-x7Kq' }));
  const first = demoConfig(dir);
  assert.equal(first.created, true);
  assert.equal(first.configFile, path.join(dir, 'switchboard.yaml'));
  assert.equal(first.passwordFile, first.configFile);
  assert.deepEqual([...first.generated.keys()], ['1002', '1003'], 'only passwords made now are "generated"');
  const c = first.config;
  assert.equal(c.file, first.configFile);
  assert.equal(c.data, dir);
  assert.notEqual(c.domain, 'auto');
  assert.deepEqual([...c.users.keys()], DEMO_USERS);
  assert.equal(c.users.get('1001')?.password, 'Old-demo-pass-x7Kq');
  for (const u of ['1002', '1003']) {
    assert.equal(c.users.get(u)?.password, first.generated.get(u));
    assert.ok((c.users.get(u)?.password?.length ?? 0) >= 16);
  }
  for (const u of DEMO_USERS) assert.match(c.pbx.users.get(u)?.voicemail?.pin ?? '', /^\d{6}$/);
  assert.deepEqual(c.sip.listen.map((l) => `${l.proto}:${l.address}:${l.port}`), ['udp:0.0.0.0:5060', 'tcp:0.0.0.0:5060', 'tls:0.0.0.0:5061', 'ws:0.0.0.0:8080']);
  assert.deepEqual(c.admin.listen, { address: '127.0.0.1', port: 8089 });

  const d = compileDialplan(c);
  const n = DEMO_NUMBERS;
  const ctx = c.pbx.users.get('1001')?.context ?? '';
  const verbs = (context: string, exten: string): string[] => d.find(context, exten)?.steps.map((s) => s.verb) ?? [];
  assert.deepEqual(verbs(ctx, n.mainNumber), ['goto']);
  const menu = d.find('main-menu', 's')?.steps[1];
  assert.ok(menu?.verb === 'gather');
  assert.deepEqual(menu.prompts, [{ say: 'Thank you for calling Acme Corporation. For sales, press 1. For support, press 2. For the company directory, press 3.' }]);
  const sales = d.find('main-menu', n.menu.sales)?.steps[0];
  assert.ok(sales?.verb === 'dial');
  assert.deepEqual([sales.targets.map((x) => x.to), sales.strategy], [['1001', '1002'], 'simultaneous']);
  assert.deepEqual(verbs('main-menu', n.menu.support), ['enqueue']);
  assert.deepEqual(d.queueAfter(n.supportQueue), [{ verb: 'voicemail', mailbox: '1003', greeting: 'unavailable', line: lineOf(readFileSync(first.configFile, 'utf8'), 'support: {') }]);
  assert.deepEqual(verbs('main-menu', n.menu.directory), ['directory']);
  assert.deepEqual(verbs('main-menu-again', n.menu.support), ['enqueue'], 'the second try includes the menu keys');
  assert.deepEqual(verbs('main-menu-again', 't'), ['say', 'hangup'], 'and ends the call after it');
  assert.deepEqual(verbs(ctx, n.conference), ['conference']);
  assert.deepEqual(verbs(ctx, n.voicemailMain), ['voicemail_main']);
  assert.deepEqual(verbs(ctx, n.park), ['park']);
  assert.deepEqual(verbs(ctx, '720'), ['parked_call']);
  assert.deepEqual(verbs(ctx, '1003'), ['dial', 'voicemail']);
  for (const code of [n.queueLogin, n.queueLogout, `${n.forwardAlways}1002`, `${n.forwardBusy}1002`, `${n.forwardNoAnswer}1002`, n.forwardOff, n.dndOn, n.dndOff]) {
    assert.deepEqual(verbs(ctx, code), ['feature'], code);
  }
  assert.equal(d.find(ctx, '90301234'), undefined, 'no outside calls until the trunk is filled in');

  // Never overwritten: the user's edits stay, and nothing is generated again.
  const edited = readFileSync(first.configFile, 'utf8').replace('name: Carol Cole', 'name: Carol Cooper');
  writeFileSync(first.configFile, edited);
  const second = demoConfig(dir);
  assert.equal(second.created, false);
  assert.equal(second.generated.size, 0);
  assert.equal(second.config.pbx.users.get('1003')?.name, 'Carol Cooper');
  assert.equal(second.config.users.get('1002')?.password, c.users.get('1002')?.password);

  // The commented trunk works once its lines are uncommented.
  const lines = edited.split('\n');
  const from = lines.findIndex((l) => l.startsWith('# trunks:'));
  const to = lines.findIndex((l) => l.startsWith('#   - { name: outside'));
  const withTrunk = lines
    .map((l, i) => ((i >= from && i <= to) || /^ {4}# ("_9\.":| {2}- dial)/.test(l) ? l.replace('# ', '') : l))
    .join('\n');
  const t2 = compileDialplan(parseConfig(withTrunk, 'demo.yaml'));
  assert.deepEqual(t2.find(ctx, '90301234')?.steps.map((s) => s.verb), ['dial']);
  assert.deepEqual(t2.route('90301234'), { route: parseConfig(withTrunk, 'demo.yaml').pbx.routes[0], number: '0301234' });

  // An edit that breaks it is refused like any config, naming the demo's file.
  writeFileSync(first.configFile, edited.replace('- enqueue: support', '- enqueue: sales'));
  assert.throws(() => compileDialplan(demoConfig(dir).config), (e: unknown) => e instanceof ConfigError && e.file === first.configFile && /no queue "sales"/.test(e.message));
});
