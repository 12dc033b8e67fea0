/**
 * A browser through the proxy over SIP over WebSocket (RFC 7118), against a
 * real server: a raw `ws` client writes REGISTER, answers and in-dialog
 * requests the way JsSIP does (Via WSS with an .invalid host, Contact
 * ;transport=ws, ;ob in dialogs), and a raw UDP phone calls it. What is
 * checked is what each side receives: the Record-Route pair, the ACK and BYE
 * arriving on the WebSocket, a re-INVITE the other way, status and traces.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/cli/server.js';
import { buildAuthorization } from '../../src/sip/auth/index.js';
import { parseNameAddr } from '../../src/sip/headers.js';
import { parseMessage, SipMessage } from '../../src/sip/message.js';
import { freePort } from '../helpers/ports.js';
import { RawSipClient } from '../helpers/raw-sip.js';

const USERS = { '1001': 'Al1ce-long-pass-77', '1002': 'B0b-long-pass-88' };
const WAIT_MS = 5000;
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

/** A browser's SIP stack reduced to what the test needs: JsSIP's spelling, raw frames. */
class WsBrowser {
  readonly viaHost = `${randomBytes(6).toString('hex')}.invalid`;
  readonly contactUser = randomBytes(4).toString('hex');
  readonly received: SipMessage[] = [];
  readonly frames: Buffer[] = [];
  closeCode: number | undefined;
  private readonly events = new EventEmitter();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.frames.push(data);
      try {
        this.received.push(parseMessage(data));
      } catch {
        /* keep-alive answers and the like */
      }
      this.events.emit('change');
    });
    ws.on('close', (code: number) => {
      this.closeCode = code;
      this.events.emit('change');
    });
    ws.on('error', () => {});
  }

  static async open(url: string): Promise<WsBrowser> {
    const ws = new WebSocket(url, 'sip');
    const b = new WsBrowser(ws);
    await once(ws, 'open', { signal: AbortSignal.timeout(WAIT_MS) });
    return b;
  }

  /** The Contact JsSIP registers, and the one it puts in dialogs (with ;ob). */
  get contact(): string {
    return `sip:${this.contactUser}@${this.viaHost};transport=ws`;
  }

  via(): string {
    return `SIP/2.0/WSS ${this.viaHost};branch=z9hG4bK${randomBytes(6).toString('hex')}`;
  }

  send(msg: SipMessage | string): void {
    this.ws.send(typeof msg === 'string' ? msg : msg.toBuffer().toString('utf8'));
  }

  async until(check: () => boolean): Promise<void> {
    while (!check()) await once(this.events, 'change', { signal: AbortSignal.timeout(WAIT_MS) });
  }

  async next(pred: (m: SipMessage) => boolean): Promise<SipMessage> {
    await this.until(() => this.received.some(pred));
    const i = this.received.findIndex(pred);
    return this.received.splice(i, 1)[0];
  }

  async register(user: string, password: string, domain: string, expires = 600): Promise<SipMessage> {
    const callId = randomBytes(8).toString('hex');
    const build = (cseq: number, auth?: string): SipMessage =>
      SipMessage.request('REGISTER', `sip:${domain}`, [
        ['Via', this.via()],
        ['Max-Forwards', '69'],
        ['To', `<sip:${user}@${domain}>`],
        ['From', `<sip:${user}@${domain}>;tag=${randomBytes(4).toString('hex')}`],
        ['Call-ID', callId],
        ['CSeq', `${cseq} REGISTER`],
        ...(auth ? ([['Authorization', auth]] as [string, string][]) : []),
        ['Contact', `<${this.contact}>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${randomBytes(16).toString('hex')}>";expires=${expires}`],
        ['Expires', String(expires)],
        ['Allow', 'INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY'],
        ['Supported', 'path,gruu,outbound'],
        ['User-Agent', 'JsSIP 3.10 (test)'],
      ]);
    const first = build(1);
    this.send(first);
    const challenge = await this.next((m) => !m.isRequest && m.callId === callId && m.status >= 200);
    if (challenge.status !== 401) return challenge;
    const auth = buildAuthorization(challenge.get('www-authenticate') ?? '', { user, password }, 'REGISTER', `sip:${domain}`, 1);
    this.send(build(2, auth));
    return this.next((m) => !m.isRequest && m.callId === callId && m.cseq.seq === 2 && m.status >= 200);
  }

  /** A response to `req` as a UAS: its Vias, From, To (with our tag), Call-ID, CSeq. */
  answer(req: SipMessage, status: number, reason: string, toTag: string, extra: [string, string][] = [], body = ''): SipMessage {
    const to = req.get('to') ?? '';
    return SipMessage.response(
      status,
      reason,
      [
        ...req.getAll('via').map((v): [string, string] => ['Via', v]),
        ['From', req.get('from') ?? ''],
        ['To', /;tag=/.test(to) ? to : `${to};tag=${toTag}`],
        ['Call-ID', req.callId],
        ['CSeq', req.get('cseq') ?? ''],
        ...extra,
      ],
      body,
    );
  }
}

/** Polls `check` (the server's own view, which has no event to wait on) for up to WAIT_MS. */
async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) assert.fail('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function answerUdp(req: SipMessage, status: number, reason: string, extra: [string, string][] = [], body = ''): SipMessage {
  return SipMessage.response(
    status,
    reason,
    [...req.getAll('via').map((v): [string, string] => ['Via', v]), ['From', req.get('from') ?? ''], ['To', req.get('to') ?? ''], ['Call-ID', req.callId], ['CSeq', req.get('cseq') ?? ''], ...extra],
    body,
  );
}

describe('SIP over WebSocket through the proxy', { timeout: 90_000 }, () => {
  let server: RunningServer;
  let dataDir: string;
  let sip: string;
  let wsUrl: string;
  let wsPort: number;
  const browsers: WsBrowser[] = [];
  let phone: RawSipClient;

  const openBrowser = async (): Promise<WsBrowser> => {
    const b = await WsBrowser.open(wsUrl);
    browsers.push(b);
    return b;
  };

  before(async () => {
    const port = await freePort('udp');
    const adminPort = await freePort('tcp');
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'sb-ws-'));
    const yaml = [
      'domain: 127.0.0.1',
      'sip:',
      `  listen: [udp:127.0.0.1:${port}, ws:127.0.0.1:0]`,
      'admin:',
      `  listen: 127.0.0.1:${adminPort}`,
      `data: ${dataDir}`,
      // The proxy path alone: browsers' media is not anchored (the gateway has its own e2e tests).
      'webrtc:',
      '  gateway: false',
      'users:',
      ...Object.entries(USERS).map(([u, p]) => `  "${u}": { password: "${p}" }`),
    ].join('\n');
    server = await startServer(parseConfig(yaml, 'ws-test.yaml'));
    sip = `127.0.0.1:${port}`;
    const ws = server.endpoints.find((e) => e.proto === 'ws');
    assert.ok(ws, 'the server listens on ws');
    wsPort = ws.port;
    wsUrl = `ws://127.0.0.1:${wsPort}/`;
    phone = await RawSipClient.open();
  });

  after(async () => {
    for (const b of browsers) b.ws.terminate();
    phone?.close();
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('a browser registers (digest MD5), shows in status as ws, and calls cross with ACK, re-INVITE and BYE through both Record-Routes', async () => {
    const browser = await openBrowser();
    const reg = await browser.register('1001', USERS['1001'], '127.0.0.1');
    assert.equal(reg.status, 200, `REGISTER answered ${reg.status} ${reg.reason}`);
    assert.match(reg.getAll('contact').join(','), new RegExp(browser.contactUser));
    const via = reg.via;
    assert.equal(via.host, browser.viaHost, 'the response keeps the browser\'s own Via');
    assert.equal(via.params.get('received'), '127.0.0.1');
    assert.ok(Number(via.params.get('rport')) > 0);

    const status = server.status();
    const row = status.registrations.find((r) => r.aor === 'sip:1001@127.0.0.1');
    assert.ok(row, 'the registration is listed');
    assert.equal(row.transport, 'ws');
    assert.equal(row.contact, browser.contact);

    // The phone (1002, on UDP) calls the browser.
    const invite = phone.request('INVITE', 'sip:1001@127.0.0.1', {
      from: `<sip:1002@127.0.0.1>;tag=${randomBytes(4).toString('hex')}`, to: '<sip:1001@127.0.0.1>',
      headers: [['Content-Type', 'application/sdp']], body: SDP,
    });
    const answered = phone.withAuth(invite, sip, { user: '1002', password: USERS['1002'] });
    const incoming = await browser.next((m) => m.isRequest && m.method === 'INVITE');
    const rr = incoming.getAll('record-route');
    assert.equal(rr.length, 2, `two Record-Route entries: ${rr.join(' | ')}`);
    assert.match(rr[0], new RegExp(`^<sip:127\\.0\\.0\\.1:${wsPort};transport=ws;flow=[^;>]+;lr>$`), 'the browser side names the ws listener');
    assert.equal(rr[1], `<sip:${sip};lr>`, 'the phone side names the UDP listener');
    assert.match(incoming.getAll('via')[0], new RegExp(`^SIP/2\\.0/WS 127\\.0\\.0\\.1:${wsPort};`));
    const tag = randomBytes(4).toString('hex');
    const dialogContact = `<${browser.contact};ob>`;
    browser.send(browser.answer(incoming, 200, 'OK', tag, [['Contact', dialogContact], ...rr.map((r): [string, string] => ['Record-Route', r]), ['Content-Type', 'application/sdp']], SDP));
    const ok = await answered;
    assert.equal(ok.status, 200);
    const routeSet = ok.getAll('record-route').reverse();
    assert.equal(routeSet.length, 2);
    const remoteTarget = parseNameAddr(ok.get('contact') ?? '').uri;
    assert.match(remoteTarget, /\.invalid;transport=ws;ob$/);

    const inDialog = (method: string, cseq: number): SipMessage => {
      const m = phone.request(method, remoteTarget, { from: invite.get('from'), to: ok.get('to'), callId: invite.callId, cseq });
      for (const r of routeSet) m.add('Route', r);
      return m;
    };
    phone.send(inDialog('ACK', ok.cseq.seq), sip);
    const ack = await browser.next((m) => m.isRequest && m.method === 'ACK');
    assert.equal(ack.callId, invite.callId);
    assert.equal(ack.get('route'), undefined, 'both of our Route entries were consumed');

    // The browser re-INVITEs (hold, say): its route set is the Record-Route list as received.
    const reinvite = SipMessage.request('INVITE', parseNameAddr(invite.get('contact') ?? '').uri, [
      ['Via', browser.via()], ['Max-Forwards', '69'], ['From', ok.get('to') ?? ''], ['To', invite.get('from') ?? ''],
      ['Call-ID', invite.callId], ['CSeq', '1 INVITE'], ['Contact', dialogContact], ...rr.map((r): [string, string] => ['Route', r]),
      ['Content-Type', 'application/sdp'],
    ], SDP.replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000\r\na=sendonly'));
    browser.send(reinvite);
    const atPhone = await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'INVITE' && r.msg.callId === invite.callId, WAIT_MS);
    assert.match(atPhone.msg.body.toString(), /a=sendonly/);
    phone.send(answerUdp(atPhone.msg, 200, 'OK', [['Contact', `<sip:1002@${phone.hostPort}>`], ['Content-Type', 'application/sdp']], SDP), sip);
    const reOk = await browser.next((m) => !m.isRequest && m.callId === invite.callId && m.cseq.method === 'INVITE' && m.cseq.seq === 1);
    assert.equal(reOk.status, 200);
    browser.send(SipMessage.request('ACK', parseNameAddr(invite.get('contact') ?? '').uri, [
      ['Via', browser.via()], ['Max-Forwards', '69'], ['From', ok.get('to') ?? ''], ['To', invite.get('from') ?? ''],
      ['Call-ID', invite.callId], ['CSeq', '1 ACK'], ...rr.map((r): [string, string] => ['Route', r]),
    ]));
    await phone.waitFor((r) => r.msg.isRequest && r.msg.method === 'ACK' && r.msg.callId === invite.callId && r.msg.cseq.seq === 1, WAIT_MS);

    // The phone hangs up: the BYE reaches the browser's WebSocket through the routes.
    const bye = inDialog('BYE', ok.cseq.seq + 1);
    phone.send(bye, sip);
    const byeIn = await browser.next((m) => m.isRequest && m.method === 'BYE');
    assert.equal(byeIn.callId, invite.callId);
    browser.send(browser.answer(byeIn, 200, 'OK', tag));
    assert.equal((await phone.finalFor(bye, WAIT_MS)).msg.status, 200);

    // Every message of the call was traced with the WebSocket's proto.
    const traced = server.traces.get(invite.callId);
    assert.ok(traced.some((e) => e.dir === 'in' && e.proto === 'ws' && e.sip.status === 200));
    assert.ok(traced.some((e) => e.dir === 'out' && e.proto === 'ws' && e.sip.method === 'BYE'));
  });

  test('once the browser\'s WebSocket closes its binding goes: new calls and in-dialog requests get 480', async () => {
    // The first test's browser leaves, so 1001 has exactly one binding here.
    for (const b of browsers.splice(0)) b.ws.terminate();
    await waitUntil(() => server.status().registrations.length === 0);
    const browser = await openBrowser();
    const reg = await browser.register('1001', USERS['1001'], '127.0.0.1');
    assert.equal(reg.status, 200);
    const invite = phone.request('INVITE', 'sip:1001@127.0.0.1', { from: `<sip:1002@127.0.0.1>;tag=${randomBytes(4).toString('hex')}` });
    const answered = phone.withAuth(invite, sip, { user: '1002', password: USERS['1002'] });
    const incoming = await browser.next((m) => m.isRequest && m.method === 'INVITE');
    const rr = incoming.getAll('record-route');
    browser.send(browser.answer(incoming, 200, 'OK', 'b2', [['Contact', `<${browser.contact};ob>`], ...rr.map((r): [string, string] => ['Record-Route', r])]));
    const ok = await answered;
    assert.equal(ok.status, 200);

    browser.ws.close(1001);
    await browser.until(() => browser.closeCode !== undefined);
    await waitUntil(() => !server.status().registrations.some((r) => r.contact === browser.contact));

    const bye = phone.request('BYE', parseNameAddr(ok.get('contact') ?? '').uri, { from: invite.get('from'), to: ok.get('to'), callId: invite.callId, cseq: 5 });
    for (const r of ok.getAll('record-route').reverse()) bye.add('Route', r);
    phone.send(bye, sip);
    const byeAnswer = (await phone.finalFor(bye, WAIT_MS)).msg;
    assert.equal(byeAnswer.status, 480, `in-dialog BYE to a gone browser: ${byeAnswer.status} ${byeAnswer.reason}`);

    const again = phone.request('INVITE', 'sip:1001@127.0.0.1', { from: `<sip:1002@127.0.0.1>;tag=${randomBytes(4).toString('hex')}` });
    const refused = await phone.withAuth(again, sip, { user: '1002', password: USERS['1002'] });
    assert.equal(refused.status, 480);
  });

  test('garbage, a malformed request and an oversized frame: answered or dropped and counted, the server keeps serving', async () => {
    const before = server.status().counters;
    const bad = await openBrowser();
    bad.send('\x00\x01 definitely not SIP');
    const broken = `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: ${bad.via()}\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: broken-1\r\nCSeq: one OPTIONS\r\n\r\n`;
    bad.send(broken);
    const answer = await bad.next((m) => !m.isRequest && m.callId === 'broken-1');
    assert.equal(answer.status, 400);
    // Over the 64 KiB limit: closed with 1009.
    bad.send(`MESSAGE sip:1001@127.0.0.1 SIP/2.0\r\nVia: ${bad.via()}\r\nContent-Length: 70000\r\n\r\n${'x'.repeat(70_000)}`);
    await bad.until(() => bad.closeCode !== undefined);
    assert.equal(bad.closeCode, 1009);
    const after = server.status().counters;
    assert.equal(after.malformed - before.malformed, 3, 'garbage, the bad CSeq and the oversized frame');
    assert.equal(after.rejectedMalformed - before.rejectedMalformed, 1);

    // The keep-alive JsSIP sends, and a request afterwards on a fresh connection.
    const good = await openBrowser();
    good.send('\r\n\r\n');
    await good.until(() => good.frames.some((f) => f.toString() === '\r\n'));
    const options = SipMessage.request('OPTIONS', 'sip:127.0.0.1', [
      ['Via', good.via()], ['Max-Forwards', '70'], ['From', '<sip:probe@127.0.0.1>;tag=9'], ['To', '<sip:127.0.0.1>'], ['Call-ID', 'probe-1'], ['CSeq', '1 OPTIONS'],
    ]);
    good.send(options);
    assert.equal((await good.next((m) => !m.isRequest && m.callId === 'probe-1')).status, 200);
  });

  test('plain HTTP on the WebSocket port is answered (404 for a path nothing serves), and the handshake needs the sip subprotocol', async () => {
    const res = await fetch(`http://127.0.0.1:${wsPort}/no-such-page`);
    assert.equal(res.status, 404);
    assert.ok((await res.text()).length > 0, 'the 404 says why');
    const ws = new WebSocket(wsUrl);
    ws.on('error', () => {});
    const [, refused] = (await once(ws, 'unexpected-response', { signal: AbortSignal.timeout(WAIT_MS) })) as [unknown, { statusCode: number }];
    assert.equal(refused.statusCode, 400);
    ws.terminate();
  });
});
