/**
 * The PBX half of switchboard.yaml, validated: users' PBX settings, queues,
 * conferences, trunks, outbound routes, calendars, SMTP, fraud limits, and the
 * dialplan as raw steps with their line numbers (voice/dialplan compiles and
 * checks the steps: verbs live above this layer).
 */

/** One step as written: `answer`, or `{ dial: {...} }`, with where it was written. */
export interface RawStep {
  /** The verb name as written (`dial`, `goto`, ...). */
  name: string;
  /** The verb's argument: a scalar, a mapping or a list, as parsed from YAML (undefined for a bare word). */
  args: unknown;
  line: number;
}

export interface RawExtension {
  /** `500`, `s`, `i`, `t`, `_1XXX`, `*98`. */
  pattern: string;
  steps: RawStep[];
  line: number;
}

export interface RawContext {
  name: string;
  include: { name: string; line: number }[];
  extensions: RawExtension[];
  line: number;
}

export interface VoicemailBoxConfig {
  pin: string;
  email?: string;
  /** Longest message, seconds. */
  maxMessageSeconds: number;
}

export interface ForwardConfig {
  always?: string;
  busy?: string;
  noAnswer?: string;
}

export interface UserPbxConfig {
  /** Full name (`Alice Archer`): caller ID name and the dial-by-name directory. */
  name?: string;
  /** Dialplan context the user's calls start in (class of service); `internal` by default. */
  context: string;
  voicemail?: VoicemailBoxConfig;
  forward: ForwardConfig;
  /** Outside number rung beside the phones when the user does not answer within followMeDelay (follow-me). */
  followMe?: string;
  dnd: boolean;
  /** Addresses / CIDRs the user may register and call from; empty = anywhere. */
  allow: string[];
  /** Concurrent calls this user may have up (0 = the global default). */
  maxCalls: number;
  /** Outbound calls per minute before the user is blocked (0 = no limit). */
  callsPerMinute: number;
}

export type QueueStrategy = 'ringall' | 'roundrobin' | 'leastrecent' | 'fewestcalls' | 'random';

export interface QueueConfig {
  name: string;
  strategy: QueueStrategy;
  members: string[];
  /** Seconds a member rings before the next attempt. */
  timeout: number;
  /** Seconds a caller waits at most (0 = no limit). */
  maxWait: number;
  /** Seconds after a call before the member is offered another. */
  wrapUp: number;
  /** Folder of WAVs (the shipped default when omitted). */
  moh?: string;
  /** Seconds between position / expected wait announcements (0 = never). */
  announceEvery: number;
  /** Seconds within which an answered call counts towards the service level. */
  serviceLevel: number;
  /** Raw steps run after max_wait (or when no member is logged in). */
  after: RawStep[];
  line: number;
}

export interface ConferenceConfig {
  name: string;
  pin?: string;
  /** Nobody hears anybody until a leader (pin `leaderPin`, or the `leader` verb flag) joins. */
  waitForLeader: boolean;
  leaderPin?: string;
  /** Record the room to the data directory. */
  record: boolean;
  /** Join and leave tones. */
  tones: boolean;
  maxMembers: number;
}

export interface TrunkConfig {
  name: string;
  /** The carrier's host[:port] (SIP URI host). */
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  /** Register with these credentials (digest), or undefined for an IP-authenticated peer. */
  register?: { user: string; password: string; expires: number };
  /** Sources (addresses, CIDRs) calls from this trunk come from: required for IP peers, checked for all. */
  allow: string[];
  /** Context inbound calls start in. */
  context: string;
  /** DID → context overrides (`+4930123`: `sales`). */
  dids: Map<string, string>;
  /** Codecs offered on this trunk, in order (`PCMA`, `PCMU`, `G722`, `opus`). */
  codecs: string[];
  /** Caller ID sent (E.164) when the caller's own is internal. */
  callerId?: string;
  maxCalls: number;
  /** Where this trunk's UA listens (own port, so the carrier can reach the registration's Contact). */
  listen?: string;
  line: number;
}

export interface OutboundRoute {
  name: string;
  /** Asterisk patterns the dialled number must match (`_0[1-9].`, `_011.`). */
  patterns: string[];
  /** Digits stripped from the front, then `prepend` added: the E.164 form sent. */
  strip: number;
  prepend: string;
  /** Trunks tried in order: the next on 5xx, 408 or no answer from the carrier. */
  trunks: string[];
  /** International / premium: only contexts that include this route's context may use it. */
  line: number;
}

export interface CalendarConfig {
  name: string;
  /** IANA time zone. */
  timeZone: string;
  /** Open hours per weekday: `mon-fri 09:00-17:00`, `sat 10:00-14:00`. */
  hours: { days: number[]; from: number; to: number }[];
  /** `YYYY-MM-DD` dates that are closed all day. */
  holidays: string[];
}

export interface SmtpConfig {
  host: string;
  port: number;
  from: string;
  user?: string;
  password?: string;
  secure: boolean;
}

export interface FraudConfig {
  /** Concurrent calls across the PBX (0 = no cap). */
  maxCalls: number;
  /** Default per-user concurrent cap. */
  userMaxCalls: number;
  /** Default per-user outbound calls per minute. */
  userCallsPerMinute: number;
}

export interface PbxConfig {
  users: Map<string, UserPbxConfig>;
  queues: Map<string, QueueConfig>;
  conferences: Map<string, ConferenceConfig>;
  trunks: Map<string, TrunkConfig>;
  routes: OutboundRoute[];
  calendars: Map<string, CalendarConfig>;
  dialplan: Map<string, RawContext>;
  smtp?: SmtpConfig;
  fraud: FraudConfig;
  /** Park: the code that parks (700) and the slots (701-720). */
  park: { exten: string; first: number; last: number; timeout: number };
  /** Default music on hold folder (the shipped one when undefined). */
  moh?: string;
  /** Feature codes dialled in a bridged call: blind (`##`) and attended (`*2`) transfer. */
  features: { blindTransfer: string; attendedTransfer: string };
  /** Where a user's calls start when users.N.context is not given. */
  defaultContext: string;
  /** Raw text line of each top-level key, for errors raised after parsing. */
  file?: string;
}
