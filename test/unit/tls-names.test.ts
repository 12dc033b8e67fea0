/** RFC 5922 §7: which host a certificate speaks for, as node shows its names. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certificateNames, hostMismatch, matchesHost, normalizeIp } from '../../src/sip/transport/tls-names.js';

const names = (san: string | undefined, subject = 'O=Test\nCN=cn.example'): ReturnType<typeof certificateNames> => certificateNames(san, subject);

test('node\'s subjectAltName text is read entry by entry: DNS, sip URIs (host only), addresses, quoted values', () => {
  const n = names('DNS:Sip.Example.COM., URI:sip:Proxy.Example.com:5061;transport=tls, URI:sip:alice@example.com, URI:https://example.com/, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:"odd,name.example", email:a@b.c');
  assert.deepEqual(n.dns, ['sip.example.com', 'odd,name.example']);
  assert.deepEqual(n.sipUris, ['proxy.example.com'], 'a sip URI with a user part names a user, not a domain; other schemes are no identity');
  assert.deepEqual(n.ips, ['127.0.0.1', '0:0:0:0:0:0:0:1']);
  assert.equal(n.commonName, 'cn.example');
});

test('a sip URI identity is preferred: DNS entries count only when the certificate has none', () => {
  const both = names('URI:sip:example.com, DNS:www.example.com');
  assert.equal(matchesHost('example.com', both), true);
  assert.equal(matchesHost('www.example.com', both), false, 'RFC 5922 §7.1: DNS only if no sip URI identity is present');
  const dnsOnly = names('DNS:www.example.com, DNS:example.com');
  assert.equal(matchesHost('WWW.Example.com', dnsOnly), true, 'case does not matter');
  assert.equal(matchesHost('www.example.com.', dnsOnly), true, 'a trailing dot does not matter');
  assert.equal(matchesHost('mail.example.com', dnsOnly), false);
});

test('wildcards are never expanded (RFC 5922 §7.2)', () => {
  const wild = names('DNS:*.example.com');
  assert.equal(matchesHost('sip.example.com', wild), false);
  assert.equal(matchesHost('example.com', wild), false);
  assert.match(hostMismatch('sip.example.com', wild) ?? '', /^certificate is for \*\.example\.com, not sip\.example\.com$/);
});

test('the subject CN counts only when there is no DNS or sip URI entry at all', () => {
  assert.equal(matchesHost('cn.example', names(undefined)), true);
  assert.equal(matchesHost('cn.example', names('IP Address:10.0.0.1')), true, 'an address-only SAN leaves the CN for names');
  assert.equal(matchesHost('cn.example', names('DNS:other.example')), false);
  assert.equal(matchesHost('cn.example', names('URI:sip:other.example')), false);
});

test('IP literals match IP entries (and sip URIs written with the address), any IPv6 spelling', () => {
  const n = names('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:5, URI:sip:192.0.2.7');
  assert.equal(matchesHost('127.0.0.1', n), true);
  assert.equal(matchesHost('::1', n), true);
  assert.equal(matchesHost('[::1]', n), true);
  assert.equal(matchesHost('2001:db8::5', n), true);
  assert.equal(matchesHost('192.0.2.7', n), true);
  assert.equal(matchesHost('127.0.0.2', n), false);
  assert.equal(matchesHost('10.0.0.1', names(undefined, 'CN=10.0.0.1')), false, 'a CN is a name, never an address');
  assert.equal(matchesHost('127.0.0.1', names('DNS:127.0.0.1')), false, 'an address written as a DNS entry is not an IP identity');
});

test('normalizeIp: one spelling per address', () => {
  assert.equal(normalizeIp('::1'), '0:0:0:0:0:0:0:1');
  assert.equal(normalizeIp('[2001:DB8::0005]'), '2001:db8:0:0:0:0:0:5');
  assert.equal(normalizeIp('::ffff:192.0.2.1'), '0:0:0:0:0:ffff:c000:201');
  assert.equal(normalizeIp('192.0.2.1'), '192.0.2.1');
  assert.equal(normalizeIp('example.com'), undefined);
});

test('a mismatch is said in words naming what the certificate is for and what we dialled', () => {
  assert.equal(hostMismatch('127.0.0.1', names('DNS:other.example')), 'certificate is for other.example, not 127.0.0.1');
  assert.equal(hostMismatch('[::1]', names('IP Address:0:0:0:0:0:0:0:2')), 'certificate is for ::2, not ::1');
  assert.equal(hostMismatch('example.com', names(undefined, 'O=Nobody')), 'certificate names no host at all (no subjectAltName, no CN), not example.com');
  assert.match(hostMismatch('x.example', names('DNS:a, DNS:b, DNS:c, DNS:d, DNS:e, DNS:f, DNS:g, DNS:h')) ?? '', /^certificate is for a, b, c, d, e, f and 2 more, not x\.example$/);
  assert.equal(hostMismatch('other.example', names('DNS:other.example')), undefined);
});
