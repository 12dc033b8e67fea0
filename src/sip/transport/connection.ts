/**
 * What the transport layer's bookkeeping needs of a connection-oriented
 * transport (TCP, TLS, WebSocket): one shape, so the connection table, the
 * lookup by peer and the flow-closed report cover every kind alike.
 */
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { LocalEndpoint, Peer, Proto } from './types.js';

export interface Connection {
  readonly id: number;
  readonly proto: Proto;
  /** Whether we dialled it (WebSocket connections never are: browsers dial us). */
  readonly outbound: boolean;
  /** Outbound TLS: the name the peer's certificate was checked against (undefined: its address). */
  readonly serverName: string | undefined;
  /** The far end, carrying this connection's id so replies can come back on it. */
  readonly remote: Peer;
  readonly local: LocalEndpoint;
  readonly isOpen: boolean;
  /** Returns false when the data was refused (the failure already went to sendError). */
  send(data: Buffer): boolean;
  /** Closes at once, dropping anything not yet written; `closed` is reported before this returns. */
  destroy(): void;
}

/** What a connection tells its owner (the transport layer), given at construction. */
export interface ConnectionHandlers {
  message(conn: Connection, data: Buffer): void;
  keepalive(conn: Connection): void;
  framingError(conn: Connection, status: number, reason: string, head: Buffer): void;
  sendError(dest: Peer, err: Error): void;
  closed(conn: Connection): void;
}

/**
 * Closes a connection with no traffic either way for `timeoutMs`: one timer
 * per connection, re-armed lazily when it fires, instead of a reset on every
 * message (`touch()` only notes the time).
 */
export class IdleWatch {
  private lastActivity: number;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
  ) {
    this.lastActivity = clock.now();
    this.arm(timeoutMs);
  }

  touch(): void {
    this.lastActivity = this.clock.now();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimer(ms, () => {
      if (this.stopped) return;
      const idle = this.clock.now() - this.lastActivity;
      if (idle >= this.timeoutMs) this.onIdle();
      else this.arm(this.timeoutMs - idle);
    });
  }
}
