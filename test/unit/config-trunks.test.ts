/** The trunk and toll-fraud keys this branch adds: trunks.NAME.outbound and fraud.block_seconds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.js';

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
