/** `security.allow`: addresses and CIDR blocks that are never banned (monitoring, trunks, the office). */
import { BlockList, isIP } from 'node:net';

export class AllowList {
  private readonly list = new BlockList();
  private readonly empty: boolean;

  /** Entries were validated by the config loader (`isAddressOrCidr`). */
  constructor(entries: string[]) {
    this.empty = entries.length === 0;
    for (const e of entries) {
      const slash = e.indexOf('/');
      const address = slash < 0 ? e : e.slice(0, slash);
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (slash < 0) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(e.slice(slash + 1)), type);
    }
  }

  has(address: string): boolean {
    if (this.empty) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }
}
