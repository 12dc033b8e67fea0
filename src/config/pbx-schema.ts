/**
 * The PBX half of switchboard.yaml, validated: users' PBX settings, queues,
 * conferences, trunks, outbound routes, calendars, SMTP, fraud limits, and the
 * dialplan as raw steps with their line numbers (voice/dialplan compiles and
 * checks the steps: verbs live above this layer). Read by pbx-load.ts; the
 * defaults below are the ones the README's config table lists.
 */
import type { ListenAddress } from '../util/listen.js';

/** One step as written: `answer`, or `{ dial: {...} }`, with where it was written. */
export interface RawStep {
  /** The verb name as written (`dial`, `goto`, ...). */
  name: string;
  /** The verb's argument: a scalar, a mapping or a list, as parsed from YAML (undefined for a bare word). */
  args: unknown;
  line: number;
  /** Lines of the argument mapping's own keys (`timeout` of `dial: {...}` written over several lines). */
  argLines?: Record<string, number>;
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
  /** Full name (`Alice Archer`): caller ID name (when display_name is not given) and the dial-by-name directory. */
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
  /** Concurrent calls this user may have up: users.N.max_calls, else fraud.user_max_calls (0 = no cap). */
  maxCalls: number;
  /** Outbound calls per minute before the user is blocked: users.N.calls_per_minute, else fraud.user_calls_per_minute (0 = no limit). */
  callsPerMinute: number;
  line: number;
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
  line: number;
}

export interface TrunkConfig {
  name: string;
  /** The carrier's host name or address (SIP URI host). */
  host: string;
  /** 5060 (5061 for TLS) unless given. */
  port: number;
  transport: 'udp' | 'tcp' | 'tls';
  /** Register with these credentials (digest), or undefined for an IP-authenticated peer. */
  register?: { user: string; password: string; expires: number };
  /**
   * Sources (addresses, CIDRs) calls from this trunk come from. Defaults to
   * the host when it is an address; an IP-authenticated peer named by host
   * name must list them. Empty only for a registering trunk named by host
   * name (its calls arrive on its own port, at its registered Contact).
   */
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
  /**
   * Whether calls that came in on this trunk may leave again through an
   * outbound route (trunks.NAME.outbound; off by default: a carrier's caller
   * who reaches a context that dials out is refused, the classic toll-fraud hole).
   */
  outbound: boolean;
  /** Where this trunk's UA listens (own port, so the carrier can reach the registration's Contact); the PBX picks when undefined. */
  listen?: ListenAddress;
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
  line: number;
}

/** One `hours` entry: open on these weekdays (0 = Sunday ... 6 = Saturday) from `from` to `to` (minutes after midnight, `to` exclusive, at most 1440). */
export interface OpenHours {
  days: number[];
  from: number;
  to: number;
}

export interface CalendarConfig {
  name: string;
  /** IANA time zone (the host's when not given). */
  timeZone: string;
  /** Open hours: `mon-fri 09:00-17:00`, `sat 10:00-14:00`. Empty: open every day, all day (except holidays). */
  hours: OpenHours[];
  /** Closed all day: `YYYY-MM-DD` for one date, `MM-DD` for the same date every year. */
  holidays: string[];
  line: number;
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
  /** Default per-user concurrent cap (0 = no cap). */
  userMaxCalls: number;
  /** Default per-user outbound calls per minute (0 = no limit). */
  userCallsPerMinute: number;
  /** Seconds a user over the velocity limit stays blocked from outbound calls. */
  blockSeconds: number;
}

export interface ParkConfig {
  /** Dialled (or transferred to) to park a call: `700`. */
  exten: string;
  /** Slots `first`..`last` (701-720): dialling one takes the call parked there. */
  first: number;
  last: number;
  /** Seconds a parked call waits before it rings back whoever parked it. */
  timeout: number;
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
  park: ParkConfig;
  /** Default music on hold folder (the shipped one when undefined). */
  moh?: string;
  /** Feature codes dialled in a bridged call: blind (`##`) and attended (`*2`) transfer. */
  features: { blindTransfer: string; attendedTransfer: string };
  /** Where a user's calls start when users.N.context is not given (`internal`). */
  defaultContext: string;
}

export const DEFAULT_CONTEXT = 'internal';
/** Where calls from a trunk start unless trunks.NAME.context says otherwise. */
export const DEFAULT_TRUNK_CONTEXT = 'from-trunk';
/** The context made from `park` (Asterisk's name): include it where users may park and retrieve. */
export const PARK_CONTEXT = 'parkedcalls';

export const DEFAULT_FRAUD: FraudConfig = { maxCalls: 0, userMaxCalls: 8, userCallsPerMinute: 10, blockSeconds: 900 };
export const DEFAULT_PARK: ParkConfig = { exten: '700', first: 701, last: 720, timeout: 45 };
export const DEFAULT_FEATURES: PbxConfig['features'] = { blindTransfer: '##', attendedTransfer: '*2' };
export const DEFAULT_VOICEMAIL_MAX_SECONDS = 180;

/** The PBX half of a config that has none: no dialplan, so every call goes phone to phone through the proxy. */
export function defaultPbx(): PbxConfig {
  return {
    users: new Map(),
    queues: new Map(),
    conferences: new Map(),
    trunks: new Map(),
    routes: [],
    calendars: new Map(),
    dialplan: new Map(),
    fraud: { ...DEFAULT_FRAUD },
    park: { ...DEFAULT_PARK },
    features: { ...DEFAULT_FEATURES },
    defaultContext: DEFAULT_CONTEXT,
  };
}
