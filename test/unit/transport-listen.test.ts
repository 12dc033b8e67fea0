import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEndpoint, parseListen } from '../../src/sip/transport/index.js';
import { isUdpKeepalive } from '../../src/sip/transport/udp.js';

test('listen specs for every form parse to proto, address and port', () => {
  assert.deepEqual(parseListen('udp:127.0.0.1:5060'), { proto: 'udp', address: '127.0.0.1', port: 5060 });
  assert.deepEqual(parseListen('tcp:0.0.0.0:5060'), { proto: 'tcp', address: '0.0.0.0', port: 5060 });
  assert.deepEqual(parseListen('tls:[::1]:5061'), { proto: 'tls', address: '::1', port: 5061 });
  assert.deepEqual(parseListen('TLS:[2001:DB8::1]:5061'), { proto: 'tls', address: '2001:db8::1', port: 5061 });
  assert.deepEqual(parseListen('udp:5060'), { proto: 'udp', address: '0.0.0.0', port: 5060 });
  assert.deepEqual(parseListen('tcp:127.0.0.1:0'), { proto: 'tcp', address: '127.0.0.1', port: 0 });
});

test('a bad listen spec is rejected with a message naming it and showing a correct one', () => {
  const bad = ['udp', 'sctp:127.0.0.1:5060', 'udp:127.0.0.1:99999', 'udp:::1:5060', 'tcp:[::1:5060', 'udp:localhost:5060', 'udp:1.2.3.4:x', ':5060'];
  for (const spec of bad) {
    assert.throws(
      () => parseListen(spec),
      (err: Error) => err.message.includes(`"${spec}"`) && err.message.includes('udp:127.0.0.1:5060'),
      spec,
    );
  }
});

test('endpoints print back in listen-spec form', () => {
  for (const spec of ['udp:127.0.0.1:5060', 'tls:[::1]:5061']) assert.equal(formatEndpoint(parseListen(spec)), spec);
});

test('UDP keep-alive datagrams are recognised and SIP is not', () => {
  assert.ok(isUdpKeepalive(Buffer.from('\r\n\r\n')));
  assert.ok(isUdpKeepalive(Buffer.from('\r\n')));
  assert.ok(!isUdpKeepalive(Buffer.from('\r\n\r\nX')));
  assert.ok(!isUdpKeepalive(Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n')));
});
