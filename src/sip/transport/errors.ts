/** Errors the transport layer gives callers to decide on. */
import { formatEndpoint } from '../../util/listen.js';
import type { LocalEndpoint } from './types.js';

/**
 * A SIP listen address could not be bound. The message names the address and
 * what the system said, nothing more: what to do about it depends on who
 * asked (a server's config file, a phone's --listen), so the caller phrases
 * the advice from `code` and `endpoint`.
 */
export class ListenError extends Error {
  constructor(
    /** The system's error code: EADDRINUSE, EACCES, EADDRNOTAVAIL, EAFNOSUPPORT, or another. */
    readonly code: string,
    readonly endpoint: LocalEndpoint,
    cause: Error,
  ) {
    super(listenMessage(code, endpoint, cause), { cause });
    this.name = 'ListenError';
  }
}

function listenMessage(code: string, ep: LocalEndpoint, cause: Error): string {
  const where = formatEndpoint(ep);
  switch (code) {
    case 'EADDRINUSE':
      return `SIP listen address ${where} is already in use by another program`;
    case 'EACCES':
      return `not allowed to listen on ${where}: ports below 1024 need extra privileges`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: ${ep.address} is not an address of this machine`;
    case 'EAFNOSUPPORT':
      return `cannot listen on ${where}: this host has no IPv6 support`;
    default:
      return `cannot listen on ${where}: ${cause.message}`;
  }
}
