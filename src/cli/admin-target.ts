/** Finds the admin endpoint of a running server from --admin, --config, or the default. */
import { loadConfigFile, parseHostPort } from '../config/load.js';
import { DEFAULT_ADMIN_PORT } from '../config/schema.js';

export function adminTarget(opts: { config?: string; admin?: string }): { address: string; port: number } {
  if (opts.admin) {
    const hp = parseHostPort(opts.admin);
    if (!hp) throw new Error(`--admin expects host:port, e.g. 127.0.0.1:${DEFAULT_ADMIN_PORT}`);
    return hp;
  }
  if (opts.config) return loadConfigFile(opts.config).admin.listen;
  return { address: '127.0.0.1', port: DEFAULT_ADMIN_PORT };
}
