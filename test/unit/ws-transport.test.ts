/**
 * SIP over WebSocket (RFC 7118) in the transport layer, on real loopback
 * sockets with a `ws` client as the browser; timers (ping, idle) run on a
 * VirtualClock so no test waits for them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { VirtualClock } from '../../src/util/clock.js';
import {
  TransportLayer, parseListen, type Inbound, type LocalEndpoint, type Peer, type TransportOptions,
} from '../../src/sip/transport/index.js';

const WAIT_MS = 5000;

function options(i: number, body = ''): string {
  return (
    `OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WSS abc123.invalid;branch=z9hG4bK${i}\r\n` +
    `Call-ID: c${i}\r\nCSeq: ${i} OPTIONS\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Everything the layer hands up or reports, awaitable. */
class Events extends EventEmitter {
  readonly inbound: Inbound[] = [];
  readonly framing: { status: number; reason: string }[] = [];
  readonly sendErrors: { dest: Peer; err: Error }[] = [];
  readonly closed: { id: number; peer: Peer }[] = [];
  note(): void {
    this.emit('change');
  }
  async until(check: () => boolean): Promise<void> {
    while (!check()) await once(this, 'change', { signal: AbortSignal.timeout(WAIT_MS) });
  }
  async nextInbound(): Promise<Inbound> {
    await this.until(() => this.inbound.length > 0);
    return this.inbound.shift() as Inbound;
  }
}

/** A `ws` client standing in for JsSIP: keeps every message and the close code. */
class Browser {
  readonly frames: { data: Buffer; binary: boolean }[] = [];
  closeCode: number | undefined;
  pings = 0;
  private readonly events = new EventEmitter();
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      this.frames.push({ data, binary });
      this.events.emit('change');
    });
    ws.on('ping', () => {
      this.pings++;
      this.events.emit('change');
    });
    ws.on('close', (code: number) => {
      this.closeCode = code;
      this.events.emit('change');
    });
    ws.on('error', () => {});
  }
  static async open(url: string, opts: WebSocket.ClientOptions = {}, protocol: string | undefined = 'sip'): Promise<Browser> {
    const ws = protocol === undefined ? new WebSocket(url, opts) : new WebSocket(url, protocol, opts);
    const b = new Browser(ws);
    await once(ws, 'open', { signal: AbortSignal.timeout(WAIT_MS) });
    return b;
  }
  async until(check: (b: Browser) => boolean): Promise<void> {
    while (!check(this)) await once(this.events, 'change', { signal: AbortSignal.timeout(WAIT_MS) });
  }
}

const layers: TransportLayer[] = [];
const browsers: Browser[] = [];
const dirs: string[] = [];

async function start(
  specs: string[],
  opts: Omit<TransportOptions, 'handlers' | 'clock'> = {},
): Promise<{ layer: TransportLayer; ev: Events; clock: VirtualClock; url: (proto?: string) => string; ep: LocalEndpoint }> {
  const ev = new Events();
  const clock = new VirtualClock();
  const layer = new TransportLayer({
    ...opts,
    clock,
    handlers: {
      message: (inb) => {
        ev.inbound.push(inb);
        ev.note();
      },
      framingError: (_s, _l, status, reason) => {
        ev.framing.push({ status, reason });
        ev.note();
      },
      sendError: (dest, err) => {
        ev.sendErrors.push({ dest, err });
        ev.note();
      },
      connectionClosed: (id, peer) => {
        ev.closed.push({ id, peer });
        ev.note();
      },
    },
  });
  layers.push(layer);
  await layer.listen(specs.map(parseListen));
  const ep = layer.endpoints()[0];
  return { layer, ev, clock, ep, url: (scheme = ep.proto) => `${scheme}://127.0.0.1:${ep.port}/` };
}

async function connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<Browser> {
  const b = await Browser.open(url, opts);
  browsers.push(b);
  return b;
}

function get(port: number, path: string): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: WAIT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

after(async () => {
  for (const b of browsers) b.ws.terminate();
  await Promise.all(layers.map((l) => l.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('ws: and wss: listen specs parse', () => {
  assert.deepEqual(parseListen('ws:127.0.0.1:8080'), { proto: 'ws', address: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('WSS:[::1]:8443'), { proto: 'wss', address: '::1', port: 8443 });
});

test('each WebSocket message is one SIP message, text or binary, from proto ws with its connection id', async () => {
  const { layer, ev, url, ep } = await start(['ws:127.0.0.1:0']);
  assert.equal(ep.proto, 'ws');
  assert.ok(ep.port > 0);
  const b = await connect(url());
  assert.equal(b.ws.protocol, 'sip', 'the 101 names the sip subprotocol');
  b.ws.send(options(1));
  b.ws.send(Buffer.from(options(2, 'hello')), { binary: true });
  const first = await ev.nextInbound();
  const second = await ev.nextInbound();
  assert.equal(first.data.toString(), options(1));
  assert.equal(second.data.toString(), options(2, 'hello'));
  assert.equal(first.source.proto, 'ws');
  assert.equal(first.source.address, '127.0.0.1');
  assert.equal(first.local.proto, 'ws');
  assert.equal(first.local.port, ep.port);
  assert.ok(first.source.connectionId !== undefined);
  assert.equal(second.source.connectionId, first.source.connectionId);
  const s = layer.stats();
  assert.equal(s.connections, 1);
  assert.equal(s.connectionsAccepted, 1);
  assert.equal(s.received, 2);
});

test('a send to the connection id arrives as one text frame; a body that is not UTF-8 goes binary', async () => {
  const { layer, ev, url } = await start(['ws:127.0.0.1:0']);
  const b = await connect(url());
  b.ws.send(options(1));
  const inb = await ev.nextInbound();
  const answer = Buffer.from('SIP/2.0 200 OK\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
  layer.send(inb.source, answer);
  await b.until((x) => x.frames.length === 1);
  assert.deepEqual(b.frames[0], { data: answer, binary: false });
  const binaryBody = Buffer.concat([Buffer.from('MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\n'), Buffer.from([0xff, 0xfe])]);
  // Found by address and port alone, the way a response routed by its Via is.
  layer.send({ proto: 'wss', address: inb.source.address, port: inb.source.port }, binaryBody);
  await b.until((x) => x.frames.length === 2);
  assert.deepEqual(b.frames[1], { data: binaryBody, binary: true });
  assert.equal(layer.stats().sent, 2);
  assert.equal(ev.sendErrors.length, 0);
});

test('a message over the size limit closes the connection with 1009 and counts a framing error', async () => {
  const { layer, ev, url } = await start(['ws:127.0.0.1:0'], { webSocket: { maxMessageBytes: 1024 } });
  const b = await connect(url());
  b.ws.send(options(1, 'x'.repeat(800)));
  await ev.nextInbound();
  b.ws.send(options(2, 'x'.repeat(2000)));
  await b.until((x) => x.closeCode !== undefined);
  assert.equal(b.closeCode, 1009);
  await ev.until(() => ev.closed.length === 1);
  assert.equal(layer.stats().framingErrors, 1);
  assert.equal(ev.framing[0].status, 0, 'nothing can be answered for a message that was never read');
  assert.match(ev.framing[0].reason, /1024-byte limit/);
  assert.equal(ev.inbound.length, 0);
  assert.equal(layer.stats().connections, 0);
});

test('a CRLF keep-alive is answered with CRLF and counted, not handed up; garbage is handed up', async () => {
  const { layer, ev, url } = await start(['ws:127.0.0.1:0']);
  const b = await connect(url());
  b.ws.send('\r\n\r\n');
  await b.until((x) => x.frames.length === 1);
  assert.equal(b.frames[0].data.toString(), '\r\n');
  assert.equal(layer.stats().keepalives, 1);
  b.ws.send('this is not SIP');
  const garbage = await ev.nextInbound();
  assert.equal(garbage.data.toString(), 'this is not SIP');
  assert.equal(layer.stats().keepalives, 1);
  assert.equal(layer.stats().received, 1);
});

test('a WebSocket ping goes out every interval; a browser that does not answer one is closed', async () => {
  const { layer, ev, clock, url } = await start(['ws:127.0.0.1:0'], { webSocket: { pingIntervalMs: 1000 } });
  const live = await connect(url());
  const dead = await connect(url(), { autoPong: false });
  for (let round = 1; round <= 3; round++) {
    clock.advance(1000);
    await live.until((x) => x.pings === round);
    await dead.until((x) => x.pings >= 1);
    // A message sent after the ping arrived is read after the pong the client sent first.
    live.ws.send(options(round));
    await ev.nextInbound();
    if (round === 1) assert.equal(ev.closed.length, 0, 'a whole interval to answer the first ping');
  }
  await ev.until(() => ev.closed.length === 1);
  await dead.until((x) => x.closeCode !== undefined);
  assert.equal(live.closeCode, undefined, 'the browser that answers stays');
  assert.equal(layer.stats().connections, 1);
});

test('an idle connection is closed after the idle timeout, like TCP', async () => {
  const { layer, ev, clock, url } = await start(['ws:127.0.0.1:0'], { idleTimeoutMs: 60_000, webSocket: { pingIntervalMs: 1_000_000 } });
  const b = await connect(url());
  clock.advance(59_000);
  assert.equal(layer.stats().connections, 1);
  clock.advance(1000);
  await ev.until(() => ev.closed.length === 1);
  await b.until((x) => x.closeCode !== undefined);
  assert.equal(clock.pending(), 0, 'no timer is left behind');
});

test('we never dial out over WebSocket; a closed connection is reported and connectionClosed fires', async () => {
  const { layer, ev, url } = await start(['ws:127.0.0.1:0']);
  layer.send({ proto: 'ws', address: '127.0.0.1', port: 5999 }, Buffer.from(options(1)));
  await ev.until(() => ev.sendErrors.length === 1);
  assert.match(ev.sendErrors[0].err.message, /reachable only on the connection it opened/);
  assert.equal(layer.stats().connectionsDialled, 0);

  const b = await connect(url());
  b.ws.send(options(2));
  const inb = await ev.nextInbound();
  const id = inb.source.connectionId as number;
  assert.ok(layer.isConnectionOpen(id));
  assert.deepEqual(layer.connectionPeer(id), inb.source);
  b.ws.close(1000);
  await ev.until(() => ev.closed.length === 1);
  assert.equal(ev.closed[0].id, id);
  assert.equal(ev.closed[0].peer.proto, 'ws');
  assert.equal(layer.isConnectionOpen(id), false);
  assert.equal(layer.connectionPeer(id), undefined);
  layer.send(inb.source, Buffer.from(options(3)));
  await ev.until(() => ev.sendErrors.length === 2);
  assert.equal(layer.stats().sendErrors, 2);
});

test('plain HTTP on the port: 404 with one line without a handler, the handler otherwise; no "sip" subprotocol is refused', async () => {
  const bare = await start(['ws:127.0.0.1:0']);
  const notFound = await get(bare.ep.port, '/phone/');
  assert.equal(notFound.status, 404);
  assert.match(notFound.type ?? '', /^text\/plain/);
  assert.equal(notFound.body.trimEnd().split('\n').length, 1);
  assert.match(notFound.body, /SIP over WebSocket/);

  const served = await start(['ws:127.0.0.1:0'], {
    http: (req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<p>page at ${req.url ?? ''}</p>`);
    },
  });
  const page = await get(served.ep.port, '/phone/');
  assert.equal(page.status, 200);
  assert.equal(page.body, '<p>page at /phone/</p>');

  const ws = new WebSocket(served.url());
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response', { signal: AbortSignal.timeout(WAIT_MS) })) as [unknown, { statusCode: number }];
  assert.equal(res.statusCode, 400);
  ws.terminate();
  assert.equal(served.layer.stats().connectionsAccepted, 0);
});

test('admit is asked before the upgrade and for each message', async () => {
  let allowConnect = false;
  let allowMessages = true;
  const { layer, ev, url } = await start(['ws:127.0.0.1:0'], {
    admit: (source) => {
      assert.equal(source.proto, 'ws');
      return source.connectionId === undefined ? allowConnect : allowMessages;
    },
  });
  const refused = new WebSocket(url(), 'sip');
  const gone = new Promise<void>((resolve) => refused.on('close', () => resolve()));
  refused.on('error', () => {});
  await gone;
  assert.equal(layer.stats().refused, 1);
  assert.equal(layer.stats().connectionsAccepted, 0);

  allowConnect = true;
  const b = await connect(url());
  allowMessages = false;
  b.ws.send(options(1));
  await b.until((x) => x.closeCode !== undefined);
  assert.equal(layer.stats().refused, 2);
  assert.equal(ev.inbound.length, 0);
});

test('wss: serves the generated self-signed certificate and carries SIP as proto wss', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-ws-'));
  dirs.push(dir);
  const { ev, url, ep } = await start(['wss:127.0.0.1:0'], { tls: { dataDir: dir } });
  assert.equal(ep.proto, 'wss');
  const b = await connect(url('wss'), { rejectUnauthorized: false });
  b.ws.send(options(1));
  const inb = await ev.nextInbound();
  assert.equal(inb.source.proto, 'wss');
  assert.equal(inb.local.proto, 'wss');
});
