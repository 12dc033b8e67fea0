import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Dialog, DialogTable } from '../../src/sip/dialog/index.js';
import { parseMessage, type SipMessage } from '../../src/sip/message.js';

const wire = (...lines: string[]): SipMessage => parseMessage(Buffer.from(lines.join('\r\n') + '\r\n\r\n'));
const CALL_ID = 'f81d4fae-7dec@pc33.atlanta.example.com';

const invite = (): SipMessage => wire(
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKfork',
  'Max-Forwards: 70',
  'To: <sip:bob@biloxi.example.com>',
  'From: <sip:alice@atlanta.example.com>;tag=ours',
  `Call-ID: ${CALL_ID}`,
  'CSeq: 1 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Content-Length: 0',
);

/** A response from one of Bob's phones (the fork is told apart by its To tag and Contact). */
const reply = (status: number, toTag: string | undefined, host: string, seq = '1 INVITE'): SipMessage => wire(
  `SIP/2.0 ${status} Whatever`,
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKfork',
  `To: <sip:bob@biloxi.example.com>${toTag ? ';tag=' + toTag : ''}`,
  'From: <sip:alice@atlanta.example.com>;tag=ours',
  `Call-ID: ${CALL_ID}`,
  `CSeq: ${seq}`,
  `Contact: <sip:bob@${host}>`,
  'Content-Length: 0',
);

/** A request sent by the phone that answered with `tag`. */
const peerRequest = (method: string, tag: string, seq: number): SipMessage => wire(
  `${method} sip:alice@pc33.atlanta.example.com SIP/2.0`,
  'Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKpeer',
  'Max-Forwards: 70',
  `From: <sip:bob@biloxi.example.com>;tag=${tag}`,
  'To: <sip:alice@atlanta.example.com>;tag=ours',
  `Call-ID: ${CALL_ID}`,
  `CSeq: ${seq} ${method}`,
  'Content-Length: 0',
);

test('a forked INVITE yields one early dialog per To tag and each is matched on its own', () => {
  const table = new DialogTable();
  const inv = invite();
  assert.equal(table.receiveUacResponse(inv, reply(100, undefined, 'x')), undefined, '100 Trying creates nothing');
  const desk = table.receiveUacResponse(inv, reply(180, 'desk', '192.0.2.10'));
  const mobile = table.receiveUacResponse(inv, reply(183, 'mobile', '192.0.2.20'));
  assert.ok(desk && mobile);
  assert.notEqual(desk, mobile);
  assert.equal(table.size, 2);
  assert.equal(table.receiveUacResponse(inv, reply(180, 'desk', '192.0.2.10')), desk, 'a repeated 180 finds the same dialog');
  assert.equal(table.size, 2);
  assert.deepEqual(table.dialogSet(CALL_ID, 'ours').map((d) => d.id.remoteTag).sort(), ['desk', 'mobile']);

  assert.equal(table.match(reply(180, 'desk', '192.0.2.10')), desk);
  assert.equal(table.match(reply(180, 'mobile', '192.0.2.20')), mobile);
  assert.equal(table.match(peerRequest('UPDATE', 'mobile', 7)), mobile);
  assert.equal(table.match(peerRequest('UPDATE', 'desk', 7)), desk);
  assert.equal(table.match(reply(180, 'elsewhere', '192.0.2.30')), undefined);

  // The desk phone answers: its dialog is confirmed, the mobile one stays early.
  assert.equal(table.receiveUacResponse(inv, reply(200, 'desk', '192.0.2.11')), desk);
  assert.equal(desk.state, 'confirmed');
  assert.equal(desk.remoteTarget, 'sip:bob@192.0.2.11');
  assert.equal(mobile.state, 'early');
});

test('a final error to the forked INVITE ends and removes every early dialog of the set', () => {
  const table = new DialogTable();
  const inv = invite();
  const a = table.receiveUacResponse(inv, reply(180, 'a', '192.0.2.10'));
  const b = table.receiveUacResponse(inv, reply(180, 'b', '192.0.2.20'));
  table.receiveUacResponse(inv, reply(486, 'b', '192.0.2.20'));
  assert.equal(a?.state, 'terminated');
  assert.equal(b?.state, 'terminated');
  assert.equal(table.size, 0);
  assert.equal(table.match(peerRequest('BYE', 'a', 2)), undefined);
});

test('match uses our To tag for requests from the peer and our From tag for responses', () => {
  const table = new DialogTable();
  const uas = Dialog.fromUas(wire(
    'INVITE sip:alice@pc33.atlanta.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKin',
    'To: <sip:alice@atlanta.example.com>',
    'From: <sip:bob@biloxi.example.com>;tag=theirs',
    `Call-ID: ${CALL_ID}`,
    'CSeq: 5 INVITE',
    'Contact: <sip:bob@192.0.2.4>',
    'Content-Length: 0',
  ), 'ours', '<sip:alice@pc33.atlanta.example.com>', { initialCseq: 1 });
  table.add(uas);
  assert.equal(table.match(peerRequest('BYE', 'theirs', 6)), uas);
  // Our BYE's response: From carries our tag, To theirs.
  const bye = uas.createRequest('BYE');
  const ok = wire(
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKbye',
    `From: ${bye.get('from')}`,
    `To: ${bye.get('to')}`,
    `Call-ID: ${CALL_ID}`,
    `CSeq: ${bye.cseq.seq} BYE`,
    'Content-Length: 0',
  );
  assert.equal(ok.fromTag, 'ours');
  assert.equal(table.match(ok), uas);
  // The role can be forced: the same response read as a request from the peer points elsewhere.
  assert.equal(table.match(ok, 'uas'), undefined);
  assert.throws(() => table.add(uas), /exists/);
  assert.equal(table.remove(uas), true);
  assert.equal(table.remove(uas), false);
  assert.equal(table.match(peerRequest('BYE', 'theirs', 6)), undefined);
});

test('a BYE matched through the table terminates the dialog', () => {
  const table = new DialogTable();
  const inv = invite();
  const d = table.receiveUacResponse(inv, reply(200, 'desk', '192.0.2.10'));
  assert.ok(d);
  const bye = peerRequest('BYE', 'desk', 1);
  const found = table.match(bye);
  assert.equal(found, d);
  assert.deepEqual(found?.receiveRequest(bye), { ok: true });
  assert.equal(d.state, 'terminated');
});
