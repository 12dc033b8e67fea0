/**
 * Verified TLS in the transport layer, on loopback with a throwaway PKI
 * (test/helpers/certs.ts): outbound connections check the chain and the
 * name we meant to reach, say what is wrong in words, send SNI for names;
 * inbound connections ask for client certificates when told to.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, createServer as tlsCreateServer, type Server } from 'node:tls';
import {
  TlsVerifyError, TransportLayer, parseListen, systemRoots, type Inbound, type Peer, type TransportHandlers, type TransportOptions,
} from '../../src/sip/transport/index.js';
import { makeTestPki, type CertFiles, type TestPki } from '../helpers/certs.js';
import { captureLog } from '../helpers/log-capture.js';

const WAIT_MS = 5000;
let dir: string;
let pki: TestPki;
const layers: TransportLayer[] = [];
const servers: Server[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchboard-tls-verify-'));
  pki = await makeTestPki(dir);
});
after(async () => {
  await Promise.all(layers.map((l) => l.close()));
  for (const s of servers) s.close();
  await rm(dir, { recursive: true, force: true });
});

const NO_HANDLERS: TransportHandlers = { message: () => undefined, framingError: () => undefined };

function options(i: number): string {
  return `OPTIONS sip:probe@example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK${i}\r\nCall-ID: c${i}\r\nCSeq: ${i} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
}

/** A layer with what it handed up and what it failed to send, and a bounded wait for either. */
async function layer(specs: string[], opts: Omit<TransportOptions, 'handlers'> = {}): Promise<{
  layer: TransportLayer;
  port: (proto: string) => number;
  inbox: Inbound[];
  errors: { dest: Peer; err: Error }[];
  next: () => Promise<Inbound>;
  nextError: () => Promise<{ dest: Peer; err: Error }>;
}> {
  const inbox: Inbound[] = [];
  const errors: { dest: Peer; err: Error }[] = [];
  const l = new TransportLayer({
    ...opts,
    handlers: {
      message: (inb) => {
        inbox.push(inb);
        changed.emit('item');
      },
      framingError: () => undefined,
      sendError: (dest, err) => {
        errors.push({ dest, err });
        changed.emit('item');
      },
    },
  });
  layers.push(l);
  await l.listen(specs.map(parseListen));
  const take = async <T>(list: T[]): Promise<T> => {
    await until(() => list.length > 0);
    return list.shift() as T;
  };
  return {
    layer: l,
    port: (proto) => l.endpoints().find((e) => e.proto === proto)?.port ?? 0,
    inbox,
    errors,
    next: () => take(inbox),
    nextError: () => take(errors),
  };
}

/** Every layer's news, so one wait can watch several layers. */
const changed = new EventEmitter();

async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await once(changed, 'item', { signal: AbortSignal.timeout(WAIT_MS) });
}

async function tlsServerWith(cert: CertFiles, opts: Omit<TransportOptions, 'handlers'> = {}): ReturnType<typeof layer> {
  return layer(['tls:127.0.0.1:0'], { ...opts, tls: { certFile: cert.cert, keyFile: cert.key, ...opts.tls } });
}

/** Sends one request over TLS from a fresh layer: delivered to `to`, or the sender's error. */
async function attempt(to: Awaited<ReturnType<typeof layer>>, dest: Peer, tlsOpts: TransportOptions['tls'] = {}): Promise<{ delivered: boolean; err?: Error }> {
  const from = await layer(['tcp:127.0.0.1:0'], { tls: tlsOpts });
  const before = to.inbox.length;
  from.layer.send(dest, Buffer.from(options(1)));
  await until(() => to.inbox.length > before || from.errors.length > 0);
  if (to.inbox.length > before) {
    to.inbox.splice(before);
    return { delivered: true };
  }
  return { delivered: false, err: from.errors[0].err };
}

test('a self-signed certificate nobody trusts is refused, in words; trusting its own file lets it in', async () => {
  const server = await tlsServerWith(pki.selfSigned);
  const dest: Peer = { proto: 'tls', address: '127.0.0.1', port: server.port('tls') };
  const refused = await attempt(server, dest);
  assert.equal(refused.delivered, false);
  assert.ok(refused.err instanceof TlsVerifyError, String(refused.err));
  assert.equal(refused.err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.match(refused.err.message, /^TLS certificate of 127\.0\.0\.1:\d+ rejected: self-signed certificate \(for sip\.test, 127\.0\.0\.1\)$/);
  assert.equal((await attempt(server, dest, { caFiles: [pki.selfSigned.cert] })).delivered, true);
  assert.equal((await attempt(server, dest, { verify: false })).delivered, true, 'verify: false accepts it');
});

test('a certificate from our CA: unknown CA without it, accepted with it, by address and by name (SNI sent for names)', async () => {
  const server = await tlsServerWith(pki.good);
  const port = server.port('tls');
  const byAddress: Peer = { proto: 'tls', address: '127.0.0.1', port };
  const unknown = await attempt(server, byAddress);
  assert.ok(unknown.err instanceof TlsVerifyError, String(unknown.err));
  assert.equal(unknown.err.problem, 'certificate signed by an unknown CA (unable to verify the first certificate)');
  assert.equal((await attempt(server, byAddress, { caFiles: [pki.ca] })).delivered, true);
  assert.equal((await attempt(server, { ...byAddress, serverName: 'SIP.test' }, { caFiles: [pki.ca] })).delivered, true, 'the name, case aside');

  const wrong = await attempt(server, { ...byAddress, serverName: 'pbx.test' }, { caFiles: [pki.ca] });
  assert.ok(wrong.err instanceof TlsVerifyError, String(wrong.err));
  assert.equal(wrong.err.code, 'HOSTNAME_MISMATCH');
  assert.equal(wrong.err.identity, 'pbx.test', 'checked against the name we meant, not the address it resolved to');
  assert.equal(wrong.err.problem, 'certificate is for sip.test, 127.0.0.1, ::1, not pbx.test');
});

test('SNI carries the server name for names, nothing for addresses', async () => {
  const pems = { cert: await readFile(pki.good.cert, 'utf8'), key: await readFile(pki.good.key, 'utf8') };
  const seen: (string | false)[] = [];
  const raw = tlsCreateServer(pems, (s) => {
    seen.push((s as unknown as { servername: string | false }).servername);
    s.destroy();
    changed.emit('item');
  });
  servers.push(raw);
  raw.listen(0, '127.0.0.1');
  await once(raw, 'listening');
  const port = (raw.address() as { port: number }).port;
  const client = await layer(['tcp:127.0.0.1:0'], { tls: { caFiles: [pki.ca] } });
  client.layer.send({ proto: 'tls', address: '127.0.0.1', port, serverName: 'sip.test' }, Buffer.from(options(2)));
  await until(() => seen.length === 1);
  // A second layer: the first may still hold the connection the server just dropped.
  const other = await layer(['tcp:127.0.0.1:0'], { tls: { caFiles: [pki.ca] } });
  other.layer.send({ proto: 'tls', address: '127.0.0.1', port }, Buffer.from(options(3)));
  await until(() => seen.length === 2);
  assert.deepEqual(seen, ['sip.test', false]);
});

test('wrong name and expired certificates are refused naming the problem', async () => {
  const wrongName = await tlsServerWith(pki.wrongName);
  const w = await attempt(wrongName, { proto: 'tls', address: '127.0.0.1', port: wrongName.port('tls') }, { caFiles: [pki.ca] });
  assert.ok(w.err instanceof TlsVerifyError, String(w.err));
  assert.equal(w.err.problem, 'certificate is for other.example, not 127.0.0.1');

  const expired = await tlsServerWith(pki.expired);
  const e = await attempt(expired, { proto: 'tls', address: '127.0.0.1', port: expired.port('tls') }, { caFiles: [pki.ca] });
  assert.ok(e.err instanceof TlsVerifyError, String(e.err));
  assert.equal(e.err.code, 'CERT_HAS_EXPIRED');
  assert.match(e.err.problem, /^certificate has expired \(valid until .+ GMT\)$/);
});

test('a CA file that is missing or holds no certificate stops listen() with the file named', async () => {
  const missing = new TransportLayer({ tls: { caFiles: [join(dir, 'nope.pem')] }, handlers: NO_HANDLERS });
  layers.push(missing);
  await assert.rejects(missing.listen([parseListen('udp:127.0.0.1:0')]), /Cannot read the TLS CA file .*nope\.pem/);
  const notPem = new TransportLayer({ tls: { caFiles: [pki.good.key] }, handlers: NO_HANDLERS });
  layers.push(notPem);
  await assert.rejects(notPem.listen([parseListen('udp:127.0.0.1:0')]), /good\.key holds no PEM certificate/);
});

/** A raw client: what the server does with its OPTIONS (delivered or not), and how the connection ends. */
async function rawClient(port: number, cert?: CertFiles): Promise<void> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
    cert: cert ? await readFile(cert.cert, 'utf8') : undefined,
    key: cert ? await readFile(cert.key, 'utf8') : undefined,
  });
  socket.on('error', () => undefined);
  socket.once('secureConnect', () => socket.write(options(9)));
  await once(socket, 'close', { signal: AbortSignal.timeout(WAIT_MS) }).catch(() => socket.destroy());
}

test('client_certs require: no certificate or a stranger\'s is refused (and logged); one from our CA is let in', async () => {
  const { log, records } = captureLog();
  const server = await tlsServerWith(pki.good, { log, tls: { caFiles: [pki.ca], clientCerts: 'require' } });
  const port = server.port('tls');
  const delivered = server.inbox;

  await rawClient(port);
  await rawClient(port, pki.strangerClient);
  assert.equal(delivered.length, 0, 'nothing from a client without a good certificate reached the layer above');
  assert.equal(server.layer.stats().connectionsAccepted, 0);
  const refusals = records().filter((l) => String(l.msg).startsWith('TLS client refused'));
  assert.equal(refusals.length, 1, 'one line per source per minute: ' + JSON.stringify(records()));
  assert.match(String(refusals[0].msg), /no client certificate/);

  const inbound = server.next();
  const good = tlsConnect({ host: '127.0.0.1', port, ca: await readFile(pki.ca, 'utf8'), cert: await readFile(pki.client.cert, 'utf8'), key: await readFile(pki.client.key, 'utf8') });
  good.once('secureConnect', () => good.write(options(10)));
  const got = await inbound;
  assert.equal(got.data.toString(), options(10));
  good.destroy();
});

test('client_certs request: a client without a certificate is let in, and what each presented is logged', async () => {
  const { log, records } = captureLog();
  const server = await tlsServerWith(pki.good, { log, tls: { caFiles: [pki.ca], clientCerts: 'request' } });
  const port = server.port('tls');
  const plain = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  plain.once('secureConnect', () => plain.write(options(11)));
  assert.equal((await server.next()).data.toString(), options(11));
  plain.destroy();
  const line = records().find((l) => l.msg === 'TLS client certificate');
  assert.ok(line, JSON.stringify(records()));
  assert.equal(line.presented, false);
  assert.equal(line.verified, false);
});

test('a source the admit gate refuses gets no TLS handshake at all (no certificate sent), and no handshake log line', async () => {
  const { log, records } = captureLog();
  const server = await tlsServerWith(pki.good, { log, admit: (src) => src.address !== '127.0.0.2' });
  const port = server.port('tls');
  const outcome = await new Promise<string>((resolve) => {
    const s = tlsConnect({ socket: netConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }), rejectUnauthorized: false });
    s.once('secureConnect', () => resolve(`handshake completed, certificate ${s.getPeerCertificate().subject?.CN}`));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  assert.equal(outcome, 'ECONNRESET');
  assert.equal(server.layer.stats().refused, 1);
  assert.equal(server.layer.stats().connectionsAccepted, 0);
  assert.deepEqual(records(), [], 'our own refusal is not a handshake failure worth logging');

  const ok = tlsConnect({ host: '127.0.0.1', port, ca: await readFile(pki.ca, 'utf8') });
  ok.once('secureConnect', () => ok.write(options(20)));
  assert.equal((await server.next()).data.toString(), options(20), 'an admitted source is served as before');
  ok.destroy();
});

test('a TLS connection verified for one name is not reused for another, nor is one the peer opened to us', async () => {
  const server = await tlsServerWith(pki.good, { tls: { caFiles: [pki.ca] } });
  const port = server.port('tls');
  const from = await layer(['tcp:127.0.0.1:0'], { tls: { caFiles: [pki.ca] } });
  from.layer.send({ proto: 'tls', address: '127.0.0.1', port, serverName: 'sip.test' }, Buffer.from(options(30)));
  assert.equal((await server.next()).data.toString(), options(30));
  // Same address and port, another name the certificate does not carry: a new connection, and it fails.
  from.layer.send({ proto: 'tls', address: '127.0.0.1', port, serverName: 'pbx.test' }, Buffer.from(options(31)));
  const refused = await from.nextError();
  assert.ok(refused.err instanceof TlsVerifyError && refused.err.code === 'HOSTNAME_MISMATCH', String(refused.err));
  assert.equal(from.layer.stats().connectionsDialled, 2);
  assert.equal(server.inbox.length, 0, 'nothing for pbx.test went over the connection verified for sip.test');
});

test("the trust store is the system's CA bundle where the distribution has one (what update-ca-certificates manages)", async () => {
  const bundle = '/etc/ssl/certs/ca-certificates.crt';
  let expected: string | undefined;
  try {
    expected = await readFile(bundle, 'utf8');
  } catch {
    expected = undefined;
  }
  const roots = systemRoots();
  if (expected) assert.deepEqual(roots, [expected]);
  else assert.ok(roots.length > 100, "node's bundled roots where the system has no bundle");
});
