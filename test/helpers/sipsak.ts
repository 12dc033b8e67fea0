/**
 * sipsak (Debian 0.9.8) as a one-shot SIP probe: OPTIONS pings, single
 * REGISTERs, a raw message file. Its exit code is the verdict (man sipsak):
 * 0 a 200 came back, 1 a final reply other than 1xx/2xx, 2 a local error
 * (bad option, unresolvable name), 3 a remote error: no answer (timeout),
 * ICMP error, redirect without Contact.
 */
import { randomInt } from 'node:crypto';
import { realClock, type Clock } from '../../src/util/clock.js';
import { isPortFree, type PortProto } from './ports.js';
import { spawnBounded } from './process.js';

export interface SipsakOptions {
  /** Arguments after `sipsak`, e.g. ['-vv', '-s', 'sip:127.0.0.1:5060']. */
  args: string[];
  /** Killed after this (default 10000 ms). */
  timeoutMs?: number;
  /** Piped to stdin (for `-f -`). */
  stdin?: string;
  clock?: Clock;
}

export interface SipsakResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** True when the deadline killed it. */
  killed: boolean;
}

export async function runSipsak(opts: SipsakOptions): Promise<SipsakResult> {
  const spawned = spawnBounded('sipsak', opts.args, {
    deadlineMs: opts.timeoutMs ?? 10000,
    clock: opts.clock ?? realClock,
    stdin: opts.stdin,
  });
  const ex = await spawned.exited;
  return { exitCode: ex.exitCode, stdout: ex.stdout, stderr: ex.stderr, killed: ex.killedByDeadline };
}

/** Args for an OPTIONS ping to host:port from a 127.0.0.1 socket, verbose enough to show the reply. */
export function optionsPingArgs(target: string, extra: string[] = []): string[] {
  return ['-vv', '--local-ip', '127.0.0.1', '-s', `sip:${target}`, ...extra];
}

/**
 * A port in 5062..9999 free on 127.0.0.1 for `proto`, for a server sipsak
 * talks to: sipsak 0.9.8.1 cuts a 5-digit port to 4 digits in the URIs it
 * builds. Searched from a random start so parallel runs spread out.
 */
export async function freeSipsakPort(proto: PortProto): Promise<number> {
  const lo = 5062;
  const span = 9999 - lo + 1;
  const start = randomInt(span);
  for (let i = 0; i < 300; i++) {
    const port = lo + ((start + i) % span);
    if (await isPortFree(port, proto)) return port;
  }
  throw new Error(`no free ${proto} port in 5062-9999 after 300 tries`);
}
