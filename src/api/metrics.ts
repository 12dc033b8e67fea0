/**
 * `GET /metrics` in the Prometheus text format (prom-client). The layers
 * keep plain counters, incremented on their own paths; nothing here runs
 * per packet. At each scrape the composition root takes one snapshot of
 * those counters and the metrics below are set from it.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Everything a scrape reports, read once per scrape. */
export interface MetricsSnapshot {
  sip: {
    /** Parsed requests by method / responses by status, in and out (retransmissions included). */
    requestsIn: Record<string, number>;
    requestsOut: Record<string, number>;
    responsesIn: Record<number, number>;
    responsesOut: Record<number, number>;
    /** Malformed messages by the status they got; 0 = dropped unanswered. */
    malformed: Record<number, number>;
    /** Datagrams, stream messages and connections dropped unread (banned or flooding source). */
    refused: number;
    connections: number;
  };
  transactions: { client: number; server: number };
  dialogs: number;
  calls: { attempted: number; answered: number; failed: number; cancelled: number };
  registrations: { bindings: number; accepted: number; storeFailures: number };
  authFailures: Record<string, number>;
  bans: { active: number; imposed: Record<string, number> };
  /** New work refused at a limit, by limit name. */
  overload: Record<string, number>;
  /** RTP/RTCP datagrams dropped by media endpoints, by reason. */
  mediaDrops: Record<string, number>;
  uncaughtErrors: number;
  /** The PBX, when one runs; keyed by configured names only, so label sets stay bounded. */
  pbx?: PbxMetrics;
  /** Toll-fraud refusals by reason (a closed set), and users blocked by the velocity limit now. */
  fraud?: { refused: Record<string, number>; blockedUsers: number };
  /** Browser legs whose WebRTC media ended them, by reason (a closed set); absent without a ws:/wss: listener. */
  webrtcFailures?: Record<string, number>;
}

export interface PbxMetrics {
  channels: number;
  bridges: number;
  mediaPorts: number;
  parked: number;
  /** Per queue: callers waiting now, and callers who left it since start by how. */
  queues: Record<string, { waiting: number; answered: number; abandoned: number; timeout: number }>;
  /** Participants per configured room. */
  conferences: Record<string, number>;
  /** Messages per configured mailbox: new (unheard) and old (heard or saved). */
  voicemail: Record<string, { new: number; old: number }>;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;
type Sample = [Labels, number];
type Read = (s: MetricsSnapshot) => Sample[];

export class Metrics {
  readonly registry = new Registry();
  /** Set for the duration of one scrape, so every metric reads the same instant. */
  private snapshot: MetricsSnapshot | undefined;

  constructor(private readonly take: () => MetricsSnapshot) {
    const counter = (name: string, help: string, labelNames: string[], read: Read): void => {
      new Counter({ name, help, labelNames, registers: [this.registry], collect: this.collector(read) });
    };
    const gauge = (name: string, help: string, labelNames: string[], read: Read): void => {
      new Gauge({ name, help, labelNames, registers: [this.registry], collect: this.collector(read) });
    };

    counter('switchboard_sip_requests_total', 'SIP requests by method and direction (retransmissions included)', ['method', 'direction'], (s) => [
      ...by('method', s.sip.requestsIn, { direction: 'in' }),
      ...by('method', s.sip.requestsOut, { direction: 'out' }),
    ]);
    counter('switchboard_sip_responses_total', 'SIP responses by status code and direction', ['status', 'direction'], (s) => [
      ...by('status', s.sip.responsesIn, { direction: 'in' }),
      ...by('status', s.sip.responsesOut, { direction: 'out' }),
    ]);
    counter('switchboard_sip_malformed_total', 'Malformed SIP messages by the status they were answered with (0: dropped unanswered)', ['status'], (s) => by('status', s.sip.malformed));
    counter('switchboard_sip_refused_total', 'Messages and connections dropped unread because their source is banned or flooding', [], (s) => one(s.sip.refused));
    gauge('switchboard_sip_connections', 'Open TCP/TLS connections', [], (s) => one(s.sip.connections));
    gauge('switchboard_sip_transactions', 'SIP transactions in progress', ['side'], (s) => by('side', { client: s.transactions.client, server: s.transactions.server }));
    gauge('switchboard_dialogs', 'Calls (INVITE dialogs) up through the proxy', [], (s) => one(s.dialogs));
    counter('switchboard_calls_attempted_total', 'Initial INVITEs routed', [], (s) => one(s.calls.attempted));
    counter('switchboard_calls_answered_total', 'Calls answered (a 2xx to an initial INVITE)', [], (s) => one(s.calls.answered));
    counter('switchboard_calls_failed_total', 'Calls that ended with a final failure response (cancelled calls not included)', [], (s) => one(s.calls.failed));
    counter('switchboard_calls_cancelled_total', 'Calls the caller cancelled before an answer', [], (s) => one(s.calls.cancelled));
    gauge('switchboard_registrations', 'Registered contacts (bindings) in the location table', [], (s) => one(s.registrations.bindings));
    counter('switchboard_registrations_total', 'REGISTER requests accepted', [], (s) => one(s.registrations.accepted));
    counter('switchboard_registration_store_failures_total', 'REGISTERs answered 500 because the database refused the write', [], (s) => one(s.registrations.storeFailures));
    counter('switchboard_auth_failures_total', 'Failed digest authentications (wrong password or unknown user) by method', ['method'], (s) =>
      by('method', { REGISTER: 0, INVITE: 0, ...s.authFailures }),
    );
    gauge('switchboard_bans', 'Source addresses banned now', [], (s) => one(s.bans.active));
    counter('switchboard_bans_total', 'Bans imposed by reason', ['reason'], (s) => by('reason', s.bans.imposed));
    counter('switchboard_overload_rejected_total', 'New requests refused with 503 at a limit, by limit', ['limit'], (s) => by('limit', s.overload));
    counter('switchboard_media_dropped_total', 'RTP/RTCP datagrams dropped, by reason', ['reason'], (s) => by('reason', s.mediaDrops));
    counter('switchboard_fraud_refused_total', 'Calls and registrations refused by the toll-fraud guard, by reason', ['reason'], (s) =>
      Object.entries(s.fraud?.refused ?? {}).map(([reason, n]): Sample => [{ reason }, n]),
    );
    gauge('switchboard_fraud_blocked_users', 'Users blocked now for calling out too fast', [], (s) => one(s.fraud?.blockedUsers ?? 0));
    counter('switchboard_webrtc_failures_total', 'Browser (WebRTC) legs ended by their media or transport: connect-timeout, fingerprint-mismatch, consent-lost, flow-closed ...', ['reason'], (s) =>
      by('reason', s.webrtcFailures ?? {}),
    );
    gauge('switchboard_pbx_channels', 'PBX legs (channels) up or ringing', [], (s) => one(s.pbx?.channels ?? 0));
    gauge('switchboard_pbx_bridges', 'Pairs of PBX legs bridged to each other', [], (s) => one(s.pbx?.bridges ?? 0));
    gauge('switchboard_pbx_media_ports', 'RTP sessions the PBX has open', [], (s) => one(s.pbx?.mediaPorts ?? 0));
    gauge('switchboard_pbx_parked_calls', 'Calls waiting in a park slot', [], (s) => one(s.pbx?.parked ?? 0));
    gauge('switchboard_pbx_queue_waiting', 'Callers waiting in a queue', ['queue'], (s) =>
      Object.entries(s.pbx?.queues ?? {}).map(([queue, q]): Sample => [{ queue }, q.waiting]),
    );
    counter('switchboard_pbx_queue_calls_total', 'Callers who left a queue, by how: answered by a member, abandoned (hung up), timeout (max_wait)', ['queue', 'result'], (s) =>
      Object.entries(s.pbx?.queues ?? {}).flatMap(([queue, q]) => by('result', { answered: q.answered, abandoned: q.abandoned, timeout: q.timeout }, { queue })),
    );
    gauge('switchboard_pbx_conference_participants', 'Participants in a conference room', ['room'], (s) =>
      Object.entries(s.pbx?.conferences ?? {}).map(([room, n]): Sample => [{ room }, n]),
    );
    gauge('switchboard_pbx_voicemail_messages', 'Voicemail messages in a mailbox: new (unheard) and old (heard or saved)', ['mailbox', 'folder'], (s) =>
      Object.entries(s.pbx?.voicemail ?? {}).flatMap(([mailbox, c]) => by('folder', { new: c.new, old: c.old }, { mailbox })),
    );
    counter('switchboard_uncaught_errors_total', 'Errors that escaped every handler (bugs); the server kept running', [], (s) => one(s.uncaughtErrors));
  }

  /** The text a scrape gets. */
  async render(): Promise<string> {
    this.snapshot = this.take();
    try {
      // The process's series first, then the server's: each family appears once, as the format wants.
      return (await processRegistry().metrics()) + (await this.registry.metrics());
    } finally {
      this.snapshot = undefined;
    }
  }

  /** prom-client calls a metric's collect() at scrape time: it refills the metric from the snapshot. */
  private collector(read: Read): (this: Counter | Gauge) => void {
    const current = (): MetricsSnapshot | undefined => this.snapshot;
    return function collect(this: Counter | Gauge): void {
      const snap = current();
      if (!snap) return;
      this.reset();
      for (const [labels, value] of read(snap)) {
        if (this instanceof Gauge) this.set(labels, value);
        else this.inc(labels, value);
      }
    };
  }
}

let processMetrics: Registry | undefined;

/**
 * Event-loop lag, heap, GC, CPU, open handles: the standard process_* and
 * nodejs_* set. One per process: each collection starts a GC observer and an
 * event-loop monitor that are never stopped, so servers started and closed in
 * one process (tests, benches) share it rather than pile them up.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

function one(value: number): Sample[] {
  return [[{}, value]];
}

function by(label: string, values: Record<string | number, number>, fixed: Labels = {}): Sample[] {
  return Object.entries(values).map(([k, v]) => [{ ...fixed, [label]: k }, v]);
}
