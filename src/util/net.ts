/** Facts about this host's network interfaces. */
import os from 'node:os';

/** The first non-loopback address of the family: the one phones on the LAN can reach. */
export function hostAddress(family: 4 | 6 = 4): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === (family === 4 ? 'IPv4' : 'IPv6') && !a.internal && !a.address.startsWith('fe80')) return a.address;
    }
  }
  return family === 4 ? '127.0.0.1' : '::1';
}

/** Every address of this host, with the loopback names: what a Request-URI may name to mean "this machine". */
export function localAddresses(): string[] {
  const out = new Set(['127.0.0.1', '::1', 'localhost']);
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return [...out];
}
