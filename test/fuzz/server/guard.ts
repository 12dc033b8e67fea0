/**
 * Keeps a fuzzed server's traffic inside the harness. Fuzzed messages name
 * any host and port in their Via, Contact and Route headers; a server that
 * answered or forwarded there could hit other programs on this machine
 * (another test's baresip on 127.0.0.1:5070) or, through a DNS lookup, leave
 * it. In the harness process only, every UDP send goes out only to the
 * driver's own sockets, no outgoing TCP connection is opened, and name
 * lookups fail; what was held back is counted and reported.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

export interface GuardCounts {
  blockedSends: number;
  blockedConnects: number;
  blockedLookups: number;
}

export const guardCounts: GuardCounts = { blockedSends: 0, blockedConnects: 0, blockedLookups: 0 };

const allowedUdp = new Set<string>();

export function allowUdp(address: string, port: number): void {
  allowedUdp.add(`${address}|${port}`);
}

type SendArgs = [msg: unknown, ...rest: unknown[]];

/** Node refuses these ports with ERR_SOCKET_BAD_PORT; the guard lets Node do so, so the server sees what it would see. */
function validPort(port: unknown): boolean {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536;
}

export function installGuard(): void {
  const send = dgram.Socket.prototype.send as (...args: SendArgs) => void;
  dgram.Socket.prototype.send = function guardedSend(this: dgram.Socket, ...args: SendArgs): void {
    // send(msg, [offset, length,] port, address, [callback])
    const offsetForm = typeof args[1] === 'number' && typeof args[2] === 'number' && typeof args[3] === 'number';
    const port = offsetForm ? args[3] : args[1];
    const address = offsetForm ? args[4] : args[2];
    if (validPort(port) && !allowedUdp.has(`${String(address)}|${Number(port)}`)) {
      guardCounts.blockedSends++;
      const cb = args.find((a) => typeof a === 'function') as ((err: Error | null, bytes: number) => void) | undefined;
      // As if it went out: a sink, not an error the transport would have to handle.
      if (cb) process.nextTick(cb, null, 0);
      return;
    }
    send.apply(this, args);
  } as typeof dgram.Socket.prototype.send;

  const connect = net.Socket.prototype.connect as (...args: unknown[]) => net.Socket;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
    const first = args[0];
    const port = first !== null && typeof first === 'object' ? (first as { port?: unknown }).port : first;
    if (!validPort(port)) return connect.apply(this, args);
    guardCounts.blockedConnects++;
    const err = Object.assign(new Error('connect ECONNREFUSED (the fuzz harness opens no outgoing connection)'), { code: 'ECONNREFUSED' });
    process.nextTick(() => this.destroy(err));
    return this;
  } as typeof net.Socket.prototype.connect;

  const refuse = (hostname: string): Error => Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (fuzz harness)`), { code: 'ENOTFOUND', hostname });
  const lookupPromise = dns.promises.lookup;
  dns.promises.lookup = ((hostname: string, options?: unknown) => {
    if (isIP(hostname)) return (lookupPromise as (h: string, o?: unknown) => Promise<unknown>)(hostname, options);
    guardCounts.blockedLookups++;
    return Promise.reject(refuse(hostname));
  }) as typeof dns.promises.lookup;
  const lookup = dns.lookup;
  dns.lookup = ((hostname: string, ...rest: unknown[]) => {
    if (isIP(hostname)) return (lookup as (...a: unknown[]) => void)(hostname, ...rest);
    guardCounts.blockedLookups++;
    const cb = rest.find((a) => typeof a === 'function') as ((err: Error) => void) | undefined;
    if (cb) process.nextTick(cb, refuse(hostname));
  }) as typeof dns.lookup;
  // ESM named imports of built-in modules (import { lookup } from 'node:dns/promises') see the patched functions after this.
  syncBuiltinESMExports();
}
