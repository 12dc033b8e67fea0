/** A UDP listening socket (RFC 3261 §18.1.1 / §18.2.1): every datagram is one whole message. */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { closeUdp } from '../../util/udp.js';
import type { LocalEndpoint } from './types.js';

const UDP_BUFFER_BYTES = 8 * 1024 * 1024;

export class UdpListener {
  private constructor(
    private readonly socket: Socket,
    /** With the real port once bound (the spec may have said 0). */
    readonly endpoint: LocalEndpoint,
  ) {}

  static open(
    spec: LocalEndpoint,
    onDatagram: (data: Buffer, rinfo: RemoteInfo, listener: UdpListener) => void,
    onError: (err: Error, listener: UdpListener) => void,
  ): Promise<UdpListener> {
    const v6 = isIPv6(spec.address);
    // ipv6Only lets "udp:[::]:5060" and "udp:0.0.0.0:5060" coexist, and keeps
    // IPv4 peers reported as plain IPv4 addresses.
    const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, reuseAddr: false });
    return new Promise((resolve, reject) => {
      const failBind = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', failBind);
      socket.bind({ address: spec.address, port: spec.port, exclusive: true }, () => {
        socket.off('error', failBind);
        const listener = new UdpListener(socket, { proto: 'udp', address: spec.address, port: socket.address().port });
        // A GC pause of a few ms at thousands of messages per second overflows the
        // kernel's default ~200 KB receive buffer; ask for more (capped by net.core.rmem_max).
        try {
          socket.setRecvBufferSize(UDP_BUFFER_BYTES);
          socket.setSendBufferSize(UDP_BUFFER_BYTES);
        } catch {
          /* the kernel refused; the default still works at lower rates */
        }
        socket.on('message', (data, rinfo) => onDatagram(data, rinfo, listener));
        // After binding, errors (e.g. ICMP reports on some systems) must not take the process down.
        socket.on('error', (err) => onError(err, listener));
        resolve(listener);
      });
    });
  }

  get family(): 4 | 6 {
    return isIPv6(this.endpoint.address) ? 6 : 4;
  }

  send(data: Buffer, port: number, address: string, done: (err: Error | null) => void): void {
    this.socket.send(data, port, address, done);
  }

  close(): Promise<void> {
    return closeUdp(this.socket);
  }
}

/** RFC 5626 §4.4.1 keep-alives some phones send over UDP: a bare CRLF or CRLFCRLF (or an empty datagram). */
export function isUdpKeepalive(data: Buffer): boolean {
  const n = data.length;
  if (n === 0) return true;
  if (n !== 2 && n !== 4) return false;
  for (let i = 0; i < n; i += 2) if (data[i] !== 13 || data[i + 1] !== 10) return false;
  return true;
}
