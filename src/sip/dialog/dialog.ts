/**
 * A SIP dialog as RFC 3261 §12 keeps it for a user agent: the peer-to-peer
 * state (tags, CSeq numbers, remote target, route set) that lets either side
 * send requests inside an INVITE or SUBSCRIBE session. It knows nothing about
 * calls or media and adds no Via: the caller hands the request to a client
 * transaction, which owns the branch.
 */
import { randomInt } from 'node:crypto';
import { formatNameAddr, parseNameAddr, type NameAddr } from '../headers.js';
import { SipMessage } from '../message.js';
import { parseUri } from '../uri.js';
import { destination, routeSetFrom, type Destination, type RouteEntry } from './route-set.js';

export type DialogState = 'early' | 'confirmed' | 'terminated';

/** Which side of the dialog-creating transaction we were. */
export type DialogRole = 'uac' | 'uas';

/** §12: a dialog is identified by Call-ID, local tag and remote tag. */
export interface DialogId {
  callId: string;
  localTag: string;
  /** Empty when the peer is an RFC 2543 UA that sent no From tag (§12.1.1). */
  remoteTag: string;
}

export interface RequestOptions {
  body?: Buffer | string;
  contentType?: string;
  /** Added after the dialog's own headers, in order (Authorization, Supported, Event ...). */
  extraHeaders?: [string, string][];
}

export interface UasOptions {
  /** First local CSeq number; by default random below 2^30 (§8.1.1.5 asks for < 2^31, this leaves room to count). */
  initialCseq?: number;
  /** Override the secure flag; by default it is set when the Request-URI is a SIPS URI. */
  secure?: boolean;
}

export interface UacOptions {
  /** Our Contact; by default the first Contact of the request we sent. */
  localContact?: string;
}

/** What a received in-dialog request means for the dialog: go on, or answer with this status (§12.2.2). */
export type RequestVerdict = { ok: true } | { ok: false; status: number; reason: string };

/**
 * Requests that replace the remote target with their Contact: INVITE and
 * UPDATE (RFC 3261 §12.2, RFC 3311), SUBSCRIBE and NOTIFY (RFC 6665 §4.1.2.1, §4.1.3).
 */
export const TARGET_REFRESH_METHODS: ReadonlySet<string> = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY']);

/** Map key for a dialog id; Call-ID and tags compare exactly. */
export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return callId + '\n' + localTag + '\n' + remoteTag;
}

const MAX_FORWARDS = '70';

export class Dialog {
  readonly id: DialogId;
  /** dialogKey(id): what a DialogTable stores it under. */
  readonly key: string;
  readonly role: DialogRole;
  /** Our side: From in our requests (with our tag). */
  readonly local: NameAddr;
  /** The peer: To in our requests (with its tag). */
  readonly remote: NameAddr;
  /** §12.1: set when the dialog was created by a request to a SIPS URI. */
  readonly secure: boolean;
  /** Our Contact header value, sent in requests that may refresh the target. */
  readonly localContact: string;
  /** Method and CSeq number of the request that created the dialog (INVITE or SUBSCRIBE). */
  readonly creatingMethod: string;
  readonly creatingSeq: number;

  private stateValue: DialogState;
  private localSeqValue: number | undefined;
  private remoteSeqValue: number | undefined;
  private remoteTargetValue: string;
  private routeSetValue: RouteEntry[];
  private dest: Destination;
  private readonly fromValue: string;
  private readonly toValue: string;
  private readonly initialCseq: number | undefined;

  private constructor(init: {
    role: DialogRole;
    callId: string;
    local: NameAddr;
    remote: NameAddr;
    localContact: string;
    localSeq: number | undefined;
    remoteSeq: number | undefined;
    remoteTarget: string;
    routeSet: RouteEntry[];
    secure: boolean;
    state: DialogState;
    creatingMethod: string;
    creatingSeq: number;
    initialCseq?: number;
  }) {
    this.role = init.role;
    this.local = init.local;
    this.remote = init.remote;
    const localTag = init.local.params.get('tag') ?? '';
    const remoteTag = init.remote.params.get('tag') ?? '';
    this.id = { callId: init.callId, localTag, remoteTag };
    this.key = dialogKey(init.callId, localTag, remoteTag);
    this.localContact = init.localContact;
    this.localSeqValue = init.localSeq;
    this.remoteSeqValue = init.remoteSeq;
    this.remoteTargetValue = init.remoteTarget;
    this.routeSetValue = init.routeSet;
    this.dest = destination(init.routeSet, init.remoteTarget);
    this.secure = init.secure;
    this.stateValue = init.state;
    this.creatingMethod = init.creatingMethod;
    this.creatingSeq = init.creatingSeq;
    this.initialCseq = init.initialCseq;
    this.fromValue = formatNameAddr(init.local);
    this.toValue = formatNameAddr(init.remote);
  }

  /**
   * §12.1.2: the dialog a UAC gets from a response to its INVITE/SUBSCRIBE
   * that carries a To tag: a 1xx (other than 100) makes it early, a 2xx
   * confirmed. Throws on a response that cannot create a dialog; malformed
   * headers throw SipParseError.
   */
  static fromUac(request: SipMessage, response: SipMessage, opts: UacOptions = {}): Dialog {
    const status = response.status;
    if (status <= 100 || status >= 300) throw new Error(`A ${status} response does not create a dialog`);
    const remoteTag = response.toTag;
    if (!remoteTag) throw new Error('A response without a To tag does not create a dialog');
    const localTag = request.fromTag;
    if (!localTag) throw new Error('The request has no From tag');
    const remote = copyAddr(request.to);
    remote.params.set('tag', remoteTag);
    const cseq = request.cseq;
    return new Dialog({
      role: 'uac',
      callId: request.callId,
      local: copyAddr(request.from),
      remote,
      localContact: opts.localContact ?? request.get('contact') ?? '',
      localSeq: cseq.seq,
      remoteSeq: undefined,
      remoteTarget: contactUri(response) ?? request.uri,
      routeSet: routeSetFrom(response.getAll('record-route'), true),
      secure: isSips(request.uri),
      state: status < 200 ? 'early' : 'confirmed',
      creatingMethod: cseq.method,
      creatingSeq: cseq.seq,
    });
  }

  /**
   * §12.1.1: the dialog a UAS gets by answering a request with a To tag.
   * It starts early; responseSent() confirms it on the 2xx. `localTag` is
   * the tag our responses carry in To; `localContact` our Contact value.
   */
  static fromUas(request: SipMessage, localTag: string, localContact: string, opts: UasOptions = {}): Dialog {
    const local = copyAddr(request.to);
    local.params.set('tag', localTag);
    const cseq = request.cseq;
    return new Dialog({
      role: 'uas',
      callId: request.callId,
      local,
      remote: copyAddr(request.from),
      localContact,
      localSeq: undefined,
      remoteSeq: cseq.seq,
      remoteTarget: contactUri(request) ?? request.from.uri,
      routeSet: routeSetFrom(request.getAll('record-route'), false),
      secure: opts.secure ?? isSips(request.uri),
      state: 'early',
      creatingMethod: cseq.method,
      creatingSeq: cseq.seq,
      initialCseq: opts.initialCseq,
    });
  }

  get state(): DialogState {
    return this.stateValue;
  }

  /** The CSeq number of the last request we sent; undefined until a UAS dialog sends one. */
  get localSeq(): number | undefined {
    return this.localSeqValue;
  }

  /** The CSeq number of the last request the peer sent; undefined until the peer sends one to a UAC dialog. */
  get remoteSeq(): number | undefined {
    return this.remoteSeqValue;
  }

  /** The peer's Contact URI: where requests go when no route set says otherwise. */
  get remoteTarget(): string {
    return this.remoteTargetValue;
  }

  /** Route set in the order requests carry it. */
  get routeSet(): readonly RouteEntry[] {
    return this.routeSetValue;
  }

  /** Request-URI of the next request (§12.2.1.1). */
  get requestUri(): string {
    return this.dest.requestUri;
  }

  /**
   * §12.2.1.1: a new in-dialog request with the next local CSeq. ACK for a
   * 2xx is createAck(); CANCEL is built from the INVITE, not the dialog.
   * The caller adds a Via with a new branch. Sending BYE ends the dialog
   * (§15.1.1: the session is over once BYE is handed to a transaction).
   */
  createRequest(method: string, opts: RequestOptions = {}): SipMessage {
    if (method === 'ACK' || method === 'CANCEL') {
      throw new Error(`${method} is not built from dialog state: use createAck() for a 2xx ACK, CANCEL copies the INVITE`);
    }
    if (this.stateValue === 'terminated') throw new Error(`Dialog ${this.id.callId} is terminated`);
    const seq = this.localSeqValue === undefined ? (this.initialCseq ?? randomInt(1, 2 ** 30)) : this.localSeqValue + 1;
    this.localSeqValue = seq;
    if (method === 'BYE') this.stateValue = 'terminated';
    return this.build(method, seq, method !== 'BYE', opts);
  }

  /**
   * §13.2.2.4: the ACK for a 2xx to the INVITE numbered `inviteCseq`. It is
   * a transaction of its own (the caller gives it a fresh branch) with the
   * INVITE's CSeq number, and does not move the local CSeq.
   */
  createAck(inviteCseq: number, opts: RequestOptions = {}): SipMessage {
    return this.build('ACK', inviteCseq, false, opts);
  }

  private build(method: string, seq: number, withContact: boolean, opts: RequestOptions): SipMessage {
    const headers: [string, string][] = [];
    for (const r of this.dest.routes) headers.push(['Route', r]);
    headers.push(
      ['Max-Forwards', MAX_FORWARDS],
      ['From', this.fromValue],
      ['To', this.toValue],
      ['Call-ID', this.id.callId],
      ['CSeq', `${seq} ${method}`],
    );
    // RFC 3261 Table 3: Contact does not apply to BYE; an ACK needs none.
    if (withContact && this.localContact) headers.push(['Contact', this.localContact]);
    if (opts.extraHeaders) headers.push(...opts.extraHeaders);
    const body = opts.body ?? '';
    if (body.length > 0 && opts.contentType) headers.push(['Content-Type', opts.contentType]);
    return SipMessage.request(method, this.dest.requestUri, headers, body);
  }

  /**
   * §12.2.2: a request from the peer inside this dialog. An out-of-order
   * CSeq gets a 500, a request for another dialog a 481, a target refresh
   * with a malformed Contact a 400 (state unchanged); otherwise the
   * remote CSeq advances, a target refresh takes the new Contact, and BYE
   * ends the dialog. ACK and CANCEL carry the INVITE's number and are not counted.
   */
  receiveRequest(req: SipMessage): RequestVerdict {
    if (req.callId !== this.id.callId || req.toTag !== this.id.localTag || (req.fromTag ?? '') !== this.id.remoteTag) {
      return { ok: false, status: 481, reason: 'Call/Transaction Does Not Exist' };
    }
    const method = req.method;
    if (method === 'ACK' || method === 'CANCEL') return { ok: true };
    const seq = req.cseq.seq;
    if (this.remoteSeqValue !== undefined && seq < this.remoteSeqValue) {
      return { ok: false, status: 500, reason: 'Server Internal Error: CSeq out of order' };
    }
    let target: string | undefined;
    if (TARGET_REFRESH_METHODS.has(method)) {
      // A Contact we cannot parse is the peer's error (400), not a reason to throw into the caller.
      try {
        target = contactUri(req);
      } catch {
        return { ok: false, status: 400, reason: 'Bad Request: malformed Contact' };
      }
    }
    if (target !== undefined) this.setRemoteTarget(target);
    this.remoteSeqValue = seq;
    if (method === 'BYE') this.stateValue = 'terminated';
    return { ok: true };
  }

  /**
   * A response to a request we sent in this dialog (the To tag must be the
   * remote tag; returns false otherwise). For the creating request of a UAC
   * dialog: a 2xx confirms an early dialog and recomputes its route set
   * (§13.2.2.4), a 3xx-6xx ends it (§12.3). A 2xx to a target refresh takes
   * the new Contact; a 481 or 408 ends the dialog (§12.2.1.2).
   */
  receiveResponse(res: SipMessage): boolean {
    if (res.callId !== this.id.callId || (res.toTag ?? '') !== this.id.remoteTag || res.fromTag !== this.id.localTag) return false;
    const status = res.status;
    if (status === 100) return true;
    const { seq, method } = res.cseq;
    const creating = this.role === 'uac' && seq === this.creatingSeq && method === this.creatingMethod;
    if (creating && this.stateValue === 'early') {
      if (status >= 300) {
        this.stateValue = 'terminated';
        return true;
      }
      const target = contactUri(res);
      if (target !== undefined) this.remoteTargetValue = target;
      if (status >= 200) {
        this.stateValue = 'confirmed';
        this.routeSetValue = routeSetFrom(res.getAll('record-route'), true);
      }
      this.dest = destination(this.routeSetValue, this.remoteTargetValue);
      return true;
    }
    if (!creating && (status === 481 || status === 408)) {
      this.stateValue = 'terminated';
      return true;
    }
    if (status >= 200 && status < 300 && TARGET_REFRESH_METHODS.has(method)) {
      const target = contactUri(res);
      if (target !== undefined) this.setRemoteTarget(target);
    }
    return true;
  }

  /** UAS: we answered the creating request. A 2xx confirms the dialog, a 3xx-6xx ends an early one (§12.3). */
  responseSent(res: SipMessage): void {
    if (this.role !== 'uas' || this.stateValue !== 'early') return;
    const { seq, method } = res.cseq;
    if (seq !== this.creatingSeq || method !== this.creatingMethod) return;
    if (res.status >= 300) this.stateValue = 'terminated';
    else if (res.status >= 200) this.stateValue = 'confirmed';
  }

  /** Ends the dialog without a BYE (a session timer expired, the transport died, Timer B fired on BYE). */
  terminate(): void {
    this.stateValue = 'terminated';
  }

  private setRemoteTarget(target: string): void {
    if (target === this.remoteTargetValue) return;
    this.remoteTargetValue = target;
    this.dest = destination(this.routeSetValue, target);
  }
}

/** The URI of the first Contact, or undefined when there is none. */
function contactUri(msg: SipMessage): string | undefined {
  const c = msg.get('contact');
  if (c === undefined) return undefined;
  const uri = parseNameAddr(c).uri;
  return uri === '*' ? undefined : uri;
}

function copyAddr(na: NameAddr): NameAddr {
  return { displayName: na.displayName, uri: na.uri, params: new Map(na.params), angle: true };
}

function isSips(uri: string): boolean {
  try {
    return parseUri(uri).scheme === 'sips';
  } catch {
    return false;
  }
}
