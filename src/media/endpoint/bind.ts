/**
 * Binding the endpoint's one UDP socket, on a given port or the first free
 * one of a range. Ranges are searched from a random even port (RTP
 * convention, RFC 3550 §11) so endpoints opened together do not all collide
 * on the first port.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { PortRange } from './types.js';

function tryBind(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export async function bindUdp(address: string, port: number | PortRange, random: () => number): Promise<Socket> {
  if (typeof port === 'number') return tryBind(address, port);
  const min = port.min + (port.min % 2);
  const count = Math.floor((port.max - min) / 2) + 1;
  if (!(count > 0) || port.max > 65535 || port.min < 1) throw new RangeError(`bad RTP port range ${port.min}-${port.max}`);
  const start = Math.floor(random() * count);
  let last: unknown;
  for (let i = 0; i < count; i++) {
    const p = min + ((start + i) % count) * 2;
    try {
      return await tryBind(address, p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      last = err;
    }
  }
  throw new Error(`no free RTP port in ${port.min}-${port.max}`, { cause: last });
}
