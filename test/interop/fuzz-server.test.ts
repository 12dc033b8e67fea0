/**
 * The structure-aware fuzzer against a running Switchboard (forked, bans
 * off, its traffic held inside the harness): 2,000 cases with the seed of
 * test/unit/fuzz.test.ts, about half single datagrams over UDP and half TCP
 * connections carrying several messages in split writes with garbage
 * framing. After every 100 cases a valid OPTIONS must get its 200 within a
 * second over UDP and over a new TCP connection, and the server must not
 * have logged an error or let an exception escape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from '../fuzz/engine.js';
import { escapeInput } from '../fuzz/escape.js';

test('2,000 cases against a running server over UDP and TCP: it keeps answering OPTIONS and logs no error', { timeout: 300_000 }, async () => {
  const s = await runFuzz({ cases: 2000, seed: 20260101, targets: ['server-udp', 'server-tcp'] });
  const crashes = (s.targets['server-udp']?.crashes ?? 0) + (s.targets['server-tcp']?.crashes ?? 0);
  assert.equal(crashes, 0, s.failures.slice(0, 3).map((f) => `${f.target} index=${f.index}: ${f.message}\n  ${escapeInput(f.input, 400)}`).join('\n'));
  assert.ok(s.server, 'the server part ran');
  assert.ok(s.targets['server-udp'].cases > 800 && s.targets['server-tcp'].cases > 800, JSON.stringify(s.targets));
  assert.equal(s.server.batches, 20);
  const t = s.server.totals;
  // The server really parsed what it was sent: most of it was malformed and counted so.
  assert.ok(t.received > 3000, `the server counted only ${t.received} messages`);
  assert.ok(t.malformed > t.received / 3, `only ${t.malformed} of ${t.received} counted as malformed`);
  assert.ok((t.malformedByStatus[400] ?? 0) > 0 && t.rejected > 0, 'malformed requests got their 400');
  // Mutated requests with valid credentials got past authentication into the registrar and the proxy.
  assert.ok(t.registrations > 10, `only ${t.registrations} mutated REGISTERs were accepted`);
  assert.ok(t.requests > 500, `the proxy handled only ${t.requests} requests`);
});
