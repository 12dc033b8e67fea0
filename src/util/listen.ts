/**
 * Listen specs (`udp:127.0.0.1:5060`) and the address spellings kept
 * canonical, shared by the config loader and the transport layer.
 */
import { isIP, isIPv6 } from 'node:net';

export type ListenProto = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface ListenAddress {
  proto: ListenProto;
  address: string;
  port: number;
}

/** Every protocol the SIP transport layer listens on; ws and wss (RFC 7118) also serve plain HTTP on their port. */
const LISTEN_PROTOS: readonly ListenProto[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

const EXAMPLES = 'e.g. "udp:127.0.0.1:5060", "tcp:0.0.0.0:5060", "tls:[::1]:5061", "ws:127.0.0.1:8080" or "udp:5060"';

/**
 * Parses `proto:address:port`, `proto:[ipv6]:port` or `proto:port`. The last
 * form listens on every IPv4 interface (0.0.0.0); write `udp:[::]:5060` for
 * every IPv6 interface.
 */
export function parseListen(spec: string): ListenAddress {
  const bad = (why: string): Error =>
    new Error(`Bad SIP listen address "${spec}": ${why}; expected proto:address:port, ${EXAMPLES}`);
  const text = spec.trim();
  const colon = text.indexOf(':');
  if (colon <= 0) throw bad('missing protocol');
  const proto = text.slice(0, colon).toLowerCase() as ListenProto;
  if (!LISTEN_PROTOS.includes(proto)) throw bad(`unknown protocol "${text.slice(0, colon)}", use one of ${LISTEN_PROTOS.join(', ')}`);
  const rest = text.slice(colon + 1);
  let address: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') throw bad('an IPv6 address must be written [address]:port');
    address = rest.slice(1, close);
    portText = rest.slice(close + 2);
    if (!isIPv6(address)) throw bad(`"${address}" is not an IPv6 address`);
  } else {
    const last = rest.lastIndexOf(':');
    if (last < 0) {
      address = '0.0.0.0';
      portText = rest;
    } else {
      address = rest.slice(0, last);
      portText = rest.slice(last + 1);
      if (address.includes(':')) throw bad('an IPv6 address must be in brackets, like [::1]:5060');
      if (isIP(address) !== 4) throw bad(`"${address}" is not an IP address`);
    }
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw bad(`"${portText}" is not a port number (0-65535)`);
  return { proto, address: canonicalAddress(address), port: Number(portText) };
}

/** How an endpoint is written in messages and logs: `udp:[::1]:5060`. */
export function formatEndpoint(ep: ListenAddress): string {
  return `${ep.proto}:${hostPort(ep)}`;
}

/** Host as written in a URI, a Via or a URL: IPv6 in brackets (once). */
export function uriHost(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/** `host:port` as shown to people and dialled: IPv6 in brackets. */
export function hostPort(ep: { address: string; port: number }): string {
  return `${uriHost(ep.address)}:${ep.port}`;
}

/**
 * One spelling per address so lookups by address match: IPv6 in lower case
 * without brackets, and IPv4-mapped IPv6 (what a dual-stack socket reports)
 * turned back into plain IPv4.
 */
export function canonicalAddress(address: string): string {
  // Fast path for the common case, an IPv4 address as the socket reports it.
  if (!address.includes(':') && !address.startsWith('[')) return address;
  let a = address;
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  a = a.toLowerCase();
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return a;
}

export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}
