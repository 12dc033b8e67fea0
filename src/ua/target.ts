/** Where a request for a SIP URI goes (a small part of RFC 3263: no NAPTR/SRV, an A/AAAA lookup). */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseUri, bareHost } from '../sip/uri.js';
import type { Peer, Proto } from '../sip/transport/types.js';
import { defaultPort } from '../sip/resolve.js';

/** A Peer at once when the host is an address, a promise when it needs DNS. */
export function resolveTarget(uri: string, defaultProto: Proto): Peer | Promise<Peer> {
  const u = parseUri(uri);
  if (u.scheme === 'tel') throw new Error(`cannot route ${uri} without a server`);
  const t = u.params.get('transport');
  const proto: Proto = u.scheme === 'sips' ? 'tls' : t === 'tcp' || t === 'udp' || t === 'tls' ? t : defaultProto;
  const host = bareHost(u.host);
  const port = u.port ?? defaultPort(proto);
  if (isIP(host)) return { proto, address: host, port };
  // The name travels with the address: TLS checks the certificate against it (RFC 5922).
  return lookup(host).then((r) => ({ proto, address: r.address, port, serverName: host }));
}
