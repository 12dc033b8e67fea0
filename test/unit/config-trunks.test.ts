/** The trunk and toll-fraud keys this branch adds: trunks.NAME.outbound and fraud.block_seconds. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { compileDialplan } from '../../src/voice/dialplan/dialplan.js';
import { repoRoot } from '../helpers/repo.js';

const BASE = `domain: 127.0.0.1
users:
  "1001": { password: "Al1ce-long-pass-77" }
dialplan:
  from-trunk:
    "_X.":
      - dial: { to: "1001" }
`;

function errorOf(yaml: string): ConfigError {
  try {
    parseConfig(yaml, 'sb.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${(err as Error).message}`);
    return err;
  }
  assert.fail('config was accepted');
}

test('trunks.NAME.outbound is off unless set; fraud.block_seconds defaults to 900', () => {
  const c = parseConfig(`${BASE}trunks:\n  a: { host: 192.0.2.1 }\n  b: { host: 192.0.2.2, outbound: true }\n`, 'sb.yaml');
  assert.equal(c.pbx.trunks.get('a')?.outbound, false);
  assert.equal(c.pbx.trunks.get('b')?.outbound, true);
  assert.equal(c.pbx.fraud.blockSeconds, 900);
  const f = parseConfig(`${BASE}fraud: { block_seconds: 60, user_calls_per_minute: 4 }\n`, 'sb.yaml');
  assert.equal(f.pbx.fraud.blockSeconds, 60);
  assert.equal(f.pbx.users.get('1001')?.callsPerMinute, 4);
});

test('bad values are refused with the line and key', () => {
  const outbound = errorOf(`${BASE}trunks:\n  a: { host: 192.0.2.1, outbound: maybe }\n`);
  assert.equal(outbound.key, 'trunks.a.outbound');
  assert.equal(outbound.line, 9);
  const block = errorOf(`${BASE}fraud:\n  block_seconds: 0\n`);
  assert.equal(block.key, 'fraud.block_seconds');
  assert.equal(block.line, 9);
});

test("the README's trunk example parses and compiles (with its users)", () => {
  const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
  const m = /## SIP trunks and toll fraud[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the trunk example');
  const users = `domain: 127.0.0.1
users:
  "1001": { password: "Al1ce-long-pass-77" }
  "1002": { password: "B0b-long-pass-88" }
  "1003": { password: "C4rol-long-pass-99" }
`;
  const c = parseConfig(users + m[1], 'switchboard.yaml');
  const dp = compileDialplan(c);
  assert.equal(c.pbx.trunks.get('carrier')?.register?.user, '4930123456');
  assert.deepEqual(dp.route('0301234567')?.number, '+49301234567');
  assert.deepEqual(dp.route('00441234567')?.number, '+441234567');
  assert.ok(dp.reaches('managers', '00441234567'));
  assert.equal(dp.reaches('internal', '00441234567'), false, 'internal cannot dial abroad');
});
