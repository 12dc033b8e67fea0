/**
 * Interop tests need real peers. In CI a missing one is a failure (said
 * loudly); on a developer's machine the test is skipped with the command that
 * installs it.
 */
import { execFileSync } from 'node:child_process';

export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Returns a skip reason, or undefined when every binary is there. Throws in CI. */
export function requirePeers(...names: string[]): string | undefined {
  const missing = names.filter((n) => !hasBinary(n));
  if (missing.length === 0) return undefined;
  const msg = `missing peer(s): ${missing.join(', ')} — run: sudo bash scripts/install-peers.sh`;
  if (process.env.CI) throw new Error(msg);
  return msg;
}
