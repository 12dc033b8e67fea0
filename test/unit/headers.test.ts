import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SipParseError } from '../../src/sip/errors.js';
import {
  canonicalName, formatNameAddr, formatVia, headerKey, isToken, parseCSeq, parseNameAddr, parseParams, parseVia, quote, readQuoted, splitList,
} from '../../src/sip/headers.js';

const is400 = (e: unknown) => e instanceof SipParseError && e.status === 400;

test('header keys: compact forms and any case map to the lower-case full name', () => {
  assert.equal(headerKey('v'), 'via');
  assert.equal(headerKey('I'), 'call-id');
  assert.equal(headerKey('cAlL-iD'), 'call-id');
  assert.equal(headerKey('X'), 'session-expires');
  assert.equal(canonicalName('call-id'), 'Call-ID');
  assert.equal(canonicalName('x-my-header'), 'X-My-Header');
});

test('name-addr: display names quoted or not, params belong to the header', () => {
  const q = parseNameAddr('"Alice \\"A\\", Esq." <sip:alice@example.com;transport=tcp>;tag=88sja8x');
  assert.equal(q.displayName, 'Alice "A", Esq.');
  assert.equal(q.uri, 'sip:alice@example.com;transport=tcp');
  assert.equal(q.params.get('tag'), '88sja8x');
  assert.equal(q.params.has('transport'), false);
  assert.equal(q.angle, true);
  const t = parseNameAddr('Alice Smith <sip:alice@example.com>');
  assert.equal(t.displayName, 'Alice Smith');
  assert.equal(parseNameAddr('<sip:a@example.com>').displayName, undefined);
  assert.equal(formatNameAddr(q), '"Alice \\"A\\", Esq." <sip:alice@example.com;transport=tcp>;tag=88sja8x');
});

test('addr-spec: params after the URI are header params, not URI params', () => {
  const a = parseNameAddr('sip:bob@example.com;tag=abc;expires=60');
  assert.equal(a.uri, 'sip:bob@example.com');
  assert.equal(a.params.get('tag'), 'abc');
  assert.equal(a.params.get('expires'), '60');
  assert.equal(a.angle, false);
  assert.equal(parseNameAddr('*').uri, '*');
});

test('malformed addresses are 400', () => {
  for (const bad of [
    '"unterminated <sip:a@example.com>', // quotbal
    'Bell, Alexander <sip:a@example.com>', // baddn
    '< sip:a@example.com >', // badaspec
    '<sip:a@example.com', // missing >
    'sip:a@example.com>', // stray >
    'sip:a@example.com?Route=x', // ? needs <> (regbadct)
    '"Name" sip:a@example.com', // display name without <>
    '"Name" junk <sip:a@example.com>',
    '<>',
    '<sip:a@example.com> junk',
    '<sip:a@example.com>;;tag=1', // empty param (badinv01)
    'plainword',
  ]) {
    assert.throws(() => parseNameAddr(bad), is400, bad);
  }
});

test('params: LWS around ; and =, quoted values, valueless names, lower-cased names', () => {
  const p = parseParams(' ; Tag = 1 ;lr; q=0.7 ;name="a;b \\"c\\""', 0);
  assert.deepEqual([...p], [['tag', '1'], ['lr', null], ['q', '0.7'], ['name', 'a;b "c"']]);
  assert.deepEqual([...parseParams(';lr;', 0)], [['lr', null]]);
  for (const bad of [';;lr', ';a=1;;b', ';a=1 2', 'x;a=1', ';=1']) assert.throws(() => parseParams(bad, 0), is400, bad);
});

test('splitList: commas inside quotes and <> do not split; unterminated quote is 400', () => {
  assert.deepEqual(splitList('a, "b, c" <sip:x@y>, <sip:d,e@f>;p=1 ,g'), ['a', '"b, c" <sip:x@y>', '<sip:d,e@f>;p=1', 'g']);
  assert.deepEqual(splitList(''), []);
  assert.throws(() => splitList('"open, b'), is400);
});

test('quote and readQuoted are inverse', () => {
  for (const s of ['plain', 'with "quotes"', 'back\\slash', '']) {
    const q = quote(s);
    assert.deepEqual(readQuoted(q, 0), { value: s, end: q.length });
  }
});

test('Via: spacing around slashes, IPv6 sent-by, params, port range', () => {
  const v = parseVia('SIP / 2.0 / tcp [2001:db8::9]:5070 ; branch=z9hG4bKabc ;received=192.0.2.1; rport');
  assert.equal(v.protocol, 'SIP/2.0');
  assert.equal(v.transport, 'TCP');
  assert.equal(v.host, '[2001:db8::9]');
  assert.equal(v.port, 5070);
  assert.equal(v.branch, 'z9hG4bKabc');
  assert.equal(v.params.get('rport'), null);
  assert.equal(formatVia(v), 'SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKabc;received=192.0.2.1;rport');
  for (const bad of ['SIP/2.0/UDP', 'SIP/2.0/UDP h:0', 'SIP/2.0/UDP h:70000', 'SIP/2.0/UDP h;;branch=1', 'garbage']) {
    assert.throws(() => parseVia(bad), is400, bad);
  }
});

test('CSeq: number below 2**31, token method', () => {
  assert.deepEqual(parseCSeq(' 0009  INVITE '), { seq: 9, method: 'INVITE' });
  for (const bad of ['2147483648 INVITE', '1', 'x INVITE', '-1 INVITE', '1 IN VITE']) assert.throws(() => parseCSeq(bad), is400, bad);
});

test('isToken', () => {
  assert.ok(isToken("!interesting-Method0123456789_*+`.%indeed'~"));
  assert.ok(!isToken('a b'));
  assert.ok(!isToken(''));
  assert.ok(!isToken('a,b'));
});

test('params that arrived quoted are written quoted, so Via and name-addr read back the same (fuzz: sip-fields)', () => {
  // A quoted Via param value with a space, an escaped quote and a ';': stampReceived writes the Via back with formatVia.
  const via = parseVia('SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;x="a b";y="\\";ttl=";rport');
  assert.equal(via.params.get('y'), '";ttl=');
  via.params.set('received', '127.0.0.1');
  const written = formatVia(via);
  assert.equal(written, 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;x="a b";y="\\";ttl=";rport;received=127.0.0.1');
  assert.deepEqual(parseVia(written), via);
  const na = parseNameAddr('<sip:user@127.0.0.1>;branch=v;q="1,2";p="q "');
  assert.deepEqual(parseNameAddr(formatNameAddr(na)).params, na.params);
  // Token and host values stay bare.
  assert.equal(formatVia(parseVia('SIP/2.0/UDP [::1]:5060;received=::1;branch=z9hG4bK.x~y')), 'SIP/2.0/UDP [::1]:5060;received=::1;branch=z9hG4bK.x~y');
});
