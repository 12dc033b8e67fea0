/**
 * A real server driven over its transaction limit by SIPp: new calls get
 * 503 + Retry-After, calls already taken still end with their BYE, and once
 * the finished transactions are gone (Timer J/L, short here: T1 = 200 ms)
 * calls go through again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Logger } from '../../src/util/log.js';
import { requirePeers } from '../helpers/peers.js';
import { sleep } from '../helpers/process.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer } from '../helpers/server.js';
import { runSipp, startSippUas, writeUsersCsv, type SippResult } from '../helpers/sipp.js';

const skip = requirePeers('sipp');
const PASS = { alice: 'Al1ce-long-pass-77', bob: 'B0b-long-pass-88' };
const MAX_TRANSACTIONS = 100;

function explain(r: SippResult): string {
  return `exit ${r.exitCode}, ${r.successful} ok, ${r.failed} failed\n${r.errors.slice(-2000)}\n${r.stderr.slice(-1000)}`;
}

test('over max_transactions new calls get 503 + Retry-After, calls in progress end normally, and the server recovers', { skip, timeout: 120_000 }, async () => {
  const lines: { msg: string; limit?: string }[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as { msg: string }) });
  const server = await startTestServer({
    users: PASS,
    log,
    sipExtra: '  timers: { T1: 200 }',
    extraYaml: `limits: { max_transactions: ${MAX_TRANSACTIONS} }`,
  });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sb-overload-'));
  const uas = await startSippUas({ scenario: 'uas-answer.xml', service: 'bob' });
  const raw = await RawSipClient.open();
  try {
    const bind = await runSipp({
      scenario: 'register-contact.xml',
      target: server.sip,
      transport: 'u1',
      keys: { user: 'bob', domain: '127.0.0.1', contact: `127.0.0.1:${uas.port}`, expires: '3600' },
      authUser: 'bob',
      authPass: PASS.bob,
      calls: 1,
      timeoutS: 20,
    });
    assert.equal(bind.successful, 1, explain(bind));
    const callers = await writeUsersCsv(path.join(tmp, 'callers.csv'), [{ user: 'alice', password: PASS.alice, domain: '127.0.0.1' }]);

    // 300 calls at 100/s, each up for 1 s: about four transactions a call live for 64*T1 = 12.8 s.
    const flood = await runSipp({
      scenario: 'uac-call-auth.xml', target: server.sip, transport: 'u1', service: 'bob', injectCsv: callers,
      calls: 300, rate: 100, pauseMs: 1000, recvTimeoutMs: 5000, timeoutS: 60,
    });
    const refused = server.stack.counters.overload.transactions;
    assert.ok(flood.failed > 0 && refused > 0, `the limit was reached: ${refused} refused; ${explain(flood)}`);
    assert.ok(flood.successful > 0, `calls were taken before the limit: ${explain(flood)}`);
    assert.match(flood.errors, /503/, 'SIPp saw the 503s');
    // Every call the server answered ended with its BYE, overload or not.
    const status = server.status();
    assert.equal(status.calls.answered, flood.successful, 'each answered call completed');
    assert.equal(status.dialogs.length, 0, 'no call left up: every BYE passed');

    // Still over the limit (the flood took a few seconds, transactions live 12.8 s): the
    // 503 carries Retry-After and costs no transaction.
    const before = server.stack.stats().transactions;
    assert.ok(before.client + before.server >= MAX_TRANSACTIONS, JSON.stringify(before));
    const probe = raw.request('OPTIONS', `sip:${server.sip}`);
    raw.send(probe, server.sip);
    const answer = (await raw.finalFor(probe)).msg;
    assert.equal(answer.status, 503);
    assert.equal(answer.get('retry-after'), '5');
    assert.ok(server.stack.stats().transactions.server <= before.server, 'no transaction for the refused OPTIONS');
    const warnings = lines.filter((l) => l.msg.startsWith('overload:'));
    assert.equal(warnings.length, 1, 'one warning for the episode, not one per refused request');
    assert.equal(warnings[0].limit, 'transactions');

    // Recovery: the finished transactions end within 64*T1, then calls are taken again.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = server.stack.stats().transactions;
      if (s.client + s.server < MAX_TRANSACTIONS / 2) break;
      assert.ok(Date.now() < deadline, `transactions still held: ${JSON.stringify(s)}`);
      await sleep(500);
    }
    const again = await runSipp({
      scenario: 'uac-call-auth.xml', target: server.sip, transport: 'u1', service: 'bob', injectCsv: callers,
      calls: 10, rate: 10, timeoutS: 30,
    });
    assert.equal(again.successful, 10, explain(again));
    assert.equal(again.failed, 0, explain(again));
  } finally {
    raw.close();
    await uas.stop();
    await server.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});
