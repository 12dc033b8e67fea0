/**
 * The transport layer on real loopback sockets (127.0.0.1, and ::1 when the
 * host has it). Ports are always 0 so tests never collide with anything.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { VirtualClock } from '../../src/util/clock.js';
import { CONNECT_TIMEOUT_MS } from '../../src/sip/transport/tcp.js';
import { MAX_HEADER_BYTES } from '../../src/sip/message.js';
import {
  CERT_FILE_NAME, KEY_FILE_NAME, ListenError, TransportLayer, parseListen,
  type Inbound, type LocalEndpoint, type Peer, type TransportHandlers,
  type TransportOptions,
} from '../../src/sip/transport/index.js';

const WAIT_MS = 5000;

function options(i: number): string {
  return `OPTIONS sip:probe@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK${i}\r\nCall-ID: c${i}\r\nCSeq: ${i} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
}

function reply(i: number, body = ''): string {
  return `SIP/2.0 200 OK\r\nCall-ID: c${i}\r\nCSeq: ${i} OPTIONS\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** Everything a layer hands up, awaitable in order. */
class Inbox extends EventEmitter {
  readonly items: Inbound[] = [];
  push(inb: Inbound): void {
    this.items.push(inb);
    this.emit('item');
  }
  async next(): Promise<Inbound> {
    // Bounded by the abort signal: fails the test instead of hanging.
    while (this.items.length === 0) await once(this, 'item', { signal: AbortSignal.timeout(WAIT_MS) });
    return this.items.shift() as Inbound;
  }
}

/** A plain socket client that keeps everything it receives. */
class RawClient {
  text = '';
  ended = false;
  private readonly events = new EventEmitter();
  constructor(readonly socket: Socket | TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
      this.events.emit('change');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
      this.events.emit('change');
    });
  }
  static async tcp(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = netConnect({ host, port });
    await once(socket, 'connect', { signal: AbortSignal.timeout(WAIT_MS) });
    return new RawClient(socket);
  }
  async waitFor(check: (c: RawClient) => boolean): Promise<void> {
    while (!check(this)) await once(this.events, 'change', { signal: AbortSignal.timeout(WAIT_MS) });
  }
  async waitText(s: string): Promise<void> {
    await this.waitFor((c) => c.text.includes(s));
  }
  async waitClosed(): Promise<void> {
    await this.waitFor((c) => c.ended);
  }
}

const layers: TransportLayer[] = [];
const tempDirs: string[] = [];

/** What a test listens to besides messages; set after start(), called by the layer's one handler object. */
interface Hooks {
  framingError?: TransportHandlers['framingError'];
  sendError?: (dest: Peer, err: Error) => void;
  connectionClosed?: (connectionId: number, peer: Peer) => void;
}

async function start(
  specs: string[],
  opts: Omit<TransportOptions, 'handlers'> = {},
): Promise<{ layer: TransportLayer; inbox: Inbox; hooks: Hooks; ep: (proto: string) => LocalEndpoint }> {
  const inbox = new Inbox();
  const hooks: Hooks = {};
  const layer = new TransportLayer({
    ...opts,
    handlers: {
      message: (inb) => inbox.push(inb),
      framingError: (...args) => hooks.framingError?.(...args),
      sendError: (dest, err) => hooks.sendError?.(dest, err),
      connectionClosed: (id, peer) => hooks.connectionClosed?.(id, peer),
    },
  });
  layers.push(layer);
  await layer.listen(specs.map(parseListen));
  const ep = (proto: string): LocalEndpoint => {
    const found = layer.endpoints().find((e) => e.proto === proto);
    assert.ok(found, `no ${proto} endpoint`);
    return found;
  };
  return { layer, inbox, hooks, ep };
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchboard-transport-'));
  tempDirs.push(dir);
  return dir;
}

/** A port nobody listens on: bind one, then let it go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

let hasIpv6 = false;
before(async () => {
  const probe = createServer();
  try {
    probe.listen(0, '::1');
    await once(probe, 'listening');
    hasIpv6 = true;
  } catch {
    hasIpv6 = false;
  } finally {
    probe.close();
  }
});

after(async () => {
  await Promise.all(layers.map((l) => l.close()));
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('listen with port 0 reports the real bound ports', async () => {
  const { layer } = await start(['udp:127.0.0.1:0', 'tcp:127.0.0.1:0']);
  const eps = layer.endpoints();
  assert.equal(eps.length, 2);
  for (const e of eps) assert.ok(e.port > 0, `${e.proto} port ${e.port}`);
});

test('UDP: a datagram goes up with its source, the answer comes back; CRLF keep-alives are dropped', async () => {
  const { layer, inbox, ep } = await start(['udp:127.0.0.1:0']);
  const client = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  try {
    client.send('\r\n\r\n', ep('udp').port, '127.0.0.1');
    client.send(options(1), ep('udp').port, '127.0.0.1');
    const inb = await inbox.next();
    assert.equal(inb.data.toString(), options(1), 'the keep-alive was not handed up');
    assert.deepEqual(inb.source, { proto: 'udp', address: '127.0.0.1', port: client.address().port });
    assert.deepEqual(inb.local, ep('udp'));
    layer.send(inb.source, Buffer.from(reply(1)));
    const [answer] = await once(client, 'message', { signal: AbortSignal.timeout(WAIT_MS) });
    assert.equal((answer as Buffer).toString(), reply(1));
    const s = layer.stats();
    assert.equal(s.keepalives, 1);
    assert.equal(s.received, 1);
    assert.equal(s.sent, 1);
  } finally {
    client.close();
  }
});

test('TCP: a reply to the Peer of a request goes out on the connection the request came in on', async () => {
  const { layer, inbox, ep } = await start(['tcp:127.0.0.1:0']);
  const a = await RawClient.tcp(ep('tcp').port);
  const b = await RawClient.tcp(ep('tcp').port);
  try {
    // Split mid-header: framing must not depend on how the bytes arrive.
    a.socket.write(options(1).slice(0, 25));
    a.socket.write(options(1).slice(25));
    b.socket.write(options(2));
    const inbs = [await inbox.next(), await inbox.next()];
    const fromA = inbs.find((i) => i.data.toString() === options(1));
    const fromB = inbs.find((i) => i.data.toString() === options(2));
    assert.ok(fromA && fromB);
    assert.equal(fromA.source.proto, 'tcp');
    assert.equal(fromA.source.port, a.socket.localPort);
    assert.equal(typeof fromA.source.connectionId, 'number');
    assert.notEqual(fromA.source.connectionId, fromB.source.connectionId, 'connection ids are unique');
    assert.equal(fromA.local.port, ep('tcp').port);

    layer.send(fromA.source, Buffer.from(reply(1)));
    await a.waitText(reply(1));
    assert.equal(b.text, '', 'the other connection got nothing');

    // Without the id, the open connection to that address:port is still reused.
    const { connectionId: _id, ...withoutId } = fromB.source;
    layer.send(withoutId, Buffer.from(reply(2)));
    await b.waitText(reply(2));
    assert.equal(layer.stats().connectionsDialled, 0, 'no new connection was dialled');
    assert.equal(layer.stats().connections, 2);
  } finally {
    a.socket.destroy();
    b.socket.destroy();
  }
});

test('TCP: a double-CRLF keep-alive ping gets a single CRLF pong', async () => {
  const { layer, inbox, ep } = await start(['tcp:127.0.0.1:0']);
  const c = await RawClient.tcp(ep('tcp').port);
  try {
    c.socket.write('\r\n\r\n');
    await c.waitText('\r\n');
    assert.equal(c.text, '\r\n');
    assert.equal(layer.stats().keepalives, 1);
    // The connection still carries SIP afterwards.
    c.socket.write(options(3));
    assert.equal((await inbox.next()).data.toString(), options(3));
  } finally {
    c.socket.destroy();
  }
});

test('TCP: a 64 KiB header section is a 513 framing error; the answer is delivered, then the connection closes', async () => {
  const { layer, inbox, hooks, ep } = await start(['tcp:127.0.0.1:0']);
  const seen: { source: Peer; status: number; head: string }[] = [];
  hooks.framingError = (source, _local, status, reason, head) => {
    seen.push({ source, status, head: head.toString('latin1') });
    layer.send(source, Buffer.from(`SIP/2.0 ${status} ${reason}\r\nContent-Length: 0\r\n\r\n`));
  };

  const c = await RawClient.tcp(ep('tcp').port);
  const clientPort = c.socket.localPort;
  c.socket.write(`INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: big\r\nX-Pad: ${'p'.repeat(MAX_HEADER_BYTES + 100)}\r\n`);
  await c.waitClosed();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].status, 513);
  assert.equal(seen[0].source.port, clientPort);
  assert.ok(seen[0].head.startsWith('INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: big\r\n'));
  assert.match(c.text, /^SIP\/2\.0 513 /);
  assert.equal(inbox.items.length, 0, 'nothing was handed up as a message');
  assert.equal(layer.stats().framingErrors, 1);

  // Only that connection is gone: the listener still serves others.
  const d = await RawClient.tcp(ep('tcp').port);
  try {
    d.socket.write(options(4));
    assert.equal((await inbox.next()).data.toString(), options(4));
  } finally {
    d.socket.destroy();
  }
});

test('TCP: a connection reset by one peer does not disturb another', async () => {
  const { layer, inbox, ep } = await start(['tcp:127.0.0.1:0']);
  const a = await RawClient.tcp(ep('tcp').port);
  const b = await RawClient.tcp(ep('tcp').port);
  try {
    a.socket.write(options(5));
    b.socket.write(options(6));
    const first = await inbox.next();
    const second = await inbox.next();
    const [fromA, fromB] = first.data.toString() === options(5) ? [first, second] : [second, first];
    a.socket.resetAndDestroy();
    await a.waitClosed();
    // Sending to the reset connection reports an error or is dropped, never throws.
    assert.doesNotThrow(() => layer.send(fromA.source, Buffer.from(reply(5))));
    layer.send(fromB.source, Buffer.from(reply(6)));
    await b.waitText(reply(6));
  } finally {
    b.socket.destroy();
  }
});

test('TCP: a connection idle longer than idleTimeoutMs is closed (virtual clock)', async () => {
  const clock = new VirtualClock();
  const { layer, inbox, hooks, ep } = await start(['tcp:127.0.0.1:0'], { clock, idleTimeoutMs: 60_000 });
  const closedIds: number[] = [];
  hooks.connectionClosed = (id) => closedIds.push(id);
  const c = await RawClient.tcp(ep('tcp').port);
  c.socket.write(options(7));
  const first = await inbox.next();
  clock.advance(30_000);
  c.socket.write(options(8)); // activity pushes the deadline out
  await inbox.next();
  clock.advance(59_000);
  assert.equal(layer.stats().connections, 1, 'still open 59 s after the last message');
  clock.advance(1_000);
  await c.waitClosed();
  assert.equal(layer.stats().connections, 0);
  assert.deepEqual(closedIds, [first.source.connectionId], 'the registrar is told which flow ended');
});

test('TCP: the layer dials out, the far side answers on the same connection, and the next send reuses it', async () => {
  const a = await start(['tcp:127.0.0.1:0']);
  const b = await start(['tcp:127.0.0.1:0']);
  const dest: Peer = { proto: 'tcp', ...pick(b.ep('tcp')) };
  a.layer.send(dest, Buffer.from(options(9)));
  a.layer.send(dest, Buffer.from(options(10))); // queued while connecting
  const in9 = await b.inbox.next();
  const in10 = await b.inbox.next();
  assert.equal(in9.data.toString(), options(9));
  assert.equal(in10.data.toString(), options(10));
  assert.equal(in9.source.connectionId, in10.source.connectionId);
  b.layer.send(in9.source, Buffer.from(reply(9, 'body')));
  const back = await a.inbox.next();
  assert.equal(back.data.toString(), reply(9, 'body'));
  assert.deepEqual(pick(back.source), pick(b.ep('tcp')));
  a.layer.send(dest, Buffer.from(options(11)));
  assert.equal((await b.inbox.next()).source.connectionId, in9.source.connectionId);
  assert.equal(a.layer.stats().connectionsDialled, 1);
  assert.equal(b.layer.stats().connectionsAccepted, 1);
  assert.equal(b.layer.stats().connectionsDialled, 0, 'the answer did not open a connection back');
});

test('TLS: round trip over the generated certificate, which is reused on the next start', async () => {
  const dataDir = await tempDir();
  const server = await start(['tls:127.0.0.1:0'], { tls: { dataDir } });
  const certPath = join(dataDir, CERT_FILE_NAME);
  const certPem = await readFile(certPath, 'utf8');
  const keyStat = await stat(join(dataDir, KEY_FILE_NAME));
  assert.equal(keyStat.mode & 0o077, 0, 'the private key is readable by its owner only');
  assert.match(new X509Certificate(certPem).subjectAltName ?? '', /IP Address:127\.0\.0\.1/);

  // Layer to layer: dial, request, answer on the same TLS connection. The client trusts the
  // self-signed certificate explicitly: outbound TLS verifies the peer.
  const client = await start(['tcp:127.0.0.1:0'], { tls: { caFiles: [certPath] } });
  const dest: Peer = { proto: 'tls', ...pick(server.ep('tls')) };
  client.layer.send(dest, Buffer.from(options(12)));
  const req = await server.inbox.next();
  assert.equal(req.data.toString(), options(12));
  assert.equal(req.source.proto, 'tls');
  server.layer.send(req.source, Buffer.from(reply(12)));
  const res = await client.inbox.next();
  assert.equal(res.data.toString(), reply(12));
  assert.equal(res.source.proto, 'tls');

  const firstFingerprint = await presentedFingerprint(server.ep('tls').port);
  assert.equal(firstFingerprint, new X509Certificate(certPem).fingerprint256);
  await server.layer.close();

  const again = await start(['tls:127.0.0.1:0'], { tls: { dataDir } });
  assert.equal(await readFile(certPath, 'utf8'), certPem, 'the certificate file was not rewritten');
  assert.equal(await presentedFingerprint(again.ep('tls').port), firstFingerprint);
});

test('TLS without certificate settings is refused with a message saying what to set', async () => {
  const layer = new TransportLayer({ handlers: { message: () => undefined, framingError: () => undefined } });
  layers.push(layer);
  await assert.rejects(layer.listen([parseListen('tls:127.0.0.1:0')]), /tls:127\.0\.0\.1:0.*certFile/);
});

test('send errors never throw: closed TCP port, UDP to a closed port, no IPv6 listener, after close', async () => {
  const { layer, hooks } = await start(['udp:127.0.0.1:0', 'tcp:127.0.0.1:0']);
  const port = await closedPort();
  const errors: { dest: Peer; err: NodeJS.ErrnoException }[] = [];
  const seen = new EventEmitter();
  hooks.sendError = (dest, err) => {
    errors.push({ dest, err });
    seen.emit('err');
  };

  assert.doesNotThrow(() => layer.send({ proto: 'tcp', address: '127.0.0.1', port }, Buffer.from(options(13))));
  assert.doesNotThrow(() => layer.send({ proto: 'udp', address: '127.0.0.1', port }, Buffer.from(options(14))));
  assert.doesNotThrow(() => layer.send({ proto: 'udp', address: '::1', port }, Buffer.from(options(15))));
  while (errors.length < 2) await once(seen, 'err', { signal: AbortSignal.timeout(WAIT_MS) });
  assert.ok(errors.some((e) => e.dest.proto === 'tcp' && e.err.code === 'ECONNREFUSED'), 'refused TCP is reported');
  assert.ok(errors.some((e) => e.dest.address === '::1' && /no UDP listener for IPv6/.test(e.err.message)));
  assert.equal(layer.stats().connections, 0, 'the failed connection is forgotten');
  await layer.close();
  assert.doesNotThrow(() => layer.send({ proto: 'udp', address: '127.0.0.1', port }, Buffer.from('x')));
  assert.match(errors.at(-1)?.err.message ?? '', /closed/);
});

test('TLS: a peer that never completes the handshake fails the queued message after the connect timeout', async () => {
  const clock = new VirtualClock();
  // Accepts TCP but never speaks TLS, so the handshake hangs.
  const silent = createServer(() => {});
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const addr = silent.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  try {
    const { layer, hooks } = await start(['udp:127.0.0.1:0'], { clock });
    const errors: Error[] = [];
    hooks.sendError = (_d, err) => errors.push(err);
    layer.send({ proto: 'tls', address: '127.0.0.1', port }, Buffer.from(options(19)));
    await once(silent, 'connection', { signal: AbortSignal.timeout(WAIT_MS) });
    clock.advance(CONNECT_TIMEOUT_MS - 1);
    assert.equal(errors.length, 0);
    clock.advance(1);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /timed out/);
    assert.equal(layer.stats().connections, 0);
  } finally {
    silent.close();
  }
});

test('a port in use is refused with a typed error naming the address and the code (callers say what to do); nothing stays half-bound', async () => {
  const first = await start(['tcp:127.0.0.1:0']);
  const taken = first.ep('tcp').port;
  const second = new TransportLayer({ handlers: { message: () => undefined, framingError: () => undefined } });
  layers.push(second);
  await assert.rejects(second.listen([parseListen('udp:127.0.0.1:0'), parseListen(`tcp:127.0.0.1:${taken}`)]), (err: Error) => {
    assert.ok(err instanceof ListenError, 'a typed error the caller can phrase advice from');
    assert.equal(err.code, 'EADDRINUSE');
    assert.deepEqual(err.endpoint, { proto: 'tcp', address: '127.0.0.1', port: taken });
    assert.match(err.message, new RegExp(`tcp:127\\.0\\.0\\.1:${taken} is already in use`));
    // The transport serves a server and a phone alike: the advice (sip.listen, --listen) is theirs to give.
    assert.doesNotMatch(err.message, /sip\.listen|--listen|switchboard\.yaml/);
    return true;
  });
  assert.deepEqual(second.endpoints(), [], 'the UDP socket bound before the failure was released');
  // The first server is unaffected.
  const c = await RawClient.tcp(taken);
  try {
    c.socket.write(options(16));
    assert.equal((await first.inbox.next()).data.toString(), options(16));
  } finally {
    c.socket.destroy();
  }
});

test('IPv6 loopback: UDP and TCP round trips on ::1', async (t) => {
  if (!hasIpv6) {
    t.skip('this host has no ::1 (IPv6 loopback disabled); IPv6 transport not tested');
    return;
  }
  const { layer, inbox, ep } = await start(['udp:[::1]:0', 'tcp:[::1]:0', 'udp:127.0.0.1:0']);
  const udp = createSocket('udp6');
  udp.bind(0, '::1');
  await once(udp, 'listening');
  try {
    udp.send(options(17), ep('udp').port, '::1');
    const inb = await inbox.next();
    assert.equal(inb.source.address, '::1');
    assert.equal(inb.local.address, '::1');
    layer.send(inb.source, Buffer.from(reply(17)));
    const [answer] = await once(udp, 'message', { signal: AbortSignal.timeout(WAIT_MS) });
    assert.equal((answer as Buffer).toString(), reply(17));
  } finally {
    udp.close();
  }
  const c = await RawClient.tcp(ep('tcp').port, '::1');
  try {
    c.socket.write(options(18));
    const inb = await inbox.next();
    assert.deepEqual({ proto: inb.source.proto, address: inb.source.address }, { proto: 'tcp', address: '::1' });
    layer.send(inb.source, Buffer.from(reply(18)));
    await c.waitText(reply(18));
  } finally {
    c.socket.destroy();
  }
});

function pick(ep: LocalEndpoint): { address: string; port: number } {
  return { address: ep.address, port: ep.port };
}

async function presentedFingerprint(port: number): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  try {
    await once(socket, 'secureConnect', { signal: AbortSignal.timeout(WAIT_MS) });
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}
