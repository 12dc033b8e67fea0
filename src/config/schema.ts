/** The validated shape of switchboard.yaml, with every default filled in. */
import type { ListenAddress } from '../util/listen.js';

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
    tls: { cert?: string; key?: string };
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
  trace: { maxCalls: number };
}

export const DEFAULT_TIMERS: SipTimers = { T1: 500, T2: 4000, T4: 5000 };
export const DEFAULT_ADMIN_PORT = 8089;
