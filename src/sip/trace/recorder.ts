/**
 * Keeps the SIP messages of recent calls so `switchboard trace` can draw one
 * call's ladder or export it as a pcap. It sits on the packet path of a busy
 * server, so it is bounded in every direction: number of calls, messages per
 * call, bytes in total, bytes per message; and it never parses more than the
 * few header lines peekSip reads.
 *
 * Message bytes are kept as latin1 strings (one byte a character) in the V8
 * heap, not as Buffers: thousands of small long-lived Buffers scattered
 * through malloc's heap kept its pages resident after every burst of load,
 * while the garbage collector compacts strings; a Buffer is made again only
 * when someone reads a call's messages.
 */
import { realClock, type Clock } from '../../util/clock.js';
import type { Proto } from '../transport/types.js';
import { peekSip, type SipPeek } from './peek.js';

export interface TraceEndpoint {
  /** Bare IP address (IPv6 without brackets). */
  address: string;
  port: number;
}

export interface TraceInput {
  /** 'in': received by the server from `remote`; 'out': sent by the server to `remote`. */
  dir: 'in' | 'out';
  proto: Proto;
  /** The server's own socket the message went through. */
  local: TraceEndpoint;
  remote: TraceEndpoint;
  data: Buffer;
  /** Wall-clock time of the packet; the recorder's clock when absent. */
  wallMs?: number;
}

export interface TraceEntry {
  callId: string;
  dir: 'in' | 'out';
  proto: Proto;
  local: TraceEndpoint;
  remote: TraceEndpoint;
  /** The message bytes as kept: a copy of their own, cut at maxMessageBytes. */
  data: Buffer;
  /** Length of the message as it went over the wire (more than data.length when cut). */
  size: number;
  /** Monotonic time (the clock's now()), for offsets between messages. */
  ms: number;
  /** Wall-clock time, for pcap timestamps and what people read. */
  wallMs: number;
  /** What the ladder shows: start line, CSeq, SDP or not. */
  sip: SipPeek;
}

export interface TraceCallSummary {
  callId: string;
  /** Wall-clock ms of the first and the latest message. */
  firstMs: number;
  lastMs: number;
  /** Messages kept for this call. */
  count: number;
  /** Messages seen but not kept because the call went over maxMessagesPerCall. */
  dropped: number;
  /** The call's first request and the best answer to it, e.g. "INVITE sip:1002@example.com → 200". */
  summary: string;
}

export interface TraceRecorderOptions {
  maxCalls?: number;
  maxMessagesPerCall?: number;
  /** Budget for everything kept (message bytes plus a per-entry overhead estimate). */
  maxBytes?: number;
  /** Longer messages are kept cut to this length (a pcap records the original length). */
  maxMessageBytes?: number;
  clock?: Clock;
}

export interface TraceStats {
  calls: number;
  messages: number;
  /** Accounted bytes; never above maxBytes once record() returns (unless one call alone is larger). */
  bytes: number;
}

/**
 * Cost of one entry's objects besides the message bytes, so tiny messages are
 * not free: the entry, the peek with its strings, the string's header and a
 * share of its call's (measured, 2026-12: about 560 bytes).
 */
const ENTRY_OVERHEAD = 576;

/** An entry as kept: the bytes as a latin1 string, the endpoints as plain fields (two objects fewer). */
interface Kept extends Omit<TraceEntry, 'data' | 'local' | 'remote'> {
  text: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

interface CallTrace {
  callId: string;
  entries: Kept[];
  firstMs: number;
  lastMs: number;
  dropped: number;
  bytes: number;
  /** The first request seen and the best status answering it (final beats provisional). */
  first?: { method: string; uri: string; cseq?: number };
  answer: number;
  /** CSeq number of the request `answer` answered. */
  answerCseq: number;
  fallback: string;
}

export class TraceRecorder {
  private readonly maxCalls: number;
  private readonly maxMessagesPerCall: number;
  private readonly maxBytes: number;
  private readonly maxMessageBytes: number;
  private readonly clock: Clock;
  // A Map iterates in insertion order; re-inserting a call on every message makes
  // the first key the least recently active call, which is the one to evict.
  private readonly traces = new Map<string, CallTrace>();
  private bytes = 0;
  private messages = 0;

  constructor(opts: TraceRecorderOptions = {}) {
    this.maxCalls = Math.max(1, Math.floor(opts.maxCalls ?? 500));
    this.maxMessagesPerCall = Math.max(2, Math.floor(opts.maxMessagesPerCall ?? 200));
    this.maxBytes = Math.max(1, opts.maxBytes ?? 32 * 1024 * 1024);
    this.maxMessageBytes = Math.max(1, Math.floor(opts.maxMessageBytes ?? 65_000));
    this.clock = opts.clock ?? realClock;
  }

  /** Records one message; returns false when it is not SIP (or has no usable Call-ID) and was dropped. */
  record(input: TraceInput): boolean {
    const sip = peekSip(input.data);
    if (!sip) return false;
    const wallMs = input.wallMs ?? this.clock.wallNow();
    const kept = Math.min(input.data.length, this.maxMessageBytes);
    const entry: Kept = {
      callId: sip.callId,
      dir: input.dir,
      proto: input.proto,
      localAddress: input.local.address,
      localPort: input.local.port,
      remoteAddress: input.remote.address,
      remotePort: input.remote.port,
      // A fresh string: it shares nothing with the transport's buffer.
      text: input.data.toString('latin1', 0, kept),
      size: input.data.length,
      ms: this.clock.now(),
      wallMs,
      sip,
    };
    const cost = kept + sip.callId.length + ENTRY_OVERHEAD;

    let call = this.traces.get(sip.callId);
    if (call) {
      this.traces.delete(sip.callId);
    } else {
      call = { callId: sip.callId, entries: [], firstMs: wallMs, lastMs: wallMs, dropped: 0, bytes: 0, answer: 0, answerCseq: 0, fallback: '' };
    }
    this.traces.set(sip.callId, call);

    if (call.entries.length >= this.maxMessagesPerCall) {
      // Keep the first half (how the call was set up) and a sliding window of the
      // latest messages (how it ended), as a long call's middle is mostly refreshes.
      const head = Math.ceil(this.maxMessagesPerCall / 2);
      const [gone] = call.entries.splice(head, 1);
      const goneCost = gone.text.length + gone.callId.length + ENTRY_OVERHEAD;
      call.bytes -= goneCost;
      this.bytes -= goneCost;
      this.messages--;
      call.dropped++;
    }
    call.entries.push(entry);
    call.bytes += cost;
    this.bytes += cost;
    this.messages++;
    call.lastMs = Math.max(call.lastMs, wallMs);
    noteSummary(call, sip);

    // The call just touched is the last key, so it is evicted only if nothing else is left.
    for (const [id, oldest] of this.traces) {
      if (this.traces.size <= 1) break;
      if (this.traces.size <= this.maxCalls && this.bytes <= this.maxBytes) break;
      this.traces.delete(id);
      this.bytes -= oldest.bytes;
      this.messages -= oldest.entries.length;
    }
    return true;
  }

  /** Calls kept, least recently active first, newest last. */
  calls(): TraceCallSummary[] {
    const out: TraceCallSummary[] = [];
    for (const c of this.traces.values()) {
      out.push({ callId: c.callId, firstMs: c.firstMs, lastMs: c.lastMs, count: c.entries.length, dropped: c.dropped, summary: summaryOf(c) });
    }
    return out;
  }

  /** One call's messages in the order they were recorded (empty if unknown or evicted). */
  get(callId: string): TraceEntry[] {
    const entries = this.traces.get(callId)?.entries ?? [];
    return entries.map((e) => {
      const data = Buffer.allocUnsafeSlow(e.text.length);
      data.write(e.text, 'latin1');
      return {
        callId: e.callId, dir: e.dir, proto: e.proto,
        local: { address: e.localAddress, port: e.localPort },
        remote: { address: e.remoteAddress, port: e.remotePort },
        data, size: e.size, ms: e.ms, wallMs: e.wallMs, sip: e.sip,
      };
    });
  }

  stats(): TraceStats {
    return { calls: this.traces.size, messages: this.messages, bytes: this.bytes };
  }

  clear(): void {
    this.traces.clear();
    this.bytes = 0;
    this.messages = 0;
  }
}

function noteSummary(call: CallTrace, sip: SipPeek): void {
  if (sip.method) {
    if (!call.first) call.first = { method: sip.method, uri: sip.uri, cseq: sip.cseq?.seq };
    return;
  }
  if (!call.fallback) call.fallback = `${sip.status} ${sip.reason}`.trim();
  const first = call.first;
  if (!first || !sip.cseq || sip.cseq.method !== first.method) return;
  if (first.cseq !== undefined && sip.cseq.seq < first.cseq) return;
  // A final answer replaces provisional ones; among finals the first one stands
  // (a later 200 retransmission or a forked 2xx does not change the outcome),
  // except a 401/407 challenge: the retried request's answer is the call's outcome.
  const challenged = (call.answer === 401 || call.answer === 407) && sip.cseq.seq > call.answerCseq;
  if ((call.answer < 200 && sip.status > call.answer) || (challenged && sip.status >= 200)) {
    call.answer = sip.status;
    call.answerCseq = sip.cseq.seq;
  }
}

function summaryOf(call: CallTrace): string {
  if (!call.first) return call.fallback;
  const head = `${call.first.method} ${call.first.uri}`;
  return call.answer ? `${head} → ${call.answer}` : head;
}
