/**
 * Debian coturn (`turnserver`) on 127.0.0.1 for the TURN tests: its own
 * config-free command line, user database and log in a temp dir, either
 * long-term credentials with static users or TURN REST credentials from a
 * shared secret. Relaying to 127.0.0.1 peers is allowed (coturn refuses it by
 * default), TLS/DTLS and the telnet CLI are off.
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { realClock } from '../../src/util/clock.js';
import { freePort, isPortFree } from './ports.js';
import { sleep, spawnBounded, type Spawned } from './process.js';

export const TURNSERVER_BIN = 'turnserver';

export type CoturnAuth =
  /** Long-term credentials (lt-cred-mech) for these users. */
  | { kind: 'static'; users: Record<string, string> }
  /** TURN REST API: username `expiry:user`, password base64(HMAC-SHA1(secret, username)). */
  | { kind: 'secret'; secret: string };

export interface CoturnOptions {
  auth: CoturnAuth;
  /** Default "switchboard.test". */
  realm?: string;
  /** Hard deadline for the process (default 10 minutes). */
  deadlineMs?: number;
}

export interface Coturn {
  host: string;
  port: number;
  /** `turn:127.0.0.1:PORT?transport=udp` */
  url: string;
  realm: string;
  /** The ports coturn relays from (--min-port/--max-port): a relayed peer address is 127.0.0.1 on one of them. */
  relayPorts: { min: number; max: number };
  pid: number;
  logFile: string;
  /** The log so far ('' before coturn wrote one). */
  log(): string;
  /** Allocations coturn logged as created so far (a relay was really used). */
  allocations(): number;
  stop(): Promise<void>;
}

/** TURN REST credentials valid for `ttlS` seconds from now (draft-uberti-behave-turn-rest). */
export function turnRestCredentials(secret: string, user: string, ttlS = 3600, nowMs = Date.now()): { username: string; credential: string } {
  const username = `${Math.floor(nowMs / 1000) + ttlS}:${user}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/** Starts coturn and waits until it listens; throws with its log when it does not. */
export async function startCoturn(o: CoturnOptions): Promise<Coturn> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-coturn-'));
  const realm = o.realm ?? 'switchboard.test';
  const logFile = path.join(dir, 'turn.log');
  const readLog = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let spawned: Spawned | undefined;
  try {
    const port = await freePort('both');
    // Relay ports: a small window of the ephemeral range near the listener (50 allocations are plenty here).
    const minPort = 49152 + (port % 8000);
    const args = [
      '-n', // no configuration file: everything is on this line
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      `--min-port=${minPort}`,
      `--max-port=${minPort + 199}`,
      `--realm=${realm}`,
      '--allow-loopback-peers',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--no-multicast-peers',
      '--fingerprint',
      `--db=${path.join(dir, 'turndb')}`,
      `--pidfile=${path.join(dir, 'turnserver.pid')}`,
      `--log-file=${logFile}`,
      '--simple-log',
      '--no-stdout-log',
      // Moderate verbosity: one line per session event (allocation, permission, refresh), none per packet.
      '--verbose',
    ];
    if (o.auth.kind === 'static') {
      args.push('--lt-cred-mech');
      for (const [user, pass] of Object.entries(o.auth.users)) args.push(`--user=${user}:${pass}`);
    } else {
      args.push('--use-auth-secret', `--static-auth-secret=${o.auth.secret}`);
    }
    spawned = spawnBounded(TURNSERVER_BIN, args, { cwd: dir, deadlineMs: o.deadlineMs ?? 10 * 60_000 });
    let exited = false;
    spawned.onExit(() => {
      exited = true;
    });
    const deadline = realClock.now() + 10_000;
    // Without --verbose coturn does not log its listeners: the bound port says it is up.
    while (!readLog().includes('turn server id=') || (await isPortFree(port, 'udp'))) {
      if (exited || realClock.now() > deadline) {
        throw new Error(`coturn did not start on 127.0.0.1:${port}:\n${readLog().slice(-3000)}\n${spawned.stderr().slice(-1500)}`);
      }
      await sleep(100);
    }
    const proc = spawned;
    return {
      host: '127.0.0.1',
      port,
      url: `turn:127.0.0.1:${port}?transport=udp`,
      realm,
      relayPorts: { min: minPort, max: minPort + 199 },
      pid: proc.child.pid!,
      logFile,
      log: readLog,
      allocations: () => (readLog().match(/ALLOCATE processed, success/g) ?? []).length,
      async stop() {
        await proc.kill('SIGTERM', 3000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await spawned?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
