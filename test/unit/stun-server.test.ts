import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, test } from 'node:test';
import {
  StunAttr,
  StunServer,
  answerBinding,
  decodeStun,
  encodeStun,
  getErrorCode,
  getSoftware,
  getUnknownAttributes,
  getXorMappedAddress,
  newTransactionId,
  stunBinding,
} from '../../src/stun/index.js';

const sockets: dgram.Socket[] = [];
after(() => {
  for (const s of sockets) s.close();
});

function udp(type: 'udp4' | 'udp6' = 'udp4', address = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  sockets.push(s);
  return new Promise((resolve) => s.bind(0, address, () => resolve(s)));
}

test('answerBinding: success with the given address, 420 for unknown required attributes, nothing for indications', () => {
  const tid = newTransactionId();
  const ok = decodeStun(answerBinding(encodeStun({ cls: 'request', transactionId: tid, fingerprint: true }), { address: '10.213.2.1', port: 40001 }, { software: 'sb' })!);
  assert.equal(ok.cls, 'success');
  assert.deepEqual(ok.transactionId, tid);
  assert.deepEqual(getXorMappedAddress(ok), { address: '10.213.2.1', port: 40001 });
  assert.equal(getSoftware(ok), 'sb');
  assert.equal(ok.fingerprint, true);

  const strange = encodeStun({ cls: 'request', transactionId: tid, attributes: [{ type: 0x7ff1, value: Buffer.alloc(4) }, { type: 0xc001, value: Buffer.alloc(0) }] });
  const rej = decodeStun(answerBinding(strange, { address: '10.0.0.1', port: 1 })!);
  assert.equal(rej.cls, 'error');
  assert.equal(getErrorCode(rej)?.code, 420);
  assert.deepEqual(getUnknownAttributes(rej), [0x7ff1], 'comprehension-optional 0xc001 is not listed');
  assert.equal(rej.fingerprint, false);

  assert.equal(answerBinding(encodeStun({ cls: 'indication', transactionId: tid }), { address: '10.0.0.1', port: 1 }), null);
  assert.equal(answerBinding(encodeStun({ cls: 'success', transactionId: tid }), { address: '10.0.0.1', port: 1 }), null);
  const other = decodeStun(answerBinding(encodeStun({ method: 0x003, cls: 'request', transactionId: tid }), { address: '10.0.0.1', port: 1 })!);
  assert.equal(getErrorCode(other)?.code, 400);
  assert.throws(() => answerBinding(Buffer.from('0001000021'), { address: '10.0.0.1', port: 1 }));
});

test('stunBinding against StunServer on 127.0.0.1 reports the socket\'s own address, and SIP on that socket still arrives', async () => {
  const server = await StunServer.listen({ software: 'switchboard test' });
  try {
    const phone = await udp();
    const sipSeen: string[] = [];
    phone.on('message', (m) => {
      if (m[0] >= 0x41) sipSeen.push(m.toString('latin1').split('\r\n')[0]);
    });
    const peer = await udp();
    const binding = stunBinding(phone, server.address());
    peer.send('OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n\r\n', phone.address().port, '127.0.0.1');
    const mapped = await binding;
    assert.deepEqual(mapped, { address: '127.0.0.1', port: phone.address().port });
    // The SIP datagram may land after the answer: wait for it (bounded).
    for (let i = 0; i < 100 && sipSeen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(sipSeen, ['OPTIONS sip:a@127.0.0.1 SIP/2.0']);
    assert.equal(phone.listenerCount('message'), 1);
    assert.equal(server.stats.answered, 1);
  } finally {
    await server.close();
  }
});

test('StunServer.attach answers STUN on a shared socket and counts junk without answering it', async () => {
  const shared = await udp();
  const srv = StunServer.attach(shared);
  const client = await udp();
  const replies: Buffer[] = [];
  client.on('message', (m) => replies.push(m));
  const mapped = await stunBinding(client, { address: '127.0.0.1', port: shared.address().port });
  assert.equal(mapped.port, client.address().port);

  // A STUN-looking header whose attribute runs past the end: dropped and counted.
  const junk = encodeStun({ cls: 'request', transactionId: newTransactionId(), attributes: [{ type: StunAttr.Software, value: Buffer.from('abcd') }] });
  junk.writeUInt16BE(40, 22);
  client.send(junk, shared.address().port, '127.0.0.1');
  client.send('REGISTER sip:x SIP/2.0\r\n\r\n', shared.address().port, '127.0.0.1');
  const probe = stunBinding(client, { address: '127.0.0.1', port: shared.address().port });
  await probe;
  assert.equal(srv.stats.malformed, 1);
  assert.equal(srv.stats.answered, 2);
  assert.equal(replies.length, 2, 'no answer to junk or to SIP');
  await srv.close();
  assert.equal(shared.listenerCount('message'), 0);
});

test('IPv6: the mapped address of a socket on ::1', async (t) => {
  let server: StunServer;
  try {
    server = await StunServer.listen({ address: '::1' });
  } catch {
    t.skip('this host has no ::1');
    return;
  }
  try {
    const phone = await udp('udp6', '::1');
    assert.deepEqual(await stunBinding(phone, server.address()), { address: '::1', port: phone.address().port });
  } finally {
    await server.close();
  }
});
