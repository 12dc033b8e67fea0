/** UDP socket chores shared by the SIP transport and the media layer. */
import type { Socket } from 'node:dgram';

/** Closes `socket`; resolves once it is closed, or at once if it already was. */
export function closeUdp(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
