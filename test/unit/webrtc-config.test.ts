import test from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { gatewayWants } from '../../src/cli/webrtc-gateway.js';
import { compileDialplan, GATEWAY_CONTEXT } from '../../src/voice/dialplan/dialplan.js';

const CONTRACT = `domain: 127.0.0.1
sip:
  listen: [udp:127.0.0.1:5060, ws:127.0.0.1:8080]
admin:
  listen: 127.0.0.1:8089
data: ./data
users:
  "1001": { password: "Al1ce-long-pass-77" }
  "1002": { password: "B0b-long-pass-88" }
`;

function fails(yaml: string, pattern: RegExp): void {
  assert.throws(() => parseConfig(yaml, 'sb.yaml'), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
}

test('the contract config listens on ws and takes its ICE candidates from the listen addresses', () => {
  const c = parseConfig(CONTRACT, 'switchboard.yaml');
  assert.deepEqual(c.sip.listen.map((l) => `${l.proto}:${l.address}:${l.port}`), ['udp:127.0.0.1:5060', 'ws:127.0.0.1:8080']);
  assert.deepEqual(c.webrtc.rtpAddresses, ['127.0.0.1']);
  assert.deepEqual(c.webrtc.iceServers, []);
  assert.equal(c.webrtc.browserToBrowser, 'direct');
  assert.equal(c.webrtc.gateway, true);
  const proxied = parseConfig(`${CONTRACT}webrtc:\n  gateway: false\n`, 'sb.yaml');
  assert.equal(compileDialplan(proxied).hasContext(GATEWAY_CONTEXT), false, 'no gateway context when the gateway is off');
});

test('webrtc settings are read and bad ones are named with their line', () => {
  const c = parseConfig(
    `${CONTRACT}webrtc:
  rtp_addresses: [127.0.0.2]
  rtp_ports: 30000-30100
  browser_to_browser: anchored
  ice_servers:
    - { urls: "stun:127.0.0.1:3478" }
    - { urls: ["turn:127.0.0.1:3478?transport=udp"], username: u, credential: p }
    - { urls: "turn:127.0.0.1:3478", secret: shh, ttl: 600 }
`,
    'sb.yaml',
  );
  assert.deepEqual(c.webrtc.rtpAddresses, ['127.0.0.2']);
  assert.deepEqual(c.webrtc.rtpPorts, { min: 30000, max: 30100 });
  assert.equal(c.webrtc.browserToBrowser, 'anchored');
  assert.equal(c.webrtc.iceServers.length, 3);
  assert.equal(c.webrtc.iceServers[2].secret, 'shh');
  assert.equal(c.webrtc.iceServers[2].ttl, 600);
  fails(`${CONTRACT}webrtc:\n  rtp_addresses: [example.com]\n`, /sb\.yaml:\d+: webrtc\.rtp_addresses\.0.*IP address/);
  fails(`${CONTRACT}webrtc:\n  ice_servers:\n    - { urls: "turn:127.0.0.1:3478" }\n`, /needs username and credential, or secret/);
  fails(`${CONTRACT}webrtc:\n  ice_servers:\n    - { urls: "http://x" }\n`, /stun:\/turn: URLs/);
  fails(`${CONTRACT}webrtc:\n  browser_to_browser: sometimes\n`, /direct, anchored/);
  fails(`${CONTRACT}webrtc:\n  rtp_ports: 5-3\n`, /20000-30000/);
});

test('connect_timeout and consent_timeout are seconds, 15 and 30 by default, bounded', () => {
  const d = parseConfig(CONTRACT, 'sb.yaml');
  assert.equal(d.webrtc.connectTimeoutMs, 15_000);
  assert.equal(d.webrtc.consentTimeoutMs, 30_000);
  const c = parseConfig(`${CONTRACT}webrtc:\n  connect_timeout: 4\n  consent_timeout: 6\n`, 'sb.yaml');
  assert.equal(c.webrtc.connectTimeoutMs, 4000);
  assert.equal(c.webrtc.consentTimeoutMs, 6000);
  fails(`${CONTRACT}webrtc:\n  consent_timeout: 0\n`, /sb\.yaml:\d+: webrtc\.consent_timeout/);
  fails(`${CONTRACT}webrtc:\n  connect_timeout: soon\n`, /sb\.yaml:\d+: webrtc\.connect_timeout/);
});

test('calls with a browser on one side go through the gateway; two browsers go direct unless anchored', () => {
  assert.equal(gatewayWants(true, false, 'direct'), true);
  assert.equal(gatewayWants(false, true, 'direct'), true);
  assert.equal(gatewayWants(false, false, 'anchored'), false);
  assert.equal(gatewayWants(true, true, 'direct'), false);
  assert.equal(gatewayWants(true, true, 'anchored'), true);
});

test('the gateway context rings any number but does not make the dialplan claim numbers', () => {
  const dp = compileDialplan(parseConfig(CONTRACT, 'switchboard.yaml'));
  assert.ok(dp.hasContext(GATEWAY_CONTEXT));
  assert.ok(dp.find(GATEWAY_CONTEXT, '1002'));
  assert.equal(dp.knows('1002'), false);
});

test('a TURN secret becomes time-limited REST credentials that coturn can check', async () => {
  const { pageIceServers } = await import('../../src/cli/webrtc-gateway.js');
  const { createHmac } = await import('node:crypto');
  const [stun, turn] = pageIceServers(
    [
      { urls: ['stun:127.0.0.1:3478'], ttl: 86_400 },
      { urls: ['turn:127.0.0.1:3478'], secret: 'shh', ttl: 600 },
    ],
    1_700_000_000_000,
  );
  assert.deepEqual(stun, { urls: ['stun:127.0.0.1:3478'], username: undefined, credential: undefined });
  assert.equal(turn.username, '1700000600:switchboard');
  assert.equal(turn.credential, createHmac('sha1', 'shh').update('1700000600:switchboard').digest('base64'));
});
