/**
 * Where a request for a SIP URI goes: a small part of RFC 3263 (the
 * transport parameter, the default port, an A/AAAA lookup; no NAPTR or SRV).
 */
/** The port a SIP URI or Via without one means (RFC 3261 §19.1.2, §18.2.2): 5061 for TLS, else 5060. */
export function defaultPort(proto: string): number {
  return proto === 'tls' ? 5061 : 5060;
}
