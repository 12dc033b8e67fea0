/**
 * A registering trunk keeps registered: against a scripted carrier on a
 * UDP socket (each REGISTER answered with the next status of a script), on
 * a virtual clock. A refused REGISTER is retried 5 s later, then after 10,
 * 20, 40 s (jitter pinned to 0 here); a success resets the back-off; a
 * failed refresh is retried by the trunk's back-off, not 30 s later by the
 * agent; the console line says what happened and when the next try is.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import type { TrunkConfig } from '../../src/config/pbx-schema.js';
import { Backoff, TRUNK_BACKOFF } from '../../src/pbx/trunks/backoff.js';
import { didOf, SipTrunk } from '../../src/pbx/trunks/sip-trunk.js';
import { Trunks } from '../../src/pbx/trunks/trunks.js';
import { parseMessage } from '../../src/sip/message.js';
import { VirtualClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/log.js';
import { captureLog } from '../helpers/log-capture.js';
import { FakeMedia, until } from '../helpers/ua.js';

/** A carrier that answers each REGISTER with the next status of `script` (the last one repeats). */
class ScriptedCarrier {
  readonly sock = dgram.createSocket('udp4');
  /** Virtual times REGISTERs arrived at, with their Expires. */
  readonly registers: { at: number; expires: string }[] = [];
  script: number[] = [200];
  port = 0;

  constructor(private readonly clock: VirtualClock) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.sock.bind(0, '127.0.0.1', resolve));
    this.port = this.sock.address().port;
    this.sock.on('message', (data, rinfo) => {
      const req = parseMessage(data);
      if (!req.isRequest || req.method !== 'REGISTER') return;
      const expires = req.get('expires') ?? '';
      this.registers.push({ at: this.clock.now(), expires });
      const status = this.script.length > 1 ? (this.script.shift() as number) : this.script[0];
      const reason = { 200: 'OK', 403: 'Forbidden', 503: 'Service Unavailable' }[status] ?? 'Whatever';
      const lines = [
        `SIP/2.0 ${status} ${reason}`,
        ...req.getAll('via').map((v) => `Via: ${v}`),
        `From: ${req.get('from')}`,
        `To: ${req.get('to')};tag=carrier`,
        `Call-ID: ${req.callId}`,
        `CSeq: ${req.get('cseq')}`,
      ];
      if (status === 200 && expires !== '0') lines.push(`Contact: ${req.get('contact')?.replace(/;expires=\d+/, '')};expires=60`);
      lines.push('Content-Length: 0', '', '');
      this.sock.send(lines.join('\r\n'), rinfo.port, rinfo.address);
    });
  }

  close(): void {
    this.sock.close();
  }
}

function trunkConfig(port: number): TrunkConfig & { register: NonNullable<TrunkConfig['register']> } {
  return {
    name: 'carrier',
    host: '127.0.0.1',
    port,
    transport: 'udp',
    register: { user: 'acme', password: 'Tr0nk-pass-4711', expires: 60 },
    allow: ['127.0.0.1'],
    context: 'from-trunk',
    dids: new Map([['+4930123456', 'sales']]),
    codecs: ['PCMA'],
    maxCalls: 0,
    outbound: false,
    line: 1,
  };
}

let clock: VirtualClock;
let carrier: ScriptedCarrier;

before(async () => {
  clock = new VirtualClock();
  carrier = new ScriptedCarrier(clock);
  await carrier.start();
});
after(() => carrier.close());

/** Moves virtual time on in 1 s steps, letting datagrams in flight arrive between steps. */
async function advance(seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('back-off: 5 s doubling to 5 min, each wait within ±20%, reset by a success', () => {
  const mid = new Backoff({ ...TRUNK_BACKOFF, random: () => 0.5 });
  assert.deepEqual(Array.from({ length: 9 }, () => mid.next()), [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  mid.reset();
  assert.equal(mid.next(), 5_000);
  const low = new Backoff({ ...TRUNK_BACKOFF, random: () => 0 });
  const high = new Backoff({ ...TRUNK_BACKOFF, random: () => 0.999999 });
  assert.equal(low.next(), 4_000);
  assert.ok(Math.abs(high.next() - 6_000) < 1);
});

test('the DID is the Request-URI user, or the To user when the carrier sent the call to our Contact user', () => {
  assert.equal(didOf({ uri: 'sip:+4930123456@192.0.2.1', to: '<sip:acme@carrier>' }, 'acme'), '+4930123456');
  assert.equal(didOf({ uri: 'sip:acme@192.0.2.1:5070', to: 'sip:+4930123456@carrier' }, 'acme'), '+4930123456');
  assert.equal(didOf({ uri: 'sip:192.0.2.1:5070', to: 'sip:4930123456@carrier' }, 'acme'), '4930123456');
});

test('a trunk sends numbers as sip:E164@carrier and finds DID contexts with or without the +', () => {
  const t = trunkConfig(5060);
  const trunks = new Trunks({
    trunks: new Map<string, TrunkConfig>([['carrier', t], ['tls', { ...t, name: 'tls', transport: 'tls', port: 5061, register: undefined }]]),
    defaultHost: '127.0.0.1',
    clock,
    log: silentLogger,
    userAgent: 'test',
    media: () => () => Promise.resolve(new FakeMedia(40000)),
    incoming: () => undefined,
    calls: () => 0,
  });
  assert.equal(trunks.target(t, '+4930123456'), 'sip:+4930123456@127.0.0.1');
  assert.equal(trunks.target({ ...t, port: 5080 }, '+4930123456'), 'sip:+4930123456@127.0.0.1:5080');
  assert.equal(trunks.target({ ...t, transport: 'tls', port: 5061 }, '+1555'), 'sip:+1555@127.0.0.1;transport=tls');
  assert.equal(trunks.contextFor(t, '+4930123456'), 'sales');
  assert.equal(trunks.contextFor(t, '4930123456'), 'sales');
  assert.equal(trunks.contextFor(t, '+4930999999'), 'from-trunk');
  assert.ok(trunks.agent('carrier'), 'a registering trunk has its own agent');
  assert.equal(trunks.agent('tls'), undefined, 'an IP trunk does not');
});

test('a refused REGISTER is retried with back-off; success resets it; a failed refresh is retried by the trunk, not 30 s later', { timeout: 30_000 }, async () => {
  carrier.script = [503, 503, 200];
  const logs = captureLog('info');
  const trunk = new SipTrunk({
    trunk: trunkConfig(carrier.port),
    defaultHost: '127.0.0.1',
    clock,
    log: logs.log,
    userAgent: 'Switchboard/test',
    media: () => Promise.resolve(new FakeMedia(40002)),
    incoming: () => undefined,
    backoff: { ...TRUNK_BACKOFF, random: () => 0.5 },
  });
  try {
    await trunk.start();
    await until(() => trunk.state.state === 'failed', 3000, 'first failure');
    assert.equal(trunk.describe(), 'failed: 503 Service Unavailable, retrying in 5 s');
    const t0 = carrier.registers[0].at;
    await advance(5);
    await until(() => carrier.registers.length === 2 && trunk.state.state === 'failed', 3000, 'second failure');
    assert.equal(trunk.describe(), 'failed: 503 Service Unavailable, retrying in 10 s');
    await advance(10);
    await until(() => trunk.state.state === 'registered', 3000, 'registered');
    assert.deepEqual(carrier.registers.map((r) => (r.at - t0) / 1000), [0, 5, 15]);
    assert.equal(trunk.describe(), 'registered');
    const failures = logs.records().filter((r) => /registration failed/.test(String(r.msg)));
    assert.equal(failures.length, 1, 'the first failure of an outage is a warning; the rest are quieter');

    // The refresh at 90% of 60 s is refused; the trunk retries 5 s later (the back-off was reset), and again.
    carrier.script = [403, 403, 200];
    const refreshAt = carrier.registers[2].at + 54_000;
    await advance(Math.ceil((refreshAt - clock.now()) / 1000));
    await until(() => trunk.state.state === 'failed', 3000, 'refresh refused');
    assert.equal(trunk.describe(), 'failed: 403 Forbidden, retrying in 5 s');
    await advance(40);
    await until(() => trunk.state.state === 'registered', 3000, 'registered again');
    const since = carrier.registers.filter((r) => r.at >= refreshAt).map((r) => (r.at - refreshAt) / 1000);
    assert.deepEqual(since, [0, 5, 15], 'no extra REGISTER from the agent at 30 s');
  } finally {
    await trunk.close();
  }
  assert.equal(carrier.registers.at(-1)?.expires, '0', 'closing unregisters');
});
