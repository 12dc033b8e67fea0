/** Turns a next-hop SIP URI into a transport destination (RFC 3263, reduced to A/AAAA lookups). */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SipUri } from '../sip/uri.js';
import { bareHost } from '../sip/uri.js';
import type { Peer, Proto } from '../sip/transport/types.js';
import { defaultPort } from '../sip/resolve.js';

export function protoOf(uri: SipUri): Proto {
  const t = uri.params.get('transport')?.toLowerCase();
  if (uri.scheme === 'sips') return t === 'ws' || t === 'wss' ? 'wss' : 'tls';
  if (t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss') return t;
  return 'udp';
}

export async function resolveUri(uri: SipUri): Promise<Peer> {
  const proto = protoOf(uri);
  const host = bareHost(uri.host);
  const port = uri.port ?? defaultPort(proto);
  if (isIP(host)) return { proto, address: host, port };
  const found = await lookup(host);
  // The name travels with the address: TLS checks the certificate against it (RFC 5922).
  return { proto, address: found.address, port, serverName: host };
}
