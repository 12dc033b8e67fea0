/**
 * The `webrtc:` section: where browsers' media is answered (ICE host
 * candidates), the ICE servers the browser phone is handed, and whether two
 * browsers talk directly or through us.
 */
import { isIP } from 'node:net';
import type { ListenAddress } from '../util/listen.js';
import { describe, type Reader } from './reader.js';
import type { IceServerConfig, WebRtcSettings } from './schema.js';

const KEYS = new Set(['gateway', 'rtp_addresses', 'ice_servers', 'ice_transport_policy', 'browser_to_browser', 'rtp_ports', 'connect_timeout', 'consent_timeout']);
const SERVER_KEYS = new Set(['urls', 'username', 'credential', 'secret', 'ttl']);
const ICE_URL = /^(stun|stuns|turn|turns):[^\s]+$/;

export function readWebRtc(r: Reader, listen: readonly ListenAddress[]): WebRtcSettings {
  r.keys(['webrtc'], KEYS);
  const given = r.strings(['webrtc', 'rtp_addresses']);
  given.forEach((a, i) => {
    if (isIP(a) === 0) r.fail(['webrtc', 'rtp_addresses', i], `expected an IP address, got ${JSON.stringify(a)}`);
    if (a === '0.0.0.0' || a === '::') r.fail(['webrtc', 'rtp_addresses', i], 'a wildcard is not a candidate address: name the address browsers reach, e.g. 192.0.2.10');
  });
  // Default: the concrete addresses SIP listens on (a wildcard listener gives none; the server then picks this host's address).
  const rtpAddresses = given.length > 0 ? given : [...new Set(listen.map((l) => l.address).filter((a) => a !== '0.0.0.0' && a !== '::'))];
  const iceServers: IceServerConfig[] = [];
  const list = r.list(['webrtc', 'ice_servers']) ?? [];
  list.forEach((_, i) => {
    const at = ['webrtc', 'ice_servers', i];
    r.keys(at, SERVER_KEYS);
    const urls = r.strings([...at, 'urls']);
    const bad = urls.find((u) => !ICE_URL.test(u));
    if (urls.length === 0 || bad !== undefined) {
      r.fail([...at, 'urls'], `expected stun:/turn: URLs, e.g. urls: "turn:turn.example.com:3478", got ${bad === undefined ? 'nothing' : describe(bad)}`);
    }
    const username = r.string([...at, 'username']);
    const credential = r.string([...at, 'credential']);
    const secret = r.string([...at, 'secret']);
    if (secret !== undefined && (username !== undefined || credential !== undefined)) {
      r.fail([...at, 'secret'], 'give either secret (time-limited TURN REST credentials) or username + credential, not both');
    }
    if (urls.some((u) => u.startsWith('turn')) && secret === undefined && (username === undefined || credential === undefined)) {
      r.fail([...at, 'urls'], 'a TURN server needs username and credential, or secret (the static-auth-secret of coturn)');
    }
    iceServers.push({ urls, username, credential, secret, ttl: r.int([...at, 'ttl'], 86_400, 60, 30 * 86_400) });
  });
  const ports = r.string(['webrtc', 'rtp_ports']);
  let rtpPorts: WebRtcSettings['rtpPorts'];
  if (ports !== undefined) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(ports.trim());
    const min = m ? Number(m[1]) : 0;
    const max = m ? Number(m[2]) : 0;
    if (!m || min < 1024 || max > 65535 || min > max) r.fail(['webrtc', 'rtp_ports'], `expected a range such as 20000-30000, got ${JSON.stringify(ports)}`);
    rtpPorts = { min, max };
  }
  return {
    gateway: r.bool(['webrtc', 'gateway'], true),
    rtpAddresses,
    iceServers,
    browserToBrowser: r.choice(['webrtc', 'browser_to_browser'], ['direct', 'anchored'] as const, 'direct'),
    iceTransportPolicy: r.choice(['webrtc', 'ice_transport_policy'], ['all', 'relay'] as const, 'all'),
    rtpPorts,
    // Seconds, as users write them; the leg's timers take ms.
    connectTimeoutMs: r.int(['webrtc', 'connect_timeout'], 15, 1, 300) * 1000,
    consentTimeoutMs: r.int(['webrtc', 'consent_timeout'], 30, 1, 300) * 1000,
  };
}
