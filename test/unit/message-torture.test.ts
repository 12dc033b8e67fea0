/**
 * RFC 4475 torture messages (test/fixtures/sip, written for this suite from
 * what each RFC case exercises). Valid ones must parse and pass
 * validateMessage; invalid ones must be refused with the status a server
 * answers. Where RFC 4475 lets an element choose, the choice is noted.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { checkMessage } from '../../src/sip/check.js';
import { SipParseError } from '../../src/sip/errors.js';
import { parseNameAddr } from '../../src/sip/headers.js';
import { parseMessage, validateMessage, type SipMessage } from '../../src/sip/message.js';
import { parseUri } from '../../src/sip/uri.js';
import { repoRoot } from '../helpers/repo.js';

function fixture(kind: 'valid' | 'invalid', name: string): Buffer {
  return readFileSync(path.join(repoRoot(), 'test', 'fixtures', 'sip', kind, `${name}.sip`));
}

function parseValid(name: string): SipMessage {
  const msg = parseMessage(fixture('valid', name), { datagram: true });
  validateMessage(msg);
  return msg;
}

/** Parses and validates; returns the SipParseError status, or fails the test when nothing is refused. */
function refusal(name: string): number {
  try {
    validateMessage(parseMessage(fixture('invalid', name), { datagram: true }));
  } catch (err) {
    assert.ok(err instanceof SipParseError, `${name}: ${String(err)}`);
    return err.status;
  }
  assert.fail(`${name} was accepted`);
}

test('wsinv: folding, odd spacing, compact and mixed-case names, escaped quotes', () => {
  const m = parseValid('wsinv');
  assert.equal(m.method, 'INVITE');
  assert.equal(m.uri, 'sip:vivek@chair.example.com;unknownparam');
  assert.equal(m.toTag, '1918181833n');
  assert.equal(m.to.uri, 'sip:vivek@chair.example.com');
  assert.equal(m.from.displayName, 'J Rosenberg \\"');
  assert.equal(m.fromTag, '98asjd8');
  assert.equal(m.get('max-forwards'), '0068');
  assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
  assert.equal(m.via.host, '192.0.2.2');
  assert.equal(m.via.transport, 'UDP');
  assert.equal(m.get('subject'), '');
  assert.equal(m.get('newfangledheader'), 'newfangled value continued newfangled value');
  assert.equal(m.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
  // Two Via lines, the second holding two elements over three folded lines.
  const vias = m.getAll('via');
  assert.equal(vias.length, 3);
  assert.equal(vias[2].replace(/\s+/g, ' '), 'SIP / 2.0 / UDP 192.168.255.111 ; branch= z9hG4bK30239');
  const contact = parseNameAddr(m.get('contact') ?? '');
  assert.equal(contact.displayName, 'Quoted string ""');
  assert.equal(contact.params.get('newparam'), 'newvalue');
  assert.equal(contact.params.get('secondparam'), null);
  assert.equal(contact.params.get('q'), '0.33');
  assert.ok(parseUri(parseNameAddr(m.get('route') ?? '').uri).params.has('unknown-no-value'));
  assert.equal(m.body.length, Number(m.get('content-length')));
});

test('intmeth: every token character in method and names, control bytes in a quoted display name', () => {
  const m = parseValid('intmeth');
  assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
  const uri = parseUri(m.uri);
  assert.equal(uri.host, 'example.com');
  assert.equal(uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  assert.equal(uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.equal(m.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
  assert.equal(m.from.displayName, "token1~` token2'+_ token3*%!.-");
  assert.equal(m.from.params.get("fromparam''~+*_!.-%"), 'работающий');
  assert.equal(m.callId, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  assert.equal(m.get("extensionHeader-!.%*+_`'~"), '\ufeff大停電');
});

test('esc01 and escnull: % escapes stay as written; the user part may hold sips:user@...', () => {
  const m = parseValid('esc01');
  const ruri = parseUri(m.uri);
  assert.equal(ruri.user, 'sips%3Auser%40example.com');
  assert.equal(ruri.host, 'example.net');
  const contact = parseUri(parseNameAddr(m.get('contact') ?? '').uri);
  assert.equal(contact.params.get('n%61me'), 'v%61lue%25%34%31');
  assert.equal(m.get('content-type'), 'application/sdp');
  const reg = parseValid('escnull');
  assert.deepEqual(reg.getAll('contact'), ['<sip:%00@host5.example.com>', '<sip:%00%00@host5.example.com>']);
  assert.equal(reg.fromTag, '839923423');
});

test('esc02: % in a method is a token char (not REGISTER), C%6Fntact is not Contact', () => {
  const m = parseValid('esc02');
  assert.equal(m.method, 'RE%47IST%45R');
  assert.equal(m.getAll('contact').length, 2);
  assert.deepEqual(m.getAll('C%6Fntact'), ['<sip:alias2@host2.example.com>']);
  assert.equal(m.to.displayName, '%Z%45');
});

test('lwsdisp, semiuri, transports: no LWS before <, ; in the user part, unknown transports', () => {
  assert.equal(parseValid('lwsdisp').from.displayName, 'caller');
  const semi = parseValid('semiuri');
  const ruri = parseUri(semi.uri);
  assert.equal(ruri.user, 'user;par=u%40example.net');
  assert.equal(ruri.host, 'example.com');
  assert.equal(ruri.params.size, 0);
  assert.equal(semi.getAll('accept').length, 6);
  const t = parseValid('transports');
  assert.equal(t.getAll('via').length, 5);
  assert.equal(t.callId, 'transports.kijh4akdnaqjkwendsasfdj');
});

test('longreq: long values, 33 Vias and a 2000-byte header parse intact', () => {
  const m = parseValid('longreq');
  assert.equal(m.getAll('via').length, 33);
  assert.equal(m.get('x-long')?.length, 2000);
  assert.equal(m.fromTag, 'k'.repeat(100) + 'b');
  assert.equal(m.body.length, Number(m.get('content-length')));
});

test('dblreq: a second message in the same datagram is ignored', () => {
  const m = parseValid('dblreq');
  assert.equal(m.method, 'REGISTER');
  assert.equal(m.body.length, 0);
  assert.ok(!m.toBuffer().toString().includes('INVITE'));
});

test('mpart01: a binary body holding CRLF CRLF is framed by Content-Length', () => {
  const raw = fixture('valid', 'mpart01');
  const m = parseValid('mpart01');
  assert.equal(m.body.length, Number(m.get('content-length')));
  assert.deepEqual(m.body, raw.subarray(raw.length - m.body.length));
  assert.ok(m.body.includes(Buffer.from([0x00, 0xff, 0xfe, 0x80])));
});

test('unreason and noreason: any UTF-8 reason phrase, or none at all', () => {
  const u = parseValid('unreason');
  assert.equal(u.status, 200);
  assert.equal(u.reason, '= 2**3 * 5**2 но сто девяносто девять - простое');
  const n = parseValid('noreason');
  assert.equal(n.status, 100);
  assert.equal(n.reason, '');
});

test('baddate: a non-GMT Date is accepted (RFC 4475 lets an element that ignores Date do so)', () => {
  assert.equal(parseValid('baddate').get('date'), 'Fri, 01 Jan 2010 16:00:00 EST');
});

// name → status; every one of these throws SipParseError from parseMessage or validateMessage.
const REFUSED: [string, number, string][] = [
  ['badinv01', 400, 'empty Via and Contact parameters (;; and ,,)'],
  ['clerr', 400, 'Content-Length beyond the datagram (RFC 3261 §18.3)'],
  ['ncl', 400, 'negative Content-Length'],
  ['scalar02', 400, 'CSeq >= 2**31 (also Max-Forwards 300)'],
  ['scalarlg', 400, 'response with an overlarge CSeq: discarded (the status is never sent for responses)'],
  ['quotbal', 400, 'unterminated quoted display name'],
  ['ltgtruri', 400, 'Request-URI in <>'],
  ['lwsruri', 400, 'LWS inside the Request-URI'],
  // RFC 4475 allows a liberal element to skip the extra SPs; we refuse rather than guess.
  ['lwsstart', 400, 'several SP between request-line elements'],
  ['trws', 400, 'SP after SIP/2.0 (refused, as for lwsstart)'],
  // RFC 4475 allows ignoring the escaped headers; a proxy must never forward them, so we refuse.
  ['escruri', 400, 'headers in the Request-URI'],
  // RFC 4475 allows inferring the <>; we refuse, as RFC 3261 §20 requires <> around a URI with ?.
  ['regbadct', 400, 'addr-spec Contact holding ?'],
  ['badaspec', 400, 'spaces inside <>'],
  ['baddn', 400, 'unquoted display name with a comma'],
  ['badvers', 505, 'SIP/7.0'],
  ['mismatch01', 400, 'CSeq method differs from the request method'],
  // RFC 4475 prefers 501 but accepts 400; validation cannot know which methods the element supports.
  ['mismatch02', 400, 'unknown method and CSeq mismatch'],
  ['bigcode', 400, 'status code of ten digits'],
  // RFC 4475 allows falling back to RFC 2543 matching; an empty id cannot tell transactions apart.
  ['badbranch', 400, 'branch is only the z9hG4bK cookie'],
  ['insuf', 400, 'no Call-ID, From, To'],
  ['multi01', 400, 'two CSeq, Call-ID, From, To, Max-Forwards'],
];

for (const [name, status, why] of REFUSED) {
  test(`${name} is refused with ${status}: ${why}`, () => {
    assert.equal(refusal(name), status);
    const checked = checkMessage(fixture('invalid', name));
    assert.equal(checked.exitCode, 1);
    assert.ok(!checked.json.valid && checked.json.status === status);
  });
}

test('unknown Request-URI schemes (unkscm, novelsc) parse but are answered 416', () => {
  for (const name of ['unkscm', 'novelsc']) {
    const msg = parseMessage(fixture('invalid', name));
    validateMessage(msg);
    assert.throws(() => parseUri(msg.uri), (e: unknown) => e instanceof SipParseError && e.status === 416);
    const checked = checkMessage(fixture('invalid', name));
    assert.ok(!checked.json.valid && checked.json.status === 416, name);
  }
});

test('every valid fixture survives toBuffer and parses again to the same headers', () => {
  for (const name of ['wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri', 'transports', 'mpart01', 'unreason', 'noreason', 'baddate']) {
    const m = parseValid(name);
    const again = parseMessage(m.toBuffer());
    validateMessage(again);
    // toBuffer writes Content-Length last, recomputed from the body; everything else keeps its place.
    const noCl = (msg: SipMessage) => msg.headers.filter((h) => h.key !== 'content-length');
    assert.deepEqual(noCl(again), noCl(m), name);
    assert.equal(again.get('content-length'), String(m.body.length), name);
    assert.deepEqual(again.body, m.body, name);
    assert.equal(again.startLine(), m.startLine(), name);
  }
});
