/**
 * A STUN Binding transaction over a socket the caller already owns (RFC 5389
 * §7.2.1), so the mapped address learned is the one for the port the phone
 * really sends SIP or RTP from. The socket keeps its other 'message'
 * listeners: this code only looks at STUN responses with its own
 * transaction id and ignores everything else.
 */
import type { RemoteInfo } from 'node:dgram';
import { realClock, type Clock, type TimerHandle } from '../util/clock.js';
import type { StunAddress } from './address.js';
import {
  StunMethod,
  StunParseError,
  StunWriter,
  decodeStun,
  getErrorCode,
  getMappedAddress,
  getXorMappedAddress,
  isStun,
  newTransactionId,
  type StunMessage,
} from './message.js';

/** The part of dgram.Socket a Binding transaction needs. */
export interface StunSocket {
  send(msg: Uint8Array, port: number, address: string, callback?: (error: Error | null, bytes: number) => void): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): unknown;
  off(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): unknown;
}

export interface StunBindingOptions {
  clock?: Clock;
  /** Initial retransmission timeout in ms (RFC 5389 §7.2.1 recommends 500). */
  rto?: number;
  /** Rc: transmissions in all (default 7). */
  maxTransmits?: number;
  /** Rm: after the last transmission, wait this many RTOs for an answer (default 16). */
  lastWaitFactor?: number;
  software?: string;
  /** Add FINGERPRINT so a server sharing its port with other protocols can spot the request (default true). */
  fingerprint?: boolean;
  signal?: AbortSignal;
}

/** The server answered with an error response. */
export class StunErrorResponse extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`STUN error response ${code} ${reason}`);
    this.name = 'StunErrorResponse';
  }
}

export class StunTimeoutError extends Error {
  constructor(
    readonly server: StunAddress,
    readonly transmits: number,
    readonly waitedMs: number,
  ) {
    super(`no STUN answer from ${server.address}:${server.port} after ${transmits} transmissions (${waitedMs} ms)`);
    this.name = 'StunTimeoutError';
  }
}

/** Ms after the first send at which each transmission happens, and when the transaction gives up. */
export function bindingSchedule(rto = 500, maxTransmits = 7, lastWaitFactor = 16): { sends: number[]; timeout: number } {
  const sends: number[] = [];
  let t = 0;
  let gap = rto;
  for (let i = 0; i < maxTransmits; i++) {
    sends.push(t);
    if (i < maxTransmits - 1) {
      t += gap;
      gap *= 2;
    }
  }
  return { sends, timeout: t + rto * lastWaitFactor };
}

function matches(msg: Buffer, tid: Buffer): boolean {
  return msg.compare(tid, 0, tid.length, 8, 20) === 0;
}

/**
 * Sends a Binding request to `server` from `socket` and resolves with the
 * reflexive (mapped) address from the answer. Rejects with StunErrorResponse,
 * StunTimeoutError, a send error, or the signal's reason.
 */
export function stunBinding(socket: StunSocket, server: StunAddress, opts: StunBindingOptions = {}): Promise<StunAddress> {
  const clock = opts.clock ?? realClock;
  const rto = opts.rto ?? 500;
  const maxTransmits = Math.max(1, opts.maxTransmits ?? 7);
  const { sends, timeout } = bindingSchedule(rto, maxTransmits, opts.lastWaitFactor ?? 16);
  const tid = newTransactionId();
  const w = new StunWriter(Buffer.alloc(128)).begin(StunMethod.Binding, 'request', tid);
  if (opts.software) w.software(opts.software);
  if (opts.fingerprint ?? true) w.fingerprint();
  const request = w.finish();

  return new Promise<StunAddress>((resolve, reject) => {
    let timer: TimerHandle | undefined;
    let done = false;
    let transmitted = 0;

    const finish = (err: Error | null, result?: StunAddress): void => {
      if (done) return;
      done = true;
      timer?.cancel();
      socket.off('message', onMessage);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(result!);
    };

    function onMessage(msg: Buffer): void {
      if (!isStun(msg) || !matches(msg, tid)) return;
      let res: StunMessage;
      try {
        res = decodeStun(msg);
      } catch (e) {
        if (e instanceof StunParseError) return; // a forged or damaged answer: keep waiting for a good one
        throw e;
      }
      if (res.method !== StunMethod.Binding) return;
      if (res.cls === 'error') {
        const ec = getErrorCode(res);
        finish(new StunErrorResponse(ec?.code ?? 0, ec?.reason ?? 'no ERROR-CODE'));
      } else if (res.cls === 'success') {
        const mapped = getXorMappedAddress(res) ?? getMappedAddress(res);
        if (mapped) finish(null, mapped);
      }
    }

    function onAbort(): void {
      finish(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('STUN binding aborted'));
    }

    const transmit = (): void => {
      if (done) return;
      transmitted++;
      socket.send(request, server.port, server.address, (err) => {
        if (err) finish(err);
      });
      if (transmitted < sends.length) {
        timer = clock.setTimer(sends[transmitted] - sends[transmitted - 1], transmit);
      } else {
        timer = clock.setTimer(timeout - sends[sends.length - 1], () => finish(new StunTimeoutError(server, transmitted, timeout)));
      }
    };

    if (opts.signal?.aborted) {
      onAbort();
      return;
    }
    opts.signal?.addEventListener('abort', onAbort);
    socket.on('message', onMessage);
    transmit();
  });
}
