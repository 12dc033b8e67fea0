/**
 * Hostile and broken input against a real server over raw UDP and TCP
 * sockets: every malformed message gets the status RFC 3261 prescribes, or
 * nothing when no response can be routed; each one is counted; none takes a
 * listener down — a digest-authenticated REGISTER still succeeds afterwards.
 *
 * Oversized messages over UDP. No datagram can carry a 64 KiB header section
 * (the IPv4 UDP payload limit is 65,507 bytes), so the UDP case is a 60 KB
 * datagram. RFC 3261 §18.1.1 says a request over 1,300 bytes MUST go over a
 * congestion-controlled transport; we tolerate up to 32 KiB over UDP (real
 * phones send 10+ KB INVITEs and presence NOTIFYs anyway) and answer anything
 * bigger with 513 Message Too Large (§21.5.14), which tells the sender to use
 * TCP. 513 rather than a silent drop because the answer is small and routable.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { buildAuthorization, selectChallenge } from '../../src/sip/auth/index.js';
import { SipMessage, parseMessage } from '../../src/sip/message.js';
import { StreamFramer } from '../../src/sip/transport/framer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { mulberry32 as prng } from '../helpers/prng.js';

const ALICE = 'Al1ce-long-pass-77';
/** How long "no answer" is waited for. */
const SILENCE_MS = 300;
/** How long an expected answer may take. */
const ANSWER_MS = 3000;

let seq = 0;
function uniq(): string {
  return `${process.pid}-${Date.now().toString(36)}-${seq++}`;
}

/**
 * A request as raw text with CRLF line ends. `drop` leaves headers out,
 * `set` replaces or adds them (in order), `extra` goes after the usual ones.
 */
function rawRequest(
  opts: {
    start?: string;
    method?: string;
    uri?: string;
    drop?: string[];
    set?: Record<string, string>;
    extra?: string[];
    body?: string;
    proto?: 'UDP' | 'TCP';
  } = {},
): string {
  const method = opts.method ?? 'OPTIONS';
  const uri = opts.uri ?? 'sip:127.0.0.1';
  const id = uniq();
  const base: Record<string, string> = {
    Via: `SIP/2.0/${opts.proto ?? 'UDP'} 127.0.0.1:5999;branch=z9hG4bK-${id};rport`,
    'Max-Forwards': '70',
    From: `<sip:tester@example.org>;tag=f${id}`,
    To: '<sip:127.0.0.1>',
    'Call-ID': `bad-${id}`,
    CSeq: `1 ${method}`,
    ...opts.set,
  };
  const drop = new Set((opts.drop ?? []).map((d) => d.toLowerCase()));
  const lines = [opts.start ?? `${method} ${uri} SIP/2.0`];
  for (const [k, v] of Object.entries(base)) if (!drop.has(k.toLowerCase())) lines.push(`${k}: ${v}`);
  lines.push(...(opts.extra ?? []));
  const body = opts.body ?? '';
  if (!drop.has('content-length') && !Object.keys(opts.set ?? {}).some((k) => k.toLowerCase() === 'content-length')) {
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  }
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

interface StatusLine {
  status: number;
  reason: string;
  text: string;
}

function statusOf(text: string): StatusLine {
  const m = /^SIP\/2\.0 (\d{3}) ([^\r\n]*)/.exec(text);
  assert.ok(m, `not a SIP response: ${JSON.stringify(text.slice(0, 200))}`);
  return { status: Number(m[1]), reason: m[2], text };
}

/** A UDP client socket on 127.0.0.1 that keeps what it receives. */
class UdpClient {
  readonly received: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private constructor(private readonly sock: dgram.Socket) {
    sock.on('message', (m) => {
      this.received.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(): Promise<UdpClient> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    return new UdpClient(sock);
  }

  send(data: Buffer | string, target: { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) => this.sock.send(typeof data === 'string' ? Buffer.from(data) : data, target.port, target.host, (e) => (e ? reject(e) : resolve())));
  }

  /** Waits until `pred` holds for something received, or `ms` passed; returns the match. */
  async waitFor(pred: (m: Buffer) => boolean, ms: number): Promise<Buffer | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}

/** Sends one datagram from a fresh socket; returns the first final (or only) response, or undefined after `ms`. */
async function udpAsk(target: { host: string; port: number }, data: Buffer | string, ms = ANSWER_MS): Promise<string | undefined> {
  const c = await UdpClient.open();
  try {
    await c.send(data, target);
    const isFinal = (m: Buffer): boolean => !/^SIP\/2\.0 1\d\d /.test(m.toString('latin1', 0, 16));
    return (await c.waitFor(isFinal, ms))?.toString('utf8');
  } finally {
    await c.close();
  }
}

/** A TCP connection that frames what comes back and notes when the server closes. */
class TcpClient {
  readonly messages: string[] = [];
  closed = false;
  private waiters: (() => void)[] = [];
  private constructor(private readonly sock: net.Socket) {
    const framer = new StreamFramer({
      message: (d) => {
        this.messages.push(d.toString('utf8'));
        this.wake();
      },
      ping: () => undefined,
      error: () => undefined,
    });
    sock.on('data', (d) => framer.push(d));
    // The server may reset while we are still writing an oversized message.
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static connect(target: { host: string; port: number }): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: target.host, port: target.port });
      s.once('connect', () => resolve(new TcpClient(s)));
      s.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.sock.write(data);
  }

  end(): void {
    this.sock.end();
  }

  /** Waits until `pred()` holds or `ms` passed; returns whether it held. */
  async until(pred: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  destroy(): void {
    this.sock.destroy();
  }
}

describe('malformed input over UDP and TCP', { timeout: 120_000 }, () => {
  let server: TestServer;
  let target: { host: string; port: number };
  let malformed0 = 0;
  /** Malformed messages the test has sent so far; the server's counter must grow by exactly this. */
  let sentMalformed = 0;
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(String(w.stack ?? w.message));

  before(async () => {
    server = await startTestServer({ users: { alice: ALICE } });
    const [host, port] = server.sip.split(':');
    target = { host, port: Number(port) };
    malformed0 = server.status().counters.malformed;
    process.on('warning', onWarning);
  });
  after(async () => {
    process.off('warning', onWarning);
    await server?.stop();
  });

  const counters = (): Record<string, number> => server.status().counters;

  /** Polls the in-process server's malformed counter (UDP delivery is asynchronous). */
  async function malformedReaches(n: number, ms = 3000): Promise<number> {
    const deadline = Date.now() + ms;
    let got = counters().malformed - malformed0;
    while (got < n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      got = counters().malformed - malformed0;
    }
    return got;
  }

  async function receivedReaches(n: number, ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (counters().received < n) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 1));
    }
    return true;
  }

  interface Answered {
    name: string;
    msg: () => string;
    status: number;
    /** The reason phrase must match this (it names the problem). */
    reason: RegExp;
    /** Counted as malformed by the stack (false: parsed fine, refused by the proxy). */
    malformed: boolean;
    check?: (res: SipMessage) => void;
  }

  const udpAnswered: Answered[] = [
    { name: 'SIP/3.0 → 505', msg: () => rawRequest({ start: 'OPTIONS sip:127.0.0.1 SIP/3.0' }), status: 505, reason: /^Version Not Supported\b.*SIP\/3\.0/, malformed: true },
    {
      name: 'INVITE foo:bar → 416',
      msg: () => rawRequest({ method: 'INVITE', uri: 'foo:bar' }),
      status: 416,
      reason: /^Unsupported URI Scheme/,
      malformed: false,
    },
    {
      name: 'Proxy-Require: foo → 420 with Unsupported: foo',
      msg: () => rawRequest({ extra: ['Proxy-Require: foo'] }),
      status: 420,
      reason: /^Bad Extension/,
      malformed: false,
      check: (res) => assert.deepEqual(res.getAll('unsupported'), ['foo']),
    },
    {
      name: 'Max-Forwards: 0 → 483',
      msg: () => rawRequest({ method: 'MESSAGE', uri: 'sip:alice@127.0.0.1', set: { 'Max-Forwards': '0', To: '<sip:alice@127.0.0.1>' } }),
      status: 483,
      reason: /^Too Many Hops/,
      malformed: false,
    },
    ...(['From', 'To', 'Call-ID', 'CSeq'] as const).map(
      (h): Answered => ({ name: `missing ${h} → 400`, msg: () => rawRequest({ drop: [h] }), status: 400, reason: new RegExp(`^Bad Request - .*\\b${h}\\b`), malformed: true }),
    ),
    {
      name: 'CSeq method mismatch → 400',
      msg: () => rawRequest({ set: { CSeq: '1 INVITE' } }),
      status: 400,
      reason: /^Bad Request - .*CSeq.*INVITE.*OPTIONS/,
      malformed: true,
    },
    {
      name: 'Content-Length larger than the body → 400',
      msg: () => rawRequest({ method: 'MESSAGE', uri: 'sip:alice@127.0.0.1', set: { 'Content-Length': '100', 'Content-Type': 'text/plain' }, body: 'only twenty bytes!!!' }),
      status: 400,
      reason: /^Bad Request - .*Content-Length/,
      malformed: true,
    },
    { name: 'negative Content-Length → 400', msg: () => rawRequest({ set: { 'Content-Length': '-5' } }), status: 400, reason: /^Bad Request - .*Content-Length.*-5/, malformed: true },
    { name: 'non-numeric Content-Length → 400', msg: () => rawRequest({ set: { 'Content-Length': 'abc' } }), status: 400, reason: /^Bad Request - .*Content-Length.*abc/, malformed: true },
    {
      name: '60 KB datagram (a 64 KiB one cannot be sent) → 513',
      msg: () => rawRequest({ extra: [`X-Padding: ${'a'.repeat(60_000)}`] }),
      status: 513,
      reason: /^Message Too Large/,
      malformed: true,
    },
  ];

  for (const c of udpAnswered) {
    test(`UDP: ${c.name}`, async () => {
      const raw = c.msg();
      const before = counters().malformed;
      const text = await udpAsk(target, raw);
      if (c.malformed) sentMalformed++;
      assert.ok(text, `no response to ${c.name}`);
      const s = statusOf(text);
      assert.equal(s.status, c.status, `status line was "${text.split('\r\n')[0]}"`);
      assert.match(s.reason, c.reason);
      const res = parseMessage(Buffer.from(text));
      // The answer must be routable back by the client: its Via and Call-ID come back.
      const sentCallId = /\r\nCall-ID: ([^\r]+)/.exec(raw)?.[1];
      if (sentCallId) assert.equal(res.callId, sentCallId);
      assert.match(res.get('via') ?? '', /branch=z9hG4bK-/);
      c.check?.(res);
      assert.equal(counters().malformed - before, c.malformed ? 1 : 0, 'counted as malformed');
      if (c.status === 416) {
        // Tidy: ACK the final response so the server transaction stops retransmitting.
        const ack = raw.replace(/^INVITE foo:bar/, 'ACK foo:bar').replace(/CSeq: 1 INVITE/, 'CSeq: 1 ACK');
        await udpAsk(target, ack, 50);
      }
    });
  }

  const udpSilent: { name: string; msg: () => Buffer | string }[] = [
    { name: 'missing Via (no address to answer)', msg: () => rawRequest({ drop: ['Via'] }) },
    { name: 'garbage Via', msg: () => rawRequest({ set: { Via: '!!garbage@@ ;;;' } }) },
    { name: 'a response with garbage Via', msg: () => 'SIP/2.0 200 OK\r\nVia: ###\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' },
    { name: 'a malformed response (no CSeq)', msg: () => `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-${uniq()}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n` },
    { name: 'a response in SIP/3.0', msg: () => 'SIP/3.0 200 OK\r\nContent-Length: 0\r\n\r\n' },
    { name: 'binary noise', msg: () => Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x0d, 0x0a, 0x00, 0xfe, 0x42]) },
    { name: 'an ACK that is malformed (never answered)', msg: () => rawRequest({ method: 'ACK', drop: ['Call-ID'] }) },
  ];

  for (const c of udpSilent) {
    test(`UDP: ${c.name} → no answer, counted and dropped`, async () => {
      const before = counters();
      const text = await udpAsk(target, c.msg(), SILENCE_MS);
      sentMalformed++;
      assert.equal(text, undefined, `expected silence, got: ${text?.split('\r\n')[0]}`);
      const now = counters();
      assert.equal(now.malformed - before.malformed, 1, 'counted as malformed');
      assert.equal(now.dropped - before.dropped, 1, 'counted as dropped');
      assert.equal(now.sent, before.sent, 'nothing was sent anywhere');
    });
  }

  test('TCP: negative Content-Length → 400 naming it, and the connection is closed', async () => {
    const c = await TcpClient.connect(target);
    try {
      c.write(rawRequest({ proto: 'TCP', set: { 'Content-Length': '-1' } }));
      sentMalformed++;
      assert.ok(await c.until(() => c.messages.length > 0 && c.closed, ANSWER_MS), `messages=${c.messages.length} closed=${c.closed}`);
      const s = statusOf(c.messages[0]);
      assert.equal(s.status, 400, c.messages[0]);
      assert.match(s.reason, /Content-Length.*-1/);
    } finally {
      c.destroy();
    }
  });

  test('TCP: a 64 KiB header → 513 and the connection is closed', async () => {
    const c = await TcpClient.connect(target);
    try {
      const head = rawRequest({ proto: 'TCP', drop: ['Content-Length'] }).replace(/\r\n\r\n$/, '\r\n');
      c.write(head);
      // One header line longer than the whole 64 KiB limit, and never a blank line.
      c.write(`X-Padding: ${'b'.repeat(64 * 1024 + 100)}\r\n`);
      sentMalformed++;
      assert.ok(await c.until(() => c.messages.length > 0 && c.closed, ANSWER_MS), `messages=${c.messages.length} closed=${c.closed}`);
      const s = statusOf(c.messages[0]);
      assert.equal(s.status, 513, c.messages[0]);
      assert.match(s.reason, /^Message Too Large/);
      assert.match(c.messages[0], /\r\nCall-ID: bad-/i, 'answered with the request Call-ID');
    } finally {
      c.destroy();
    }
  });

  test('TCP: missing Call-ID → 400 naming it; the connection stays usable', async () => {
    const c = await TcpClient.connect(target);
    try {
      c.write(rawRequest({ proto: 'TCP', drop: ['Call-ID'] }));
      sentMalformed++;
      assert.ok(await c.until(() => c.messages.length > 0, ANSWER_MS));
      assert.match(c.messages[0], /^SIP\/2\.0 400 Bad Request - .*Call-ID/);
      // A framing-clean but invalid message must not cost the connection: a good OPTIONS follows.
      c.write(rawRequest({ proto: 'TCP' }));
      assert.ok(await c.until(() => c.messages.length > 1, ANSWER_MS), 'no answer to the OPTIONS after the 400');
      assert.match(c.messages[1], /^SIP\/2\.0 200 OK/);
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });

  test('TCP: a truncated message followed by a close gets no answer and harms nothing', async () => {
    const c = await TcpClient.connect(target);
    const before = counters();
    try {
      const whole = rawRequest({ proto: 'TCP', method: 'MESSAGE', uri: 'sip:alice@127.0.0.1', set: { 'Content-Type': 'text/plain' }, body: 'x'.repeat(200) });
      c.write(whole.slice(0, whole.length - 120));
      c.end();
      assert.ok(await c.until(() => c.closed, ANSWER_MS), 'the server closed its side too');
      assert.equal(c.messages.length, 0, `unexpected answer: ${c.messages[0]}`);
      // Nothing was handed to the parser (the framer still waited for the body), but the cut-off message is counted.
      assert.equal(counters().received, before.received);
      sentMalformed++;
      assert.equal(await malformedReaches(sentMalformed), sentMalformed, 'the truncated message was counted as malformed');
    } finally {
      c.destroy();
    }
  });

  test('UDP: 1,000 random binary datagrams are counted and dropped, never answered', async () => {
    const rnd = prng(0x5eed);
    const c = await UdpClient.open();
    const n = 1000;
    const before = counters();
    try {
      for (let i = 0; i < n; i++) {
        // At least 8 bytes: a 2- or 4-byte CRLF datagram is a keep-alive, not garbage.
        const len = 8 + Math.floor(rnd() * 1400);
        const buf = Buffer.alloc(len);
        for (let k = 0; k < len; k++) buf[k] = Math.floor(rnd() * 256);
        await c.send(buf, target);
        // Let the in-process server drain its socket so the kernel's receive buffer never
        // overflows (a datagram lost there would never reach the code under test).
        if (i % 20 === 19) assert.ok(await receivedReaches(before.received + i + 1), `server stalled after ${i + 1} datagrams`);
      }
      sentMalformed += n;
      const got = await malformedReaches(sentMalformed, 10_000);
      assert.equal(got, sentMalformed, 'every garbage datagram was counted as malformed');
      assert.equal(counters().dropped - before.dropped, n, 'and dropped');
      assert.equal(await c.waitFor(() => true, SILENCE_MS), undefined, 'no answer to noise');
    } finally {
      await c.close();
    }
  });

  test('afterwards: the counter grew by exactly what was sent, nothing threw, and a digest REGISTER works over UDP and TCP', async () => {
    assert.equal(await malformedReaches(sentMalformed), sentMalformed);
    assert.ok(sentMalformed > 1000);
    const failures = warnings.filter((w) => /handler failed|sip\/transport/.test(w));
    assert.deepEqual(failures, [], 'no handler threw');

    for (const proto of ['UDP', 'TCP'] as const) {
      const callId = `reg-${proto}-${uniq()}`;
      const build = (cseq: number, auth?: string): Buffer => {
        const headers: [string, string][] = [
          ['Via', `SIP/2.0/${proto} 127.0.0.1:5999;branch=z9hG4bK-${uniq()};rport`],
          ['Max-Forwards', '70'],
          ['From', `<sip:alice@127.0.0.1>;tag=r${callId}`],
          ['To', '<sip:alice@127.0.0.1>'],
          ['Call-ID', callId],
          ['CSeq', `${cseq} REGISTER`],
          ['Contact', `<sip:alice@127.0.0.1:${proto === 'UDP' ? 5998 : 5997};transport=${proto.toLowerCase()}>`],
          ['Expires', '600'],
        ];
        if (auth) headers.push(['Authorization', auth]);
        return SipMessage.request('REGISTER', 'sip:127.0.0.1', headers).toBuffer();
      };
      let ask: (data: Buffer) => Promise<string | undefined>;
      let tcp: TcpClient | undefined;
      if (proto === 'UDP') ask = (d) => udpAsk(target, d);
      else {
        const t = await TcpClient.connect(target);
        tcp = t;
        ask = async (d) => {
          const n = t.messages.length;
          t.write(d);
          return (await t.until(() => t.messages.length > n, ANSWER_MS)) ? t.messages[n] : undefined;
        };
      }
      try {
        const first = await ask(build(1));
        assert.ok(first, `${proto}: no answer to REGISTER`);
        assert.equal(statusOf(first).status, 401, first);
        const challenge = selectChallenge(parseMessage(Buffer.from(first)).getAll('www-authenticate'));
        assert.ok(challenge, `${proto}: no usable challenge in ${first}`);
        const auth = buildAuthorization(challenge, { user: 'alice', password: ALICE }, 'REGISTER', 'sip:127.0.0.1', 1);
        const second = await ask(build(2, auth));
        assert.ok(second, `${proto}: no answer to the authenticated REGISTER`);
        assert.equal(statusOf(second).status, 200, second);
      } finally {
        tcp?.destroy();
      }
    }
    const contacts = server.registrar.lookup('alice').map((b) => b.contact);
    assert.ok(contacts.some((c) => c.includes(':5998')), `UDP contact registered: ${contacts.join(', ')}`);
  });
});
