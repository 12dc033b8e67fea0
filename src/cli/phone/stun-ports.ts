/**
 * `--stun`: learn the public address a NAT gives one of our UDP ports. The
 * port is bound, asked about, and released, then the SIP stack or the RTP
 * endpoint binds it again; a NAT keeps the mapping for its idle timeout
 * (tens of seconds at least), which covers the gap.
 */
import { bindUdp } from '../../media/endpoint/bind.js';
import { stunBinding, type StunAddress } from '../../stun/index.js';
import type { HostPort } from './options.js';

export interface MappedPort {
  /** The local port that was asked about (chosen by the system when 0 was given). */
  localPort: number;
  mapped: StunAddress;
}

export async function mapPort(bindHost: string, port: number, server: HostPort): Promise<MappedPort> {
  const socket = await bindUdp(bindHost, port, Math.random);
  try {
    const mapped = await stunBinding(socket, { address: server.host, port: server.port });
    return { localPort: socket.address().port, mapped };
  } catch (err) {
    throw new Error(`STUN server ${server.host}:${server.port} did not tell us our public address: ${(err as Error).message}. Check --stun, or leave it out on a network without NAT.`);
  } finally {
    socket.close();
  }
}
