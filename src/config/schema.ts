/** The validated shape of switchboard.yaml, with every default filled in. */
import type { ListenAddress } from '../util/listen.js';
import { defaultPbx, type PbxConfig } from './pbx-schema.js';

export interface UserConfig {
  /** Plain-text password, or undefined when only HA1 hashes are configured. */
  password?: string;
  ha1?: { MD5?: string; 'SHA-256'?: string };
  displayName?: string;
}

export interface SipTimers {
  T1: number;
  T2: number;
  T4: number;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** fail2ban's jail: `maxFailures` failed digest logins within `findTime` seconds ban the source for `banTime` seconds. */
export interface BanPolicy {
  maxFailures: number;
  findTime: number;
  banTime: number;
}

/** Kamailio's pike: more than `burst` messages above a steady `requestsPerSecond` ban the source for `banTime` seconds. */
export interface PikePolicy {
  requestsPerSecond: number;
  burst: number;
  banTime: number;
}

export interface SecurityConfig {
  /** Undefined: failed logins never ban. */
  ban?: BanPolicy;
  /** Undefined: no flood detection. */
  pike?: PikePolicy;
  /** Addresses and CIDR blocks (`10.0.0.0/8`, `::1`) that are never banned. */
  allow: string[];
}

/** Where the server stops taking new work (503 + Retry-After) before it runs out of memory. */
export interface LimitsConfig {
  maxTransactions: number;
  maxDialogs: number;
  /** Calls whose SIP messages are kept for `switchboard trace`. */
  maxTraceCalls: number;
  /** Heap in use (MB) above which new work is refused; 0 = 85% of V8's heap limit. */
  heapWatermarkMb: number;
}

export type ClientCertMode = 'none' | 'request' | 'require';

export interface TlsConfig {
  cert?: string;
  key?: string;
  /** Extra CA certificates (PEM files) trusted beside the system store. */
  ca: string[];
  /** Verify the certificates of TLS next hops (and of clients, when asked for). */
  verify: boolean;
  /** Whether inbound TLS asks phones for a certificate. */
  clientCerts: ClientCertMode;
}

export interface Config {
  /** The file it came from, or undefined for the built-in demo. */
  file?: string;
  domain: string;
  /** Other names and addresses that also mean "us" in a Request-URI. */
  aliases: string[];
  sip: {
    listen: ListenAddress[];
    /** Address written into Via and Record-Route when listening on a wildcard address. */
    advertise?: string;
    timers: SipTimers;
    tls: TlsConfig;
    /** Registration limits (seconds). */
    minExpires: number;
    maxExpires: number;
    defaultExpires: number;
    maxContacts: number;
    /** Timer C (RFC 3261 §16.6 step 11), seconds. */
    timerC: number;
    /** Digest algorithms offered, in order of preference. */
    authAlgorithms: ('SHA-256' | 'MD5')[];
  };
  admin: { listen: { address: string; port: number } };
  data: string;
  users: Map<string, UserConfig>;
  log: { level: LogLevel };
  security: SecurityConfig;
  limits: LimitsConfig;
  /** The WebRTC gateway (browsers over ws:/wss: listeners). */
  webrtc: WebRtcSettings;
  /** Users' PBX settings, queues, conferences, trunks, routes, calendars, the raw dialplan (pbx-schema.ts). */
  pbx: PbxConfig;
}

/** A STUN or TURN server handed to the browser phone. */
export interface IceServerConfig {
  urls: string[];
  username?: string;
  credential?: string;
  /** coturn's static-auth-secret: the page gets TURN REST credentials valid for `ttl` seconds. */
  secret?: string;
  ttl: number;
}

export interface WebRtcSettings {
  /**
   * Anchor browsers' calls in the B2BUA (ICE, DTLS-SRTP, transcoding). false:
   * SIP over WebSocket is only proxied, as Kamailio without rtpengine does,
   * for browsers that call WebRTC-capable endpoints.
   */
  gateway: boolean;
  /** Addresses our ICE host candidates name (never every interface). */
  rtpAddresses: string[];
  iceServers: IceServerConfig[];
  /** Calls between two browsers: media straight between them, or through us. */
  browserToBrowser: 'direct' | 'anchored';
  /** `relay` makes browsers use only TURN relays (the page's RTCPeerConnection iceTransportPolicy). */
  iceTransportPolicy: 'all' | 'relay';
  rtpPorts?: { min: number; max: number };
  /** ICE + DTLS must be up this long (ms) after offer and answer are known, or the leg fails (connect_timeout, s). */
  connectTimeoutMs: number;
  /** Nothing heard from a connected browser (media, consent responses) this long (ms) ends the leg (consent_timeout, s). */
  consentTimeoutMs: number;
}

export const DEFAULT_TIMERS: SipTimers = { T1: 500, T2: 4000, T4: 5000 };
export const DEFAULT_ADMIN_PORT = 8089;

export const DEFAULT_BAN: BanPolicy = { maxFailures: 10, findTime: 600, banTime: 3600 };

/**
 * maxTransactions: a transaction costs about 1 to 2 KB of heap while it waits
 * out Timers J/L (bench:proxy --memory), so 500,000 stay well under the heap
 * watermark, and the bench's REGISTER steps (up to 160,000 transactions a
 * step at 20,000/s) are never throttled.
 */
export const DEFAULT_LIMITS: LimitsConfig = {
  maxTransactions: 500_000,
  maxDialogs: 100_000,
  maxTraceCalls: 500,
  heapWatermarkMb: 0,
};

/** The sections every config has, as they are when the file does not mention them. */
export function defaultSections(): Pick<Config, 'log' | 'security' | 'limits' | 'pbx' | 'webrtc'> {
  return {
    log: { level: 'info' },
    security: { ban: { ...DEFAULT_BAN }, allow: [] },
    limits: { ...DEFAULT_LIMITS },
    pbx: defaultPbx(),
    webrtc: { gateway: true, rtpAddresses: [], iceServers: [], browserToBrowser: 'direct', iceTransportPolicy: 'all', connectTimeoutMs: 15_000, consentTimeoutMs: 30_000 },
  };
}

export function defaultTls(): TlsConfig {
  return { ca: [], verify: true, clientCerts: 'none' };
}
