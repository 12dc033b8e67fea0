/**
 * The response context of a stateful proxy (RFC 3261 §16.7): one server
 * transaction, one client transaction per fork, best-response selection,
 * CANCEL of the losers, CANCEL propagation and Timer C.
 */
import { transportFailureReason } from '../sip/errors.js';
import type { SipMessage } from '../sip/message.js';
import type { SipStack } from '../sip/stack.js';
import { buildCancel, type ClientTransaction, type ServerTransaction } from '../sip/transaction/index.js';
import { TlsVerifyError } from '../sip/transport/index.js';
import type { Peer } from '../sip/transport/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';

export interface Branch {
  request: SipMessage;
  dest: Peer;
  client?: ClientTransaction;
  provisional: boolean;
  final?: number;
  cancelSent: boolean;
  timerC?: TimerHandle;
}

export interface ContextEvents {
  /** A 2xx to an INVITE went upstream: a dialog is up. */
  onAnswered?(res: SipMessage): void;
  /** The best failure went upstream as the final answer; `cancelled` when the caller had sent CANCEL. */
  onFailed?(status: number, cancelled: boolean): void;
  onDone?(): void;
  /** A fork could not be sent: the transport failed toward `dest` (a refused certificate, a refused connection). */
  onTransportFailure?(dest: Peer, cause: Error): void;
}

export class ResponseContext {
  readonly branches: Branch[] = [];
  private best?: SipMessage;
  private finalSent = false;
  /** Set once no fork may ring on: the caller cancelled, or a 2xx/6xx decided the call. */
  private stopping = false;
  /** Reason header for the CANCELs we send (RFC 3326), e.g. a call answered on another phone. */
  private cancelReason?: string;
  private readonly isInvite: boolean;
  private cancelled = false;
  /** Our own 503 for a next hop whose TLS certificate we refused: passed upstream as it is. */
  private certificateVerdict?: SipMessage;

  constructor(
    private readonly stack: SipStack,
    private readonly clock: Clock,
    readonly server: ServerTransaction,
    readonly request: SipMessage,
    private readonly timerCms: number,
    private readonly events: ContextEvents = {},
  ) {
    this.isInvite = request.method === 'INVITE';
  }

  /** Starts one fork; `request` already carries our Via, Record-Route and new Request-URI. */
  fork(request: SipMessage, dest: Peer): void {
    const branch: Branch = { request, dest, provisional: false, cancelSent: false };
    this.branches.push(branch);
    branch.client = this.stack.client(request, dest, {
      onResponse: (res) => this.onResponse(branch, res),
      onTimeout: () => this.onBranchFailure(branch, 408, 'Request Timeout'),
      onTransportError: (cause) => this.onTransportError(branch, cause),
    });
    if (this.isInvite) this.armTimerC(branch);
  }

  /** The proxy is shutting down: no Timer C may fire after it (the transactions end with the stack). */
  close(): void {
    for (const b of this.branches) {
      b.timerC?.cancel();
      b.timerC = undefined;
    }
  }

  /** The caller sent CANCEL: stop every fork still ringing (RFC 3261 §16.10). */
  cancel(): void {
    this.cancelled = true;
    this.stopAll();
  }

  private stopAll(except?: Branch, reason?: string): void {
    this.stopping = true;
    this.cancelReason ??= reason;
    for (const b of this.branches) if (b !== except) this.cancelBranch(b);
  }

  private armTimerC(branch: Branch): void {
    branch.timerC?.cancel();
    branch.timerC = this.clock.setTimer(this.timerCms, () => {
      branch.timerC = undefined;
      if (branch.final !== undefined) return;
      // §16.8: with a provisional response the branch is cancelled; without one it counts as a 408.
      if (branch.provisional) this.cancelBranch(branch);
      else this.onBranchFailure(branch, 408, 'Request Timeout');
    });
  }

  private onResponse(branch: Branch, res: SipMessage): void {
    res.removeFirst('via');
    if (!res.has('via')) return;
    const status = res.status;
    if (status < 200) {
      branch.provisional = true;
      if (this.isInvite) this.armTimerC(branch);
      if (this.stopping) this.cancelBranch(branch);
      if (status > 100 && !this.finalSent) this.server.respond(res);
      return;
    }
    if (branch.final !== undefined && status >= 300) return;
    branch.final = status;
    branch.timerC?.cancel();
    branch.timerC = undefined;
    if (status < 300) {
      // Every 2xx goes upstream at once, even after another fork answered (§16.7 step 5).
      if (!this.finalSent) {
        this.finalSent = true;
        this.server.respond(res);
      } else {
        const dest = this.stack.responseDestination(res);
        if (dest) this.stack.sendStateless(res, this.sameConnection(dest));
      }
      if (this.isInvite) this.events.onAnswered?.(res);
      this.stopAll(branch, 'SIP;cause=200;text="Call completed elsewhere"');
      this.checkDone();
      return;
    }
    if (status >= 600) this.stopAll(branch);
    if (!this.best || better(res, this.best)) this.best = res;
    this.checkDone();
  }

  private sameConnection(dest: Peer): Peer {
    const src = this.server.source;
    if (src && src.proto === dest.proto && src.address === dest.address && src.port === dest.port) return src;
    return dest;
  }

  private onTransportError(branch: Branch, cause: Error | undefined): void {
    if (branch.final !== undefined) return;
    if (cause) this.events.onTransportFailure?.(branch.dest, cause);
    if (!(cause instanceof TlsVerifyError)) return this.onBranchFailure(branch, 503, 'Service Unavailable');
    // The reason phrase names the certificate problem, so the caller's user sees why.
    this.onBranchFailure(branch, 503, transportFailureReason(cause), true);
  }

  private onBranchFailure(branch: Branch, status: number, reason: string, certificateVerdict = false): void {
    if (branch.final !== undefined) return;
    branch.final = status;
    branch.timerC?.cancel();
    branch.timerC = undefined;
    const synthetic = this.stack.makeResponse(this.request, status, reason);
    if (certificateVerdict) this.certificateVerdict ??= synthetic;
    if (!this.best || better(synthetic, this.best)) this.best = synthetic;
    this.checkDone();
  }

  private checkDone(): void {
    if (this.branches.some((b) => b.final === undefined)) return;
    if (!this.finalSent && this.best) {
      this.finalSent = true;
      let res = this.best;
      // §16.7 step 6: a 503 from downstream must not make the caller think *we* are overloaded.
      // A next hop whose certificate we refused is our own verdict, not an overload: it stays a
      // 503 naming the problem (and a caller with another server to try may well try it).
      if (res.status === 503 && res !== this.certificateVerdict) {
        res = res.clone();
        res.status = 500;
        res.reason = 'Server Internal Error';
        res.remove('retry-after');
      }
      this.server.respond(res);
      this.events.onFailed?.(res.status, this.cancelled);
    }
    this.events.onDone?.();
  }

  /** RFC 3261 §9.1: CANCEL only a branch that has had a provisional response and no final one. */
  private cancelBranch(branch: Branch): void {
    if (branch.cancelSent || branch.final !== undefined || !this.isInvite) return;
    if (!branch.provisional) return; // sent once the first provisional arrives
    branch.cancelSent = true;
    const cancel = buildCancel(branch.request, this.cancelReason ? [['Reason', this.cancelReason]] : []);
    this.stack.client(cancel, branch.dest, { onResponse: () => undefined, onTimeout: () => undefined });
  }
}

/** §16.7 step 6: 6xx beats everything; otherwise the lowest class wins; within a class, the first. */
function better(candidate: SipMessage, current: SipMessage): boolean {
  const c = candidate.status;
  const b = current.status;
  if (b >= 600) return false;
  if (c >= 600) return true;
  const cc = Math.floor(c / 100);
  const bc = Math.floor(b / 100);
  if (cc !== bc) return cc < bc;
  // Within 4xx, a real answer from a phone (486, 404) says more than a timeout or our own 408/480.
  if (cc === 4 && (b === 408 || b === 480) && c !== 408 && c !== 480) return true;
  return false;
}
