/** `proto:address:port` listen specs, shared by the config loader and the transport layer. */
export type ListenProto = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface ListenAddress {
  proto: ListenProto;
  address: string;
  port: number;
}

const PROTOS = new Set<ListenProto>(['udp', 'tcp', 'tls', 'ws', 'wss']);
const DEFAULT_PORT: Record<ListenProto, number> = { udp: 5060, tcp: 5060, tls: 5061, ws: 8080, wss: 8443 };

/**
 * Accepts `udp:127.0.0.1:5060`, `tls:[::1]:5061`, `tcp:5060` (every interface)
 * and `udp:127.0.0.1` (the protocol's default port).
 */
export function parseListen(spec: string): ListenAddress {
  const example = 'expected proto:address:port, e.g. udp:127.0.0.1:5060 or tls:[::1]:5061';
  const m = /^([a-z]+):(?:\[([0-9A-Fa-f:.]+)\]|([0-9A-Za-z.-]+))?(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m) throw new Error(`bad listen address "${spec}": ${example}`);
  const proto = m[1] as ListenProto;
  if (!PROTOS.has(proto)) throw new Error(`bad listen address "${spec}": unknown protocol "${m[1]}"; use udp, tcp, tls, ws or wss`);
  let address: string | undefined = m[2] ?? m[3];
  let portText = m[4];
  // `udp:5060` means every interface on port 5060.
  if (address !== undefined && portText === undefined && /^\d+$/.test(address)) {
    portText = address;
    address = undefined;
  }
  const port = portText === undefined ? DEFAULT_PORT[proto] : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad listen address "${spec}": port out of range`);
  return { proto, address: address ?? '0.0.0.0', port };
}
