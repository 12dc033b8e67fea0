/**
 * `switchboard phone` flags: every bad value is refused before anything is
 * opened, with a UsageError that names the flag and shows what to write.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHostPort, parsePhoneOptions, UsageError, type RawPhoneOptions } from '../../src/cli/phone/options.js';

const ACCOUNT = { server: '127.0.0.1:5060', user: '1001', password: 'secret' };

/** Asserts a UsageError whose message names `flag` and carries an example ("e.g. --flag ..."). */
function rejects(raw: RawPhoneOptions, flag: string, mode: 'call' | 'listen' | 'register' = 'call'): string {
  let caught: unknown;
  try {
    parsePhoneOptions(raw, mode);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UsageError, `expected a UsageError for ${JSON.stringify(raw)}, got ${String(caught)}`);
  const msg = caught.message;
  assert.ok(msg.includes(flag), `message names ${flag}: ${msg}`);
  assert.match(msg, /e\.g\. /, `message shows an example: ${msg}`);
  return msg;
}

test('defaults: call plays a 440 Hz tone, listen a 1 kHz tone; every codec, loopback, no server', () => {
  const call = parsePhoneOptions({}, 'call');
  assert.equal(call.play, 'tone:440');
  assert.deepEqual(call.listen, { host: '127.0.0.1', port: 0 });
  assert.deepEqual(call.codecs, ['pcmu', 'pcma', 'g722', 'opus']);
  assert.equal(call.server, undefined);
  assert.equal(call.stun, undefined);
  assert.equal(call.durationS, undefined);
  assert.equal(call.stats, false);
  assert.equal(call.autoAnswer, false);
  assert.equal(call.expires, 3600);
  assert.equal(parsePhoneOptions({}, 'listen').play, 'tone:1000');
  assert.equal(parsePhoneOptions({ play: 'silence' }, 'listen').play, 'silence');
});

test('--server without --user or --password is refused with an example of all three', () => {
  const msg = rejects({ server: '127.0.0.1:5060' }, '--server');
  assert.match(msg, /--user/);
  assert.match(msg, /--password/);
  rejects({ server: '127.0.0.1:5060', user: '1001' }, '--password');
  rejects({ server: '127.0.0.1:5060', password: 'x' }, '--user', 'listen');
});

test('--server: the port defaults to 5060; a malformed value names the flag', () => {
  assert.deepEqual(parsePhoneOptions({ ...ACCOUNT, server: '127.0.0.1' }, 'register').server, { host: '127.0.0.1', port: 5060 });
  assert.deepEqual(parsePhoneOptions({ ...ACCOUNT, server: 'pbx.example.test:5080' }, 'call').server, { host: 'pbx.example.test', port: 5080 });
  rejects({ ...ACCOUNT, server: '127.0.0.1:99999' }, '--server');
  rejects({ ...ACCOUNT, server: '127.0.0.1:abc' }, '--server');
  rejects({ ...ACCOUNT, server: '127.0.0.1:' }, '--server');
  rejects({ ...ACCOUNT, server: 'a b:5060' }, '--server');
  rejects({}, '--server', 'register');
  rejects({ user: '1001', password: 'secret' }, '--server', 'listen');
});

test('--codec: unknown names are refused listing the choices; a list sets the preference order', () => {
  const msg = rejects({ codec: 'gsm' }, '--codec');
  assert.match(msg, /"gsm"/);
  assert.match(msg, /pcmu, pcma, g722, opus/);
  rejects({ codec: 'opus,g729' }, '--codec');
  rejects({ codec: '' }, '--codec');
  assert.deepEqual(parsePhoneOptions({ codec: 'opus,pcmu' }, 'call').codecs, ['opus', 'pcmu']);
  assert.deepEqual(parsePhoneOptions({ codec: 'PCMA,G722' }, 'call').codecs, ['pcma', 'g722']);
  assert.deepEqual(parsePhoneOptions({ codec: 'g722' }, 'call').codecs, ['g722']);
  // Named twice, offered once (a payload type twice on m= confuses peers).
  assert.deepEqual(parsePhoneOptions({ codec: 'pcmu,opus,pcmu' }, 'call').codecs, ['pcmu', 'opus']);
});

test('--duration must be a positive number of seconds', () => {
  for (const bad of ['0', '-1', 'abc', '', 'Infinity']) rejects({ duration: bad }, '--duration');
  assert.equal(parsePhoneOptions({ duration: '10' }, 'call').durationS, 10);
  assert.equal(parsePhoneOptions({ duration: '2.5' }, 'call').durationS, 2.5);
});

test('--dtmf takes only 0-9 * # A-D, and is sent upper case', () => {
  for (const bad of ['12x', 'E', '1 2', '', '*#+']) rejects({ dtmf: bad }, '--dtmf');
  assert.equal(parsePhoneOptions({ dtmf: '1234#*abcd' }, 'call').dtmf, '1234#*ABCD');
});

test('--calls must be a whole number of at least 1', () => {
  for (const bad of ['0', '-2', '1.5', 'two']) rejects({ calls: bad }, '--calls', 'listen');
  assert.equal(parsePhoneOptions({ calls: '3' }, 'listen').calls, 3);
});

test('--expires must be a whole number of seconds, at least 10', () => {
  for (const bad of ['5', 'abc', '60.5']) rejects({ ...ACCOUNT, expires: bad }, '--expires', 'register');
  assert.equal(parsePhoneOptions({ ...ACCOUNT, expires: '600' }, 'register').expires, 600);
});

test('--listen needs an IP address of this machine, not a host name; IPv6 in brackets', () => {
  const msg = rejects({ listen: 'localhost:5060' }, '--listen');
  assert.match(msg, /IP address/);
  rejects({ listen: '127.0.0.1' }, '--listen');
  rejects({ listen: '::1:5060' }, '--listen');
  assert.deepEqual(parsePhoneOptions({ listen: '127.0.0.1:5074' }, 'listen').listen, { host: '127.0.0.1', port: 5074 });
  assert.deepEqual(parsePhoneOptions({ listen: '[::1]:5060' }, 'listen').listen, { host: '::1', port: 5060 });
});

test('--stun: the port defaults to 3478', () => {
  assert.deepEqual(parsePhoneOptions({ stun: '127.0.0.1' }, 'call').stun, { host: '127.0.0.1', port: 3478 });
  assert.deepEqual(parsePhoneOptions({ stun: '127.0.0.1:3479' }, 'call').stun, { host: '127.0.0.1', port: 3479 });
  assert.deepEqual(parsePhoneOptions({ stun: '[::1]' }, 'call').stun, { host: '::1', port: 3478 });
  const msg = rejects({ stun: '127.0.0.1:70000' }, '--stun');
  assert.match(msg, /3478/);
});

test('parseHostPort: IPv6 literals only in brackets, ports 0-65535', () => {
  assert.deepEqual(parseHostPort('--server', '[::1]:5060'), { host: '::1', port: 5060 });
  assert.deepEqual(parseHostPort('--server', '[2001:db8::1]', 5060), { host: '2001:db8::1', port: 5060 });
  assert.deepEqual(parseHostPort('--server', '10.0.0.1:65535'), { host: '10.0.0.1', port: 65535 });
  assert.throws(() => parseHostPort('--server', '10.0.0.1:65536'), UsageError);
  assert.throws(() => parseHostPort('--server', '[::1]:'), UsageError);
  assert.throws(() => parseHostPort('--server', '10.0.0.1'), UsageError, 'no default port, none given');
  assert.throws(() => parseHostPort('--server', ':5060'), UsageError);
});

test('--transport: udp by default, tcp when asked, anything else or tcp with --stun is a usage error', () => {
  assert.equal(parsePhoneOptions({}, 'call').transport, 'udp');
  assert.equal(parsePhoneOptions({ transport: 'TCP' }, 'call').transport, 'tcp');
  assert.throws(() => parsePhoneOptions({ transport: 'sctp' }, 'call'), (e: Error) => e instanceof UsageError && /--transport sctp.*e\.g\. --transport tcp/.test(e.message));
  assert.throws(() => parsePhoneOptions({ transport: 'tcp', stun: '10.0.0.1' }, 'call'), (e: Error) => e instanceof UsageError && /--stun/.test(e.message));
});

test('--transport tls makes --server default to port 5061', () => {
  const o = parsePhoneOptions({ transport: 'tls', server: '127.0.0.1', user: 'u', password: 'p' }, 'call');
  assert.equal(o.transport, 'tls');
  assert.deepEqual(o.server, { host: '127.0.0.1', port: 5061 });
});

test('--ca and --insecure: TLS only, one or the other; verification stays on by default', () => {
  const tls = { ...ACCOUNT, transport: 'tls' };
  const plain = parsePhoneOptions(tls, 'register');
  assert.equal(plain.insecure, false);
  assert.equal(plain.ca, undefined);
  assert.equal(parsePhoneOptions({ ...tls, ca: 'ca.pem' }, 'register').ca, 'ca.pem');
  assert.equal(parsePhoneOptions({ ...tls, insecure: true }, 'register').insecure, true);
  assert.match(rejects({ ...ACCOUNT, ca: 'ca.pem' }, '--ca', 'register'), /use it with --transport tls/);
  assert.match(rejects({ ...ACCOUNT, transport: 'tcp', insecure: true }, '--insecure', 'register'), /use it with --transport tls/);
  assert.match(rejects({ ...tls, ca: 'ca.pem', insecure: true }, '--insecure', 'register'), /contradict/);
});
