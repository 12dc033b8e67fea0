import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SipParseError } from '../../src/sip/errors.js';
import { bareHost, formatUri, parseUri, uriHost } from '../../src/sip/uri.js';

const isStatus = (status: number) => (e: unknown) => e instanceof SipParseError && e.status === status;

test('sip URI with user, password, port, params and headers', () => {
  const u = parseUri('sip:alice:secret@atlanta.example.com:5070;transport=TCP;lr?Subject=hi%20there&Priority=urgent');
  assert.equal(u.scheme, 'sip');
  assert.equal(u.user, 'alice');
  assert.equal(u.password, 'secret');
  assert.equal(u.host, 'atlanta.example.com');
  assert.equal(u.port, 5070);
  assert.equal(u.params.get('transport'), 'TCP');
  assert.equal(u.params.get('lr'), null);
  assert.equal(u.headers.get('Subject'), 'hi there');
  assert.equal(u.headers.get('Priority'), 'urgent');
});

test('sips and tel URIs', () => {
  const s = parseUri('SIPS:bob@biloxi.example.com');
  assert.equal(s.scheme, 'sips');
  assert.equal(s.port, undefined);
  const t = parseUri('tel:+1-201-555-0123;phone-context=example.com');
  assert.equal(t.scheme, 'tel');
  assert.equal(t.user, '+1-201-555-0123');
  assert.equal(t.params.get('phone-context'), 'example.com');
  assert.equal(formatUri(t), 'tel:+1-201-555-0123;phone-context=example.com');
  assert.throws(() => parseUri('tel:not a number'), isStatus(400));
});

test('IPv6 references keep their brackets and may carry a port', () => {
  const u = parseUri('sip:bob@[2001:db8::1]:5070;transport=udp');
  assert.equal(u.host, '[2001:db8::1]');
  assert.equal(u.port, 5070);
  assert.equal(bareHost(u.host), '2001:db8::1');
  assert.equal(uriHost('2001:db8::1'), '[2001:db8::1]');
  assert.equal(uriHost('192.0.2.1'), '192.0.2.1');
  assert.equal(parseUri('sip:[::1]').host, '[::1]');
  assert.throws(() => parseUri('sip:bob@[2001:db8::1'), isStatus(400));
  assert.throws(() => parseUri('sip:bob@[2001:db8::1]x'), isStatus(400));
  assert.throws(() => parseUri('sip:bob@[zz::1]'), isStatus(400));
});

test('the user part may hold ? ; : while params and headers come after the host', () => {
  const u = parseUri('sip:user;par=u%40example.net@example.com;maddr=192.0.2.1');
  assert.equal(u.user, 'user;par=u%40example.net');
  assert.equal(u.host, 'example.com');
  assert.deepEqual([...u.params], [['maddr', '192.0.2.1']]);
  const q = parseUri('sip:what?now@example.com?X=1');
  assert.equal(q.user, 'what?now');
  assert.equal(q.headers.get('X'), '1');
});

test('a bad % escape in URI headers does not throw anything but stays as written', () => {
  const u = parseUri('sip:a@example.com?%ZZ=%E0%A4%A');
  assert.equal(u.headers.get('%ZZ'), '%E0%A4%A');
});

test('ports, hosts and user parts are checked', () => {
  for (const bad of ['sip:a@example.com:0', 'sip:a@example.com:65536', 'sip:a@example.com:http', 'sip:@example.com', 'sip:a@exa mple.com', 'sip:a@', 'nocolon']) {
    assert.throws(() => parseUri(bad), isStatus(400), bad);
  }
  assert.throws(() => parseUri('sip:a@example.com;;lr'), isStatus(400));
});

test('schemes other than sip, sips and tel are 416', () => {
  for (const s of ['http://example.com/', 'foo:bar', 'mailto:a@example.com']) assert.throws(() => parseUri(s), isStatus(416), s);
});

test('formatUri writes back what parseUri read', () => {
  for (const s of ['sip:alice@atlanta.example.com', 'sips:bob:pw@[2001:db8::1]:5061;transport=tls', 'sip:proxy.example.com;lr', 'sip:a@b.example.com?Subject=x']) {
    assert.equal(formatUri(parseUri(s)), s);
  }
});
