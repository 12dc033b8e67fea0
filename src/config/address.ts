/** Address spellings the config accepts. */
import { isIP } from 'node:net';

/** `192.0.2.7`, `10.0.0.0/8`, `::1`, `2001:db8::/32`. */
export function isAddressOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = text.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** A DNS name (`sip.carrier.example`) or an IP address: what may follow `sip:user@`. */
export function isHostName(text: string): boolean {
  if (isIP(text) !== 0) return true;
  return text.length <= 253 && /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(text);
}

/** A mail address as far as a config can check one: something@host. */
export function isMailAddress(text: string): boolean {
  const at = text.lastIndexOf('@');
  return at > 0 && !/\s/.test(text) && isHostName(text.slice(at + 1));
}
