/**
 * Where a request for a SIP URI goes: a small part of RFC 3263 (the
 * transport parameter, the default port, an A/AAAA lookup; no NAPTR or SRV).
 * The one resolver for the proxy's next hops and a user agent's targets.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Peer, Proto } from './transport/types.js';
import { bareHost, parseUri, type SipUri } from './uri.js';

/** The port a SIP URI or Via without one means (RFC 3261 §19.1.2, §18.2.2): 5061 for TLS, else 5060. */
export function defaultPort(proto: string): number {
  return proto === 'tls' ? 5061 : 5060;
}

/** The transport a URI asks for: its transport parameter, TLS for sips, else `fallback`. */
export function protoOf(uri: SipUri, fallback: Proto = 'udp'): Proto {
  const t = uri.params.get('transport')?.toLowerCase();
  if (uri.scheme === 'sips') return t === 'ws' || t === 'wss' ? 'wss' : 'tls';
  if (t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss') return t;
  return fallback;
}

/**
 * The transport destination for `uri` (parsed, or text to parse). `fallback`
 * is the transport when the URI names none: a phone's own, UDP for a proxy.
 * Rejects for a tel: URI (only a server can route it) or a name that does not resolve.
 */
export async function resolveUri(uri: SipUri | string, fallback: Proto = 'udp'): Promise<Peer> {
  const u = typeof uri === 'string' ? parseUri(uri) : uri;
  if (u.scheme === 'tel') throw new Error(`cannot route ${typeof uri === 'string' ? uri : 'a tel: URI'} without a server`);
  const proto = protoOf(u, fallback);
  return resolveHost(proto, u.host, u.port ?? defaultPort(proto));
}

/** A host (name or address, IPv6 with or without brackets) and port as a transport destination. */
export async function resolveHost(proto: Proto, hostText: string, port: number): Promise<Peer> {
  const host = bareHost(hostText);
  if (isIP(host)) return { proto, address: host, port };
  const found = await lookup(host);
  // The name travels with the address: TLS checks the certificate against it (RFC 5922).
  return { proto, address: found.address, port, serverName: host };
}
