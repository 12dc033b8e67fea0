import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dialog } from '../../src/sip/dialog/index.js';
import { parseMessage, type SipMessage } from '../../src/sip/message.js';

const wire = (...lines: string[]): SipMessage => parseMessage(Buffer.from(lines.join('\r\n') + '\r\n\r\n'));

/** Alice's INVITE to Bob, as it leaves Alice's phone. */
function invite(uri = 'sip:bob@biloxi.example.com'): SipMessage {
  return wire(
    `INVITE ${uri} SIP/2.0`,
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@pc33.atlanta.example.com>',
    'Content-Length: 0',
  );
}

/** A response to that INVITE after two record-routing proxies (p1 near Alice, p2 near Bob). */
function response(status: number, reason: string, toTag: string, contact = '<sip:bob@192.0.2.4>', rr = true): SipMessage {
  const lines = [
    `SIP/2.0 ${status} ${reason}`,
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  ];
  if (rr) lines.push('Record-Route: <sip:p2.biloxi.example.com;lr>', 'Record-Route: <sip:p1.atlanta.example.com;lr>');
  lines.push(
    `To: Bob <sip:bob@biloxi.example.com>;tag=${toTag}`,
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    `Contact: ${contact}`,
    'Content-Length: 0',
  );
  return wire(...lines);
}

/** A request Bob sends inside the dialog (From and To swapped, Bob's tag in From). */
function fromBob(method: string, seq: number, contact?: string): SipMessage {
  const lines = [
    `${method} sip:alice@pc33.atlanta.example.com SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds7',
    'Max-Forwards: 70',
    'From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
    'To: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    `CSeq: ${seq} ${method}`,
  ];
  if (contact) lines.push(`Contact: ${contact}`);
  lines.push('Content-Length: 0');
  return wire(...lines);
}

test('UAC: 180 with a tag makes an early dialog, the 200 confirms it and sets the route set reversed', () => {
  const inv = invite();
  const d = Dialog.fromUac(inv, response(180, 'Ringing', 'a6c85cf', '<sip:bob@192.0.2.9>'));
  assert.equal(d.state, 'early');
  assert.deepEqual(d.id, { callId: 'a84b4c76e66710@pc33.atlanta.example.com', localTag: '1928301774', remoteTag: 'a6c85cf' });
  assert.equal(d.remoteTarget, 'sip:bob@192.0.2.9');
  assert.equal(d.localSeq, 314159);
  assert.equal(d.remoteSeq, undefined);
  assert.equal(d.secure, false);

  assert.equal(d.receiveResponse(response(200, 'OK', 'a6c85cf')), true);
  assert.equal(d.state, 'confirmed');
  assert.equal(d.remoteTarget, 'sip:bob@192.0.2.4');
  assert.deepEqual(d.routeSet.map((r) => r.uri), ['sip:p1.atlanta.example.com;lr', 'sip:p2.biloxi.example.com;lr']);
});

test('UAC: BYE goes to the 200\'s Contact through the proxies nearest-first, with both tags and the next CSeq', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'a6c85cf'));
  const bye = d.createRequest('BYE');
  assert.equal(bye.method, 'BYE');
  assert.equal(bye.uri, 'sip:bob@192.0.2.4');
  assert.deepEqual(bye.getAll('route'), ['<sip:p1.atlanta.example.com;lr>', '<sip:p2.biloxi.example.com;lr>']);
  assert.equal(bye.get('max-forwards'), '70');
  assert.equal(bye.fromTag, '1928301774');
  assert.equal(bye.from.displayName, 'Alice');
  assert.equal(bye.toTag, 'a6c85cf');
  assert.equal(bye.to.uri, 'sip:bob@biloxi.example.com');
  assert.equal(bye.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
  assert.deepEqual(bye.cseq, { seq: 314160, method: 'BYE' });
  assert.equal(bye.has('via'), false, 'the transaction layer adds the Via');
  // Sending BYE ends the dialog: nothing more may be sent in it.
  assert.equal(d.state, 'terminated');
  assert.throws(() => d.createRequest('INFO'), /terminated/);
  // The built request survives a round trip through the parser.
  const reparsed = parseMessage(bye.toBuffer());
  assert.deepEqual(reparsed.getAll('route'), bye.getAll('route'));
});

test('UAC: no Record-Route means no Route header and the Contact as Request-URI', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'x1', '<sip:bob@192.0.2.4:5062;transport=tcp>', false));
  const info = d.createRequest('INFO', { body: 'Signal=5\r\n', contentType: 'application/dtmf-relay' });
  assert.equal(info.uri, 'sip:bob@192.0.2.4:5062;transport=tcp');
  assert.equal(info.has('route'), false);
  assert.equal(info.get('content-type'), 'application/dtmf-relay');
  assert.equal(info.body.toString(), 'Signal=5\r\n');
  assert.equal(info.get('contact'), '<sip:alice@pc33.atlanta.example.com>');
});

test('UAS: the route set keeps Record-Route order and requests go to the caller\'s Contact', () => {
  const inv = wire(
    'INVITE sip:bob@192.0.2.4 SIP/2.0',
    'Via: SIP/2.0/UDP p2.biloxi.example.com;branch=z9hG4bK2',
    'Via: SIP/2.0/UDP p1.atlanta.example.com;branch=z9hG4bK1',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
    'Record-Route: <sip:p2.biloxi.example.com;lr>',
    'Record-Route: <sip:p1.atlanta.example.com;lr>',
    'Max-Forwards: 68',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@pc33.atlanta.example.com>',
    'Content-Length: 0',
  );
  const d = Dialog.fromUas(inv, 'a6c85cf', '<sip:bob@192.0.2.4>', { initialCseq: 100 });
  assert.equal(d.state, 'early');
  assert.deepEqual(d.id, { callId: 'a84b4c76e66710@pc33.atlanta.example.com', localTag: 'a6c85cf', remoteTag: '1928301774' });
  assert.equal(d.remoteSeq, 314159);
  assert.equal(d.localSeq, undefined);
  d.responseSent(wire('SIP/2.0 200 OK', 'Via: SIP/2.0/UDP x;branch=z9hG4bK2', 'CSeq: 314159 INVITE', 'Content-Length: 0'));
  assert.equal(d.state, 'confirmed');

  const bye = d.createRequest('BYE');
  assert.equal(bye.uri, 'sip:alice@pc33.atlanta.example.com');
  assert.deepEqual(bye.getAll('route'), ['<sip:p2.biloxi.example.com;lr>', '<sip:p1.atlanta.example.com;lr>']);
  assert.equal(bye.get('from'), '"Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf');
  assert.equal(bye.toTag, '1928301774');
  assert.deepEqual(bye.cseq, { seq: 100, method: 'BYE' });
});

test('UAS: a 486 to the INVITE ends the early dialog', () => {
  const d = Dialog.fromUas(invite(), 'b1', '<sip:bob@192.0.2.4>');
  d.responseSent(wire('SIP/2.0 486 Busy Here', 'Via: SIP/2.0/UDP x;branch=z9hG4bK2', 'CSeq: 314159 INVITE', 'Content-Length: 0'));
  assert.equal(d.state, 'terminated');
});

test('strict router first: it becomes the Request-URI and the remote target the last Route', () => {
  const res = wire(
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
    'Record-Route: <sip:p2.biloxi.example.com;lr>',
    'Record-Route: <sip:old.atlanta.example.com;maddr=10.0.0.1;method=INVITE?X-Y=z>',
    'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:bob@192.0.2.4>',
    'Content-Length: 0',
  );
  const d = Dialog.fromUac(invite(), res);
  const bye = d.createRequest('BYE');
  // method and URI headers are not allowed in a Request-URI (RFC 3261 §19.1.1); maddr is.
  assert.equal(bye.uri, 'sip:old.atlanta.example.com;maddr=10.0.0.1');
  assert.deepEqual(bye.getAll('route'), ['<sip:p2.biloxi.example.com;lr>', '<sip:bob@192.0.2.4>']);
});

test('local CSeq counts up across requests; ACK for the 2xx reuses the INVITE number and does not count', () => {
  const inv = invite();
  const d = Dialog.fromUac(inv, response(200, 'OK', 'a6c85cf'));
  const ack = d.createAck(inv.cseq.seq, { body: 'v=0\r\n', contentType: 'application/sdp' });
  assert.equal(ack.method, 'ACK');
  assert.deepEqual(ack.cseq, { seq: 314159, method: 'ACK' });
  assert.equal(ack.uri, 'sip:bob@192.0.2.4');
  assert.deepEqual(ack.getAll('route'), ['<sip:p1.atlanta.example.com;lr>', '<sip:p2.biloxi.example.com;lr>']);
  assert.equal(ack.get('content-type'), 'application/sdp');
  assert.equal(ack.has('via'), false, 'the caller adds a Via with a branch of its own');

  const seqs = ['INFO', 'UPDATE', 'INVITE', 'OPTIONS'].map((m) => d.createRequest(m).cseq.seq);
  assert.deepEqual(seqs, [314160, 314161, 314162, 314163]);
  assert.equal(d.localSeq, 314163);
  assert.throws(() => d.createRequest('ACK'), /createAck/);
  assert.throws(() => d.createRequest('CANCEL'));
});

test('a UAS dialog picks a random first CSeq below 2^31 when none is given', () => {
  const d = Dialog.fromUas(invite(), 'b1', '<sip:bob@192.0.2.4>');
  const first = d.createRequest('INFO').cseq.seq;
  assert.ok(first >= 1 && first < 2 ** 31);
  assert.equal(d.createRequest('INFO').cseq.seq, first + 1);
});

test('a re-INVITE from the peer with a new Contact moves the remote target; INFO does not', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'a6c85cf'));
  assert.deepEqual(d.receiveRequest(fromBob('INFO', 10, '<sip:bob@198.51.100.1>')), { ok: true });
  assert.equal(d.remoteTarget, 'sip:bob@192.0.2.4', 'INFO is not a target refresh');
  assert.deepEqual(d.receiveRequest(fromBob('INVITE', 11, '<sip:bob@198.51.100.7:5070>')), { ok: true });
  assert.equal(d.remoteTarget, 'sip:bob@198.51.100.7:5070');
  assert.equal(d.remoteSeq, 11);
  assert.equal(d.createRequest('BYE').uri, 'sip:bob@198.51.100.7:5070');
});

test('a 2xx to our re-INVITE or UPDATE takes the peer\'s new Contact', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'a6c85cf'));
  const upd = d.createRequest('UPDATE');
  const ok = wire(
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK9',
    'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    `CSeq: ${upd.cseq.seq} UPDATE`,
    'Contact: <sip:bob@203.0.113.5>',
    'Content-Length: 0',
  );
  assert.equal(d.receiveResponse(ok), true);
  assert.equal(d.remoteTarget, 'sip:bob@203.0.113.5');
  assert.equal(d.createRequest('INFO').uri, 'sip:bob@203.0.113.5');
});

test('a request with a lower CSeq than the last one is answered 500 and changes nothing', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'a6c85cf'));
  assert.deepEqual(d.receiveRequest(fromBob('INFO', 20)), { ok: true });
  const late = d.receiveRequest(fromBob('INVITE', 19, '<sip:bob@198.51.100.99>'));
  assert.equal(late.ok, false);
  assert.equal(late.ok === false && late.status, 500);
  assert.equal(d.remoteSeq, 20);
  assert.equal(d.remoteTarget, 'sip:bob@192.0.2.4', 'an out-of-order re-INVITE does not move the target');
  // The ACK of that INVITE carries an old number and is not counted.
  assert.deepEqual(d.receiveRequest(fromBob('ACK', 5)), { ok: true });
  assert.equal(d.remoteSeq, 20);
});

test('a re-INVITE with a malformed Contact is a 400 and leaves the dialog as it was', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'a6c85cf'));
  const v = d.receiveRequest(fromBob('INVITE', 12, '<sip:bob@bad host>'));
  assert.equal(v.ok === false && v.status, 400);
  assert.equal(d.remoteTarget, 'sip:bob@192.0.2.4');
  assert.equal(d.remoteSeq, undefined);
});

test('a request with other tags is a 481', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'someone-else'));
  const v = d.receiveRequest(fromBob('BYE', 30));
  assert.equal(v.ok === false && v.status, 481);
  assert.equal(d.state, 'confirmed');
});

test('BYE from the peer terminates the dialog', () => {
  const d = Dialog.fromUac(invite(), response(200, 'OK', 'a6c85cf'));
  assert.deepEqual(d.receiveRequest(fromBob('BYE', 40)), { ok: true });
  assert.equal(d.state, 'terminated');
  assert.throws(() => d.createRequest('BYE'));
});

test('UAC early dialog ends on a 3xx-6xx to the INVITE; a 481 to an in-dialog request ends a confirmed one', () => {
  const early = Dialog.fromUac(invite(), response(183, 'Session Progress', 'a6c85cf'));
  early.receiveResponse(response(487, 'Request Terminated', 'a6c85cf'));
  assert.equal(early.state, 'terminated');

  const d = Dialog.fromUac(invite(), response(200, 'OK', 'a6c85cf'));
  const info = d.createRequest('INFO');
  const gone = wire(
    'SIP/2.0 481 Call/Transaction Does Not Exist',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK9',
    'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf',
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    `CSeq: ${info.cseq.seq} INFO`,
    'Content-Length: 0',
  );
  d.receiveResponse(gone);
  assert.equal(d.state, 'terminated');
});

test('a request to a SIPS URI makes a secure dialog', () => {
  const d = Dialog.fromUac(invite('sips:bob@biloxi.example.com'), response(200, 'OK', 'a6c85cf', '<sips:bob@192.0.2.4>'));
  assert.equal(d.secure, true);
});

test('responses that cannot create a dialog are refused', () => {
  assert.throws(() => Dialog.fromUac(invite(), response(486, 'Busy Here', 'a6c85cf')));
  const noTag = wire(
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Content-Length: 0',
  );
  assert.throws(() => Dialog.fromUac(invite(), noTag), /To tag/);
});
