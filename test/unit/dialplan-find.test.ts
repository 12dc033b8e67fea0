import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { compileDialplan, type Dialplan } from '../../src/voice/dialplan/index.js';
import { repoRoot } from '../helpers/repo.js';

function dialplan(contexts: string, extra = ''): Dialplan {
  return compileDialplan(parseConfig(`domain: 127.0.0.1\n${extra}dialplan:\n${contexts}`, 'sb.yaml'));
}

/** Which extension (context/pattern) runs. */
function runs(d: Dialplan, context: string, exten: string): string | undefined {
  const m = d.find(context, exten);
  return m && `${m.context}/${m.pattern}`;
}

test('within a context the most specific extension runs; then the includes, depth-first in the order written', () => {
  const d = dialplan(`  top:
    include: [first, second]
    "_9.": [ hangup ]
  first:
    include: [deep]
    "_1XXX": [ hangup ]
  second:
    "1001": [ hangup ]
    "2000": [ hangup ]
    "_3XX": [ hangup ]
  deep:
    "_3XX": [ hangup ]
    "_[3-4]XX": [ hangup ]
`);
  assert.equal(runs(d, 'top', '91234'), 'top/_9.');
  // first is searched (with its includes) before second, even though second has 1001 exactly.
  assert.equal(runs(d, 'top', '1001'), 'first/_1XXX');
  assert.equal(runs(d, 'top', '2000'), 'second/2000');
  // deep (included by first) comes before second.
  assert.equal(runs(d, 'top', '300'), 'deep/_3XX');
  assert.equal(runs(d, 'top', '400'), 'deep/_[3-4]XX');
  assert.equal(runs(d, 'second', '300'), 'second/_3XX');
  assert.equal(runs(d, 'top', '5'), undefined);
  assert.equal(runs(d, 'nowhere', '1001'), undefined);
  assert.ok(d.hasContext('deep') && !d.hasContext('nowhere'));
});

test('a context\'s own extensions come before its includes, even a less specific one (as in Asterisk)', () => {
  const d = dialplan(`  office:
    include: [local]
    "_X.": [ hangup ]
  local:
    "1001": [ hangup ]
`);
  assert.equal(runs(d, 'office', '1001'), 'office/_X.');
  assert.equal(runs(d, 'local', '1001'), 'local/1001');
});

test('include loops are harmless', () => {
  const d = dialplan(`  a:
    include: [b]
    "1": [ hangup ]
  b:
    include: [a, c]
    "2": [ hangup ]
  c:
    include: [b]
    "3": [ hangup ]
`);
  assert.equal(runs(d, 'a', '3'), 'c/3');
  assert.equal(runs(d, 'c', '1'), 'a/1');
  assert.equal(runs(d, 'a', '9'), undefined);
  assert.equal(d.canMatchMore('a', '9'), false);
  assert.equal(d.reaches('c', '4'), false);
});

test('s, i, t and h are plain names: only an extension written so runs, never a pattern', () => {
  const d = dialplan(`  menu:
    include: [fallback]
    "_.": [ hangup ]
    "_[a-z]": [ hangup ]
    s: [ answer ]
  fallback:
    i: [ hangup ]
`);
  assert.equal(runs(d, 'menu', 's'), 'menu/s');
  assert.equal(runs(d, 'menu', 'i'), 'fallback/i', 'i found in an include, not matched by _. or _[a-z]');
  assert.equal(runs(d, 'menu', 't'), undefined);
  assert.equal(runs(d, 'menu', 'h'), undefined);
  assert.equal(runs(d, 'menu', 'x'), 'menu/_[a-z]');
  assert.equal(runs(d, 'menu', '42'), 'menu/_.');
  assert.ok(!d.knows('s') && !d.knows('i') && !d.knows('t'));
});

test('canMatchMore tells an IVR whether to wait for another key', () => {
  const d = dialplan(`  menu:
    include: [staff]
    "1": [ hangup ]
    "12": [ hangup ]
    "3": [ hangup ]
    i: [ hangup ]
  staff:
    "_4XX": [ hangup ]
    "_9.": [ hangup ]
`);
  assert.equal(d.canMatchMore('menu', ''), true);
  assert.equal(d.canMatchMore('menu', '1'), true, '1 runs, but 12 could still come');
  assert.equal(d.canMatchMore('menu', '12'), false);
  assert.equal(d.canMatchMore('menu', '3'), false, '3 is complete: run it at once');
  assert.equal(d.canMatchMore('menu', '4'), true, 'through the include');
  assert.equal(d.canMatchMore('menu', '42'), true);
  assert.equal(d.canMatchMore('menu', '420'), false);
  assert.equal(d.canMatchMore('menu', '9'), true);
  assert.equal(d.canMatchMore('menu', '91234'), true);
  assert.equal(d.canMatchMore('menu', '5'), false);
  assert.equal(d.canMatchMore('menu', 'i'), false, 'special names are never a prefix');
});

test('knows: any context runs the number (the proxy hands such calls to the PBX)', () => {
  const d = dialplan(`  internal:
    "_1XXX": [ hangup ]
    "500": [ hangup ]
  hidden:
    "*98": [ hangup ]
`);
  assert.ok(d.knows('1001') && d.knows('500') && d.knows('*98'));
  assert.ok(!d.knows('100') && !d.knows('5000') && !d.knows('alice'));
  assert.ok(d.knows('700') && d.knows('720') && !d.knows('721'), 'park and its slots, generated from park:');
});

test('reaches is the class of service: international and premium only where a context includes them', () => {
  const yaml = `  internal:
    include: [national, parkedcalls]
    "_1XXX": [ hangup ]
  managers:
    include: [internal, international]
  national:
    "_0[1-8].": [ { dial: "\${EXTEN}" } ]
  international:
    "_00.": [ { dial: "\${EXTEN}" } ]
    "_011.": [ { dial: "\${EXTEN}" } ]
    "_0900.": [ { dial: "\${EXTEN}" } ]
  from-trunk:
    "_X.": [ { goto: "internal,1001" } ]
`;
  const users = `users:
  "1001": { password: "Al1ce-long-pass-77" }
  "1002": { password: "B0b-long-pass-88", context: managers }
`;
  const d = dialplan(yaml, users);
  assert.equal(d.reaches('internal', '0301234567'), true, 'national');
  assert.equal(d.reaches('internal', '0044207123'), false, 'international: not for internal');
  assert.equal(d.reaches('internal', '09001234567'), false, 'premium: not for internal');
  assert.equal(d.reaches('managers', '09001234567'), true);
  assert.equal(d.reaches('managers', '0044207123'), true);
  assert.equal(d.reaches('managers', '011442071234'), true);
  assert.equal(d.reaches('managers', '1001'), true);
  assert.equal(d.reaches('internal', '701'), true, 'park slots through parkedcalls');
  assert.equal(d.reaches('from-trunk', '0044207123'), true, 'from-trunk matches everything, but only to jump into internal');
  assert.equal(d.find('from-trunk', '0044207123')?.steps[0].verb, 'goto');
  assert.equal(d.reaches('internal', 's'), false);
});

test('a user-defined parkedcalls replaces the generated one; routes pick the first match in order', () => {
  const d = dialplan(
    `  internal:
    include: [parkedcalls]
  parkedcalls:
    "800": [ park ]
`,
    `trunks:
  a: { host: 192.0.2.1, context: internal }
  b: { host: 192.0.2.2, context: internal }
routes:
  - { name: emergency, patterns: ["112", "_11[02]"], trunks: [a, b] }
  - { name: national, patterns: ["_0Z."], strip: 1, prepend: "+49", trunks: [b] }
  - { name: anything, patterns: ["_X."], trunks: [a] }
`,
  );
  assert.equal(runs(d, 'internal', '800'), 'parkedcalls/800');
  assert.equal(runs(d, 'internal', '700'), undefined);
  assert.equal(d.route('112')?.route.name, 'emergency');
  assert.equal(d.route('110')?.route.name, 'emergency');
  assert.deepEqual([d.route('0301234')?.route.name, d.route('0301234')?.number], ['national', '+49301234']);
  assert.deepEqual([d.route('111')?.route.name, d.route('111')?.number], ['anything', '111']);
  assert.equal(d.route('*98'), undefined);
});

test('the README\'s dialplan example compiles and does what its comments say', () => {
  const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
  const m = /## Dialplan[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a Dialplan example');
  const d = compileDialplan(parseConfig(`domain: 127.0.0.1\n${m[1]}`, 'README.md'));
  assert.equal(runs(d, 'internal', '1001'), 'internal/_1XXX');
  assert.equal(runs(d, 'internal', '0301234'), 'outside/_0Z.');
  assert.equal(runs(d, 'internal', '701'), 'parkedcalls/701');
  assert.deepEqual(d.find('main-menu', 's')?.steps.map((s) => s.verb), ['answer', 'goto_if_time', 'gather']);
  assert.equal(d.reaches('internal', '0044207'), false);
});
