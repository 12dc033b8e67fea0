/**
 * Limits that refuse new work with 503 + Retry-After before memory runs out:
 * a real SipStack (and a real server for the dialog limit) on loopback,
 * exact messages from a raw socket, RFC 3261 timers in virtual time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { SipMessage } from '../../src/sip/message.js';
import { OverloadGuard, type HeapSample } from '../../src/sip/overload.js';
import { SipStack, type StackLimits } from '../../src/sip/stack.js';
import type { ServerTransaction } from '../../src/sip/transaction/index.js';
import { VirtualClock } from '../../src/util/clock.js';
import { parseListen } from '../../src/util/listen.js';
import type { Logger } from '../../src/util/log.js';
import { RawSipClient } from '../helpers/raw-sip.js';
import { startTestServer } from '../helpers/server.js';

interface LogLine {
  level: number;
  msg: string;
  limit?: string;
  refused?: number;
}

function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log: Logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

interface Rig {
  clock: VirtualClock;
  stack: SipStack;
  raw: RawSipClient;
  to: string;
  /** Requests the TU saw, with their transactions. */
  seen: { req: SipMessage; tx: ServerTransaction }[];
  lines: LogLine[];
  heap: HeapSample;
}

/**
 * A stack whose TU answers 200 at once, except INVITE (180, left ringing so
 * CANCEL has something to cancel). `heap` is what the injected probe reads.
 */
async function withStack(limits: StackLimits, body: (r: Rig) => Promise<void>): Promise<void> {
  const clock = new VirtualClock();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-overload-'));
  const { log, lines } = captureLog();
  const heap: HeapSample = { usedBytes: 100 * 2 ** 20, limitBytes: 1000 * 2 ** 20 };
  const seen: Rig['seen'] = [];
  const stack: SipStack = new SipStack({
    clock,
    listen: [parseListen('udp:127.0.0.1:0')],
    timers: { T1: 500, T2: 4000, T4: 5000 },
    dataDir: dir,
    log,
    limits: { heapProbe: () => heap, ...limits },
    handlers: {
      onRequest: (req, tx) => {
        seen.push({ req, tx });
        if (req.method === 'INVITE') {
          tx.respond(stack.makeResponse(req, 180, 'Ringing', [], 'callee'));
          return;
        }
        tx.respond(stack.makeResponse(req, 200, 'OK', [], 'callee'));
        if (req.method === 'CANCEL') {
          const invite = stack.findInviteForCancel(req);
          const ringing = seen.find((s) => s.tx === invite);
          if (invite && ringing) invite.respond(stack.makeResponse(ringing.req, 487, 'Request Terminated', [], 'callee'));
        }
      },
      onStatelessAck: () => undefined,
      onStrayResponse: () => undefined,
    },
  });
  const [ep] = await stack.start();
  const raw = await RawSipClient.open();
  try {
    await body({ clock, stack, raw, to: `127.0.0.1:${ep.port}`, seen, lines, heap });
  } finally {
    raw.close();
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
    assert.equal(clock.pending(), 0, 'no timer left running');
  }
}

const URI = 'sip:service@127.0.0.1';

async function send(r: Rig, req: SipMessage): Promise<SipMessage> {
  r.raw.send(req, r.to);
  return (await r.raw.finalFor(req)).msg;
}

function transactions(stack: SipStack): number {
  const s = stack.stats().transactions;
  return s.client + s.server;
}

test('max transactions: new requests get 503 + Retry-After and no transaction; retransmissions, BYE and CANCEL still pass; below the limit again they are served', { timeout: 20_000 }, () =>
  withStack({ maxTransactions: 3 }, async (r) => {
    const invite = r.raw.request('INVITE', URI);
    r.raw.send(invite, r.to);
    await r.raw.waitFor((x) => x.msg.status === 180);
    const first = r.raw.request('OPTIONS', URI);
    assert.equal((await send(r, first)).status, 200);
    assert.equal((await send(r, r.raw.request('OPTIONS', URI))).status, 200);
    assert.equal(transactions(r.stack), 3);

    const over = r.raw.request('OPTIONS', URI);
    const refused = await send(r, over);
    assert.equal(refused.status, 503);
    assert.equal(refused.get('retry-after'), '5');
    assert.ok(refused.toTag, 'a final response carries a To tag');
    assert.equal(transactions(r.stack), 3, 'refusing created no transaction');
    assert.equal(r.seen.length, 3, 'the TU never saw it');
    // Its retransmission is refused the same way, still without a transaction.
    assert.equal((await send(r, over)).status, 503);
    assert.equal(transactions(r.stack), 3);
    assert.deepEqual(r.stack.counters.overload, { transactions: 2 });

    // A retransmission of an admitted request is absorbed by its transaction: the same 200 again.
    assert.equal((await send(r, first)).status, 200);
    assert.equal(r.seen.length, 3);

    // Inside a dialog and CANCEL: never refused.
    const bye = r.raw.request('BYE', URI, { to: `<${URI}>;tag=callee` });
    assert.equal((await send(r, bye)).status, 200);
    const cancel = SipMessage.request('CANCEL', URI, [
      ['Via', invite.getAll('via')[0]], ['Max-Forwards', '70'], ['From', invite.get('from') ?? ''], ['To', invite.get('to') ?? ''],
      ['Call-ID', invite.callId], ['CSeq', `${invite.cseq.seq} CANCEL`],
    ]);
    assert.equal((await send(r, cancel)).status, 200);
    assert.equal((await r.raw.finalFor(invite)).msg.status, 487);
    assert.equal(r.stack.counters.overload.transactions, 2);

    // One warning for the episode, however many were refused.
    const warns = r.lines.filter((l) => l.msg.startsWith('overload:'));
    assert.equal(warns.length, 1);
    assert.equal(warns[0].limit, 'transactions');

    // Timer J (64*T1) ends the finished transactions: new work is served again.
    r.clock.advance(32_000);
    assert.ok(transactions(r.stack) < 3, `transactions left: ${transactions(r.stack)}`);
    assert.equal((await send(r, r.raw.request('OPTIONS', URI))).status, 200);
    r.clock.advance(40_000);
    const over2 = r.lines.filter((l) => l.msg.startsWith('overload over'));
    assert.equal(over2.length, 1, 'the end of the episode is logged once');
    assert.equal(over2[0].refused, 2);
  }));

test('heap watermark: sampled on a timer from the injected probe; 85% of the heap limit when set to 0', { timeout: 20_000 }, () =>
  withStack({ heapWatermarkMb: 0 }, async (r) => {
    assert.equal((await send(r, r.raw.request('OPTIONS', URI))).status, 200);
    r.heap.usedBytes = 849 * 2 ** 20;
    r.clock.advance(1000);
    assert.equal((await send(r, r.raw.request('OPTIONS', URI))).status, 200, 'below 85% of 1000 MB');
    r.heap.usedBytes = 851 * 2 ** 20;
    // Not read per request: until the next sample the old value stands.
    assert.equal((await send(r, r.raw.request('REGISTER', URI))).status, 200);
    r.clock.advance(1000);
    const refused = await send(r, r.raw.request('REGISTER', URI));
    assert.equal(refused.status, 503);
    assert.equal(refused.get('retry-after'), '5');
    assert.equal((await send(r, r.raw.request('INFO', URI, { to: `<${URI}>;tag=callee` }))).status, 200, 'in-dialog requests pass');
    assert.equal(r.stack.counters.overload.heap, 1);
    const warn = r.lines.find((l) => l.msg.startsWith('overload:'));
    assert.ok(warn?.msg.includes('851 of 850'), warn?.msg);

    r.heap.usedBytes = 300 * 2 ** 20;
    r.clock.advance(1000);
    assert.equal((await send(r, r.raw.request('OPTIONS', URI))).status, 200);
  }));

test('heap watermark set in MB', { timeout: 20_000 }, () =>
  withStack({ heapWatermarkMb: 64 }, async (r) => {
    assert.equal((await send(r, r.raw.request('OPTIONS', URI))).status, 503, 'the probe reads 100 MB in use');
  }));

test('without limits nothing is refused', { timeout: 20_000 }, () =>
  withStack({}, async (r) => {
    r.heap.usedBytes = r.heap.limitBytes;
    r.clock.advance(1000);
    for (let i = 0; i < 5; i++) assert.equal((await send(r, r.raw.request('OPTIONS', URI))).status, 200);
    assert.deepEqual(r.stack.counters.overload, {});
  }));

test('an episode hovering at its limit is logged once; it ends only after Retry-After without refusals', () => {
  const clock = new VirtualClock();
  const { log, lines } = captureLog();
  const guard = new OverloadGuard({ clock, log });
  let n = 10;
  guard.add({ name: 'things', reached: () => n >= 10, usage: () => ({ value: n, max: 10 }) });
  guard.start();
  for (let i = 0; i < 20; i++) {
    n = i % 2 ? 9 : 10; // flapping at the edge
    const l = guard.check('INVITE');
    if (l) guard.noteRefused(l);
    clock.advance(500);
  }
  n = 0;
  // The last refusal was at 9 s; now it is 10 s.
  clock.advance(3000);
  assert.equal(lines.filter((l) => l.msg.startsWith('overload over')).length, 0, 'not before Retry-After (5 s) without refusals');
  clock.advance(2000);
  assert.deepEqual(lines.map((l) => l.msg.split(':')[0]), ['overload', 'overload over']);
  assert.equal(guard.refused.things, 10);
  guard.stop();
  assert.equal(clock.pending(), 0);
});

test('max dialogs: a new INVITE is refused statelessly while the table is full; other requests and in-dialog ones pass; rows whose ACK never came free it', { timeout: 20_000 }, async () => {
  const clock = new VirtualClock();
  const server = await startTestServer({ clock, extraYaml: 'limits: { max_dialogs: 10 }' });
  const raw = await RawSipClient.open();
  try {
    // Ten answered calls that never saw their ACK (as when callers give up under load).
    for (let i = 0; i < 10; i++) server.proxy.calls.established(`full-${i}@test`, '<sip:a@x>;tag=1', '<sip:b@y>;tag=2');
    const invite = raw.request('INVITE', `sip:bob@${server.sip}`);
    raw.send(invite, server.sip);
    const refused = (await raw.finalFor(invite)).msg;
    assert.equal(refused.status, 503);
    assert.equal(refused.get('retry-after'), '5');
    assert.equal(server.stack.counters.overload.dialogs, 1);
    const tx = server.stack.stats().transactions;
    assert.equal(tx.server, 0, 'no transaction for the refused INVITE');

    const options = raw.request('OPTIONS', `sip:${server.sip}`);
    raw.send(options, server.sip);
    assert.equal((await raw.finalFor(options)).msg.status, 200, 'only INVITE counts against the dialog limit');
    const bye = raw.request('BYE', `sip:bob@${server.sip}`, { to: `<sip:bob@${server.sip}>;tag=x` });
    raw.send(bye, server.sip);
    assert.notEqual((await raw.finalFor(bye)).msg.status, 503, 'in-dialog requests are never refused');

    // 64*T1 after their 2xx without an ACK those rows were no dialogs: the table frees itself.
    clock.advance(32_000);
    const again = raw.request('INVITE', `sip:bob@${server.sip}`);
    raw.send(again, server.sip);
    const answer = (await raw.finalFor(again)).msg;
    assert.notEqual(answer.status, 503, `got ${answer.status} ${answer.reason}`);
    assert.equal(server.proxy.calls.size, 0);
  } finally {
    raw.close();
    await server.stop();
  }
});

test('max trace calls bounds the recorder of a running server', { timeout: 20_000 }, async () => {
  const server = await startTestServer({ extraYaml: 'limits: { max_trace_calls: 3 }' });
  const raw = await RawSipClient.open();
  try {
    for (let i = 0; i < 6; i++) {
      const req = raw.request('OPTIONS', `sip:${server.sip}`);
      raw.send(req, server.sip);
      await raw.finalFor(req);
    }
    assert.equal(server.traces.stats().calls, 3);
    assert.equal(server.traces.stats().messages, 6, 'request and answer of the three latest calls');
  } finally {
    raw.close();
    await server.stop();
  }
});
