import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { compileDialplan, type Dialplan } from '../../src/voice/dialplan/index.js';
import type { Step } from '../../src/voice/verbs.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-dialplan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const WAV = path.join(dir, 'welcome.wav');
writeFileSync(WAV, 'RIFF');
/** The WAV as a user writes it: relative to the directory switchboard runs in. */
const WAV_REL = path.relative(process.cwd(), WAV);

const BASE = `domain: 127.0.0.1
users:
  "1001": { password: "Al1ce-long-pass-77", name: Alice Archer, voicemail: { pin: "4711" } }
  "1002": { password: "B0b-long-pass-88" }
queues:
  support: { members: ["1001"] }
conferences:
  "6000": {}
calendars:
  office: { time_zone: Europe/Berlin, hours: ["mon-fri 09:00-17:00"] }
trunks:
  carrier: { host: 192.0.2.1, context: internal }
dialplan:
  internal:
    "_1XXX": [ { dial: "\${EXTEN}" } ]
  menu:
    s: [ answer ]
    "1": [ hangup ]
`;

function compile(contexts: string): Dialplan {
  return compileDialplan(parseConfig(BASE + contexts, 'sb.yaml'));
}

/** The steps of `exten` in the context `t` (the extension under test). */
function steps(stepsYaml: string, exten = 'x'): Step[] {
  const d = compile(`  t:\n    ${exten}:\n${stepsYaml.split('\n').map((l) => `      ${l}`).join('\n')}\n`);
  const found = d.find('t', exten);
  assert.ok(found);
  return found.steps.map((s) => {
    const { line: _line, ...rest } = s;
    return rest as Step;
  });
}

function refusal(contexts: string): ConfigError {
  try {
    compile(contexts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${(err as Error).stack}`);
    return err;
  }
  assert.fail(`accepted:\n${contexts}`);
}

/** The line of the first line of `contexts` (written after BASE) holding `marker`. */
function lineOf(marker: string, contexts: string): number {
  const i = contexts.split('\n').findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, marker);
  return BASE.split('\n').length - 1 + i + 1;
}

function refused(contexts: string, marker: string, key: string, message: RegExp): void {
  const e = refusal(contexts);
  assert.equal(e.key, key, e.message);
  assert.equal(e.line, lineOf(marker, contexts), e.message);
  assert.match(e.message, message);
}

test('bare words and short forms compile to the verbs of voice/verbs.ts', () => {
  assert.deepEqual(steps('- answer\n- hangup\n- hangup: 486\n- reject\n- reject: busy\n- pause\n- pause: 2.5'), [
    { verb: 'answer' },
    { verb: 'hangup' },
    { verb: 'hangup', status: 486 },
    { verb: 'reject', reason: 'rejected' },
    { verb: 'reject', reason: 'busy' },
    { verb: 'pause', length: 1 },
    { verb: 'pause', length: 2.5 },
  ]);
  assert.deepEqual(steps('- goto: menu\n- goto: "menu,1"\n- goto: { context: menu, exten: "1" }'), [
    { verb: 'goto', target: { context: 'menu' } },
    { verb: 'goto', target: { context: 'menu', exten: '1' } },
    { verb: 'goto', target: { context: 'menu', exten: '1' } },
  ]);
  assert.deepEqual(steps('- voicemail: "${EXTEN}"\n- voicemail: { mailbox: "1001", greeting: busy }\n- voicemail_main: {}\n- voicemail_main\n- voicemail_main: "1001"'), [
    { verb: 'voicemail', mailbox: '${EXTEN}', greeting: 'unavailable' },
    { verb: 'voicemail', mailbox: '1001', greeting: 'busy' },
    { verb: 'voicemail_main' },
    { verb: 'voicemail_main' },
    { verb: 'voicemail_main', mailbox: '1001' },
  ]);
  assert.deepEqual(steps('- enqueue: support\n- conference: "6000"\n- conference: { room: 6000, muted: true, leader: true }'), [
    { verb: 'enqueue', queue: 'support' },
    { verb: 'conference', room: '6000', muted: false, leader: false },
    { verb: 'conference', room: '6000', muted: true, leader: true },
  ]);
  assert.deepEqual(steps('- park\n- park: "705"\n- parked_call\n- parked_call: "701"\n- directory\n- directory: internal'), [
    { verb: 'park' },
    { verb: 'park', slot: '705' },
    { verb: 'parked_call', slot: '${EXTEN}' },
    { verb: 'parked_call', slot: '701' },
    { verb: 'directory' },
    { verb: 'directory', context: 'internal' },
  ]);
  assert.deepEqual(steps('- feature: dnd_on\n- feature: { name: forward_always, arg: "${EXTEN:3}" }\n- feature: { name: queue_login, arg: support }'), [
    { verb: 'feature', name: 'dnd_on' },
    { verb: 'feature', name: 'forward_always', arg: '${EXTEN:3}' },
    { verb: 'feature', name: 'queue_login', arg: 'support' },
  ]);
  assert.deepEqual(steps('- set: { LANG: en, TRIES: 2, VIP: true, WHO: "${CALLERID(name)}" }'), [
    { verb: 'set', vars: { LANG: 'en', TRIES: '2', VIP: 'true', WHO: '${CALLERID(name)}' } },
  ]);
  assert.deepEqual(steps('- goto_if_time: { calendar: office, then: menu, else: "menu,1" }'), [
    { verb: 'goto_if_time', calendar: 'office', then: { context: 'menu' }, else: { context: 'menu', exten: '1' } },
  ]);
});

test('dial, say, play, gather and record: short forms, defaults, every key', () => {
  assert.deepEqual(steps('- dial: "1001"\n- dial: ["1001", "sip:bob@192.0.2.5"]'), [
    { verb: 'dial', targets: [{ to: '1001' }], strategy: 'simultaneous', timeout: 30, time_limit: 14_400 },
    { verb: 'dial', targets: [{ to: '1001' }, { to: 'sip:bob@192.0.2.5' }], strategy: 'simultaneous', timeout: 30, time_limit: 14_400 },
  ]);
  assert.deepEqual(
    steps('- dial: { to: ["1001", 1002], timeout: 20, caller_id: "+4930123", strategy: sequential, trunk: carrier, time_limit: 600, ringback: moh }'),
    [
      {
        verb: 'dial', targets: [{ to: '1001' }, { to: '1002' }], strategy: 'sequential', timeout: 20, time_limit: 600,
        caller_id: '+4930123', trunk: 'carrier', ringback: 'moh',
      },
    ],
  );
  assert.deepEqual(steps('- dial: { to: "1999" }')[0], { verb: 'dial', targets: [{ to: '1999' }], strategy: 'simultaneous', timeout: 30, time_limit: 14_400 }, 'a literal extension nothing matches may be a user: fine');
  assert.deepEqual(steps('- say: "Hello"\n- say: { text: Hi, voice: en-us, loop: 2 }'), [
    { verb: 'say', text: 'Hello', loop: 1 },
    { verb: 'say', text: 'Hi', voice: 'en-us', loop: 2 },
  ]);
  assert.deepEqual(steps(`- play: ${WAV_REL}\n- play: [${WAV_REL}, ${WAV}]\n- play: { file: ${WAV_REL}, loop: 0 }\n- play: { tone: "350+440" }\n- play: { tone: "1000/200", loop: 3 }\n- play: { digits: "123#" }`), [
    { verb: 'play', files: [WAV], loop: 1 },
    { verb: 'play', files: [WAV, WAV], loop: 1 },
    { verb: 'play', files: [WAV], loop: 0 },
    { verb: 'play', files: [], loop: 1, tone: { freqs: [350, 440] } },
    { verb: 'play', files: [], loop: 3, tone: { freqs: [1000], ms: 200 } },
    { verb: 'play', files: [], loop: 1, digits: '123#' },
  ]);
  assert.deepEqual(steps('- gather: { num_digits: 4, timeout: 3, finish_on_key: "*", say: "Your PIN", var: PIN }\n- gather'), [
    { verb: 'gather', num_digits: 4, timeout: 3, finish_on_key: '*', prompts: [{ say: 'Your PIN' }], var: 'PIN' },
    { verb: 'gather', timeout: 5, finish_on_key: '#', prompts: [] },
  ]);
  assert.deepEqual(steps(`- gather: { play: ${WAV_REL}, finish_on_key: "" }\n- gather: { voice: en-gb, prompts: [ { say: Hi }, { play: ${WAV_REL} }, { tone: "440/300" } ] }`), [
    { verb: 'gather', timeout: 5, finish_on_key: '', prompts: [{ play: WAV }] },
    { verb: 'gather', timeout: 5, finish_on_key: '#', prompts: [{ say: 'Hi', voice: 'en-gb' }, { play: WAV }, { tone: { freqs: [440], ms: 300 } }] },
  ]);
  assert.deepEqual(steps('- record\n- record: { max_length: 60, timeout: 0, finish_on_key: "#", play_beep: false, var: MSG }'), [
    { verb: 'record', max_length: 3600, timeout: 5, finish_on_key: '1234567890*#', play_beep: true, var: 'RECORDING' },
    { verb: 'record', max_length: 60, timeout: 0, finish_on_key: '#', play_beep: false, var: 'MSG' },
  ]);
});

test('steps keep their line; each queue\'s after steps are compiled too', () => {
  const contexts = '  t:\n    x:\n      - answer\n      - say: hi\n';
  const d = compile(contexts);
  assert.deepEqual(d.find('t', 'x')?.steps.map((s) => s.line), [lineOf('- answer', contexts), lineOf('- say: hi', contexts)]);
  assert.equal(d.find('t', 'x')?.line, lineOf('    x:', contexts));
  const q = compileDialplan(parseConfig(BASE.replace('support: { members: ["1001"] }', 'support: { members: ["1001"], after: [ { say: "Nobody is free." }, { voicemail: "1001" } ] }'), 'sb.yaml'));
  assert.deepEqual(q.queueAfter('support').map((s) => s.verb), ['say', 'voicemail']);
  assert.deepEqual(q.queueAfter('nope'), []);
});

test('refused at start with the line and a hint: unknown verbs, bad patterns, missing contexts, extensions and WAVs', () => {
  refused('  t:\n    x:\n      - answer\n      - dail: "1001"\n', 'dail', 'dialplan.t.x.1.dail', /unknown verb "dail"; did you mean dial\? The verbs are: answer, hangup, reject, pause, play, say, gather/);
  refused('  t:\n    x:\n      - Playback: hello\n', 'Playback', 'dialplan.t.x.0.Playback', /did you mean play\?/);
  refused('  t:\n    x:\n      - frobnicate\n', 'frobnicate', 'dialplan.t.x.0.frobnicate', /unknown verb "frobnicate" The verbs are/);
  refused('  t:\n    "_1[2-": [ answer ]\n', '_1[2-', 'dialplan.t._1[2-', /bad extension pattern: "_1\[2-": the set opened at position 3 has no closing \]/);
  refused('  t:\n    "_9.X": [ answer ]\n', '_9.X', 'dialplan.t._9.X', /must come last/);
  refused('  t:\n    x:\n      - goto: main-menu\n', 'goto', 'dialplan.t.x.0.goto', /no context "main-menu" in the dialplan; contexts: internal, menu, t/);
  refused('  t:\n    x:\n      - goto: menuu\n', 'goto', 'dialplan.t.x.0.goto', /no context "menuu" in the dialplan \(did you mean menu\?\)/);
  refused('  t:\n    x:\n      - goto: "menu,9"\n', 'goto', 'dialplan.t.x.0.goto', /context "menu" has no extension matching "9"/);
  refused('  t:\n    x:\n      - goto: internal\n', 'goto', 'dialplan.t.x.0.goto', /context "internal" has no s extension, where a jump without an extension starts/);
  refused('  t:\n    x:\n      - goto: "a,b,c"\n', 'goto', 'dialplan.t.x.0.goto', /expected "context" or "context,extension"/);
  refused('  t:\n    include: [menu, nowhere]\n    x: [answer]\n', 'include', 'dialplan.t.include', /no context "nowhere" to include; contexts: /);
  refused('  t:\n    include: [t]\n    x: [answer]\n', 'include', 'dialplan.t.include', /cannot include itself/);
  refused('  t:\n    x:\n      - play: sounds/no-such.wav\n', 'play', 'dialplan.t.x.0.play.files', /no such file: .*sounds\/no-such\.wav \(relative paths start from the directory switchboard runs in\)/);
  refused(`  t:\n    x:\n      - gather: { prompts: [ { play: nope.wav } ] }\n`, 'gather', 'dialplan.t.x.0.gather.prompts', /no such file/);
  refused(`  t:\n    x:\n      - play: ${dir}\n`, 'play', 'dialplan.t.x.0.play.files', /is a folder; expected a WAV file/);
});

test('refused: queues, rooms, calendars, trunks and mailboxes that are not configured (unless only known at run time)', () => {
  refused('  t:\n    x:\n      - enqueue: suport\n', 'enqueue', 'dialplan.t.x.0.enqueue.queue', /no queue "suport" in queues \(did you mean support\?\) \(configured: support\)/);
  refused('  t:\n    x:\n      - conference: "7000"\n', 'conference', 'dialplan.t.x.0.conference.room', /no conference "7000" in conferences/);
  refused('  t:\n    x:\n      - goto_if_time: { calendar: holidays, then: menu }\n', 'goto_if_time', 'dialplan.t.x.0.goto_if_time.calendar', /no calendar "holidays"/);
  refused('  t:\n    x:\n      - dial: { to: "0301234", trunk: carier }\n', 'dial', 'dialplan.t.x.0.dial.trunk', /no trunk "carier" in trunks \(did you mean carrier\?\)/);
  refused('  t:\n    x:\n      - voicemail: "1002"\n', 'voicemail', 'dialplan.t.x.0.voicemail.mailbox', /no mailbox "1002" \(configured: 1001\); user 1002 has no voicemail: add voicemail: \{ pin: "\.\.\." \} to users\.1002/);
  refused('  t:\n    x:\n      - voicemail: "2001"\n', 'voicemail', 'dialplan.t.x.0.voicemail.mailbox', /add a user 2001 with voicemail/);
  refused('  t:\n    x:\n      - park: "799"\n', 'park', 'dialplan.t.x.0.park.slot', /"799" is not a park slot \(park\.slots: 701-720\)/);
  refused('  t:\n    x:\n      - directory: nowhere\n', 'directory', 'dialplan.t.x.0.directory.context', /no context "nowhere"/);
  refused('  t:\n    x:\n      - feature: { name: queue_login, arg: sales }\n', 'feature', 'dialplan.t.x.0.feature.arg', /no queue "sales"/);
  refused('  t:\n    x:\n      - feature: dnd\n', 'feature', 'dialplan.t.x.0.feature.name', /unknown feature "dnd"; features: queue_login/);
  // Only known when the call runs: not checked.
  assert.deepEqual(
    steps('- enqueue: "${Q}"\n- conference: "${EXTEN}"\n- voicemail: "${EXTEN}"\n- goto: "${NEXT}"\n- goto: "menu,${EXTEN:1}"\n- dial: { to: x, trunk: "${T}" }\n- play: "${FILE}"').map((s) => s.verb),
    ['enqueue', 'conference', 'voicemail', 'goto', 'goto', 'dial', 'play'],
  );
});

test('refused: bad arguments, naming the key and its own line when written over several lines', () => {
  const block = '  t:\n    x:\n      - dial:\n          to: "1001"\n          timout: 20\n';
  refused(block, 'timout', 'dialplan.t.x.0.dial.timout', /unknown key "timout" \(did you mean timeout\?\); expected one of to, timeout, caller_id, strategy, trunk, time_limit, ringback/);
  refused('  t:\n    x:\n      - dial:\n          to: "1001"\n          timeout: soon\n', 'soon', 'dialplan.t.x.0.dial.timeout', /expected a whole number, got string "soon"/);
  refused('  t:\n    x:\n      - dial: { timeout: 5 }\n', 'dial', 'dialplan.t.x.0.dial', /needs to: the extension, user, number or sip: URI to ring/);
  refused('  t:\n    x:\n      - dial: { to: "1001", strategy: hunt }\n', 'dial', 'dialplan.t.x.0.dial.strategy', /expected simultaneous or sequential/);
  refused('  t:\n    x:\n      - say: "Hello ${CALLERID(name)"\n', 'say', 'dialplan.t.x.0.say.text', /has no closing \}/);
  refused('  t:\n    x:\n      - say\n', 'say', 'dialplan.t.x.0.say.text', /needs text/);
  refused('  t:\n    x:\n      - gather: { say: Hi, play: a.wav }\n', 'gather', 'dialplan.t.x.0.gather.play', /give one of say, play or prompts \(a list, for several\), not say and play/);
  refused('  t:\n    x:\n      - gather: { finish_on_key: "##" }\n', 'gather', 'dialplan.t.x.0.gather.finish_on_key', /expected one key/);
  refused('  t:\n    x:\n      - gather: { var: "my var" }\n', 'gather', 'dialplan.t.x.0.gather.var', /expected a variable name/);
  refused('  t:\n    x:\n      - play: { tone: "loud" }\n', 'play', 'dialplan.t.x.0.play.tone', /expected a tone such as "350\+440"/);
  refused('  t:\n    x:\n      - play: { loop: 2 }\n', 'play', 'dialplan.t.x.0.play', /plays exactly one of/);
  refused('  t:\n    x:\n      - hangup: 200\n', 'hangup', 'dialplan.t.x.0.hangup.status', /between 400 and 699/);
  refused('  t:\n    x:\n      - answer: now\n', 'answer', 'dialplan.t.x.0.answer', /takes no arguments/);
  refused('  t:\n    x:\n      - set: { "1X": a }\n', 'set', 'dialplan.t.x.0.set.1X', /not a variable name/);
  refused('  t:\n    x:\n      - goto_if_time: { calendar: office }\n', 'goto_if_time', 'dialplan.t.x.0.goto_if_time', /needs then .* or else/);
  refused('  t:\n    x:\n      - reject: maybe\n', 'reject', 'dialplan.t.x.0.reject.reason', /expected busy or rejected/);
  const q = (after: string): ConfigError => {
    try {
      compileDialplan(parseConfig(BASE.replace('support: { members: ["1001"] }', `support: { members: ["1001"], after: [ ${after} ] }`), 'sb.yaml'));
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err;
    }
    assert.fail('accepted');
  };
  const e = q('{ voicemal: "1001" }');
  assert.equal(e.key, 'queues.support.after.0.voicemal');
  assert.equal(e.line, 6);
  assert.match(e.message, /did you mean voicemail\?/);
});
