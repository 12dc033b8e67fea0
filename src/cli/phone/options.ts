/**
 * `switchboard phone` flags, checked before anything is opened so a typo
 * is reported with what to write instead (the user-facing contract is in
 * the README).
 */
import { isIP } from 'node:net';
import { CODEC_NAMES, type CodecName } from '../../media/codecs/registry.js';
import { defaultPort } from '../../sip/resolve.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface PhoneOptions {
  server?: HostPort;
  user?: string;
  password?: string;
  /** Where our SIP socket binds. */
  listen: HostPort;
  /** SIP over UDP (default), TCP or TLS. */
  transport: 'udp' | 'tcp' | 'tls';
  codecs: CodecName[];
  play: string;
  record?: string;
  speaker: boolean;
  srtp: boolean;
  durationS?: number;
  dtmf?: string;
  stats: boolean;
  stun?: HostPort;
  traceSip: boolean;
  autoAnswer: boolean;
  calls?: number;
  expires: number;
  /** PEM file of a CA (or the server's own certificate) trusted beside the system store for TLS. */
  ca?: string;
  /** TLS without checking the server's certificate. */
  insecure: boolean;
}

/** What commander hands us (all strings, as typed). */
export interface RawPhoneOptions {
  server?: string;
  user?: string;
  password?: string;
  listen?: string;
  codec?: string;
  play?: string;
  record?: string;
  speaker?: boolean;
  srtp?: boolean;
  transport?: string;
  duration?: string;
  dtmf?: string;
  stats?: boolean;
  stun?: string;
  traceSip?: boolean;
  autoAnswer?: boolean;
  calls?: string;
  expires?: string;
  ca?: string;
  insecure?: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `HOST:PORT`, `[v6]:PORT`, or a bare host with `defaultPort`. */
export function parseHostPort(flag: string, text: string, defaultPort?: number): HostPort {
  const bad = () =>
    new UsageError(`${flag} ${text}: expected HOST:PORT, e.g. ${flag} 127.0.0.1:5060${defaultPort ? ' (the port defaults to ' + defaultPort + ')' : ''}`);
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const parts = text.split(':');
    if (parts.length > 2) throw bad();
    host = parts[0];
    portText = parts[1];
  }
  if (!host || !/^[\w.:-]+$/.test(host)) throw bad();
  if (portText === undefined) {
    if (defaultPort === undefined) throw bad();
    return { host, port: defaultPort };
  }
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) throw bad();
  return { host, port };
}

const DTMF_KEYS = /^[0-9*#A-Da-d]+$/;

export function parsePhoneOptions(raw: RawPhoneOptions, mode: 'call' | 'listen' | 'register'): PhoneOptions {
  const transport = parseTransport(raw.transport, raw.stun !== undefined);
  const server = raw.server === undefined ? undefined : parseHostPort('--server', raw.server, defaultPort(transport));
  if (server && (raw.user === undefined || raw.password === undefined)) {
    throw new UsageError('--server needs --user and --password (the account to register), e.g. --server 127.0.0.1:5060 --user 1001 --password secret');
  }
  if (!server && mode === 'register') {
    throw new UsageError('phone register needs --server HOST:PORT --user U --password P, e.g. --server 127.0.0.1:5060 --user 1001 --password secret');
  }
  if (!server && (raw.user !== undefined || raw.password !== undefined) && mode !== 'call') {
    throw new UsageError('--user/--password go with --server (the registrar to use), e.g. --server 127.0.0.1:5060 --user 1001 --password secret');
  }
  const listen = parseHostPort('--listen', raw.listen ?? '127.0.0.1:0');
  if (isIP(listen.host) === 0) throw new UsageError(`--listen ${raw.listen}: use an IP address of this machine, e.g. --listen 127.0.0.1:5074`);

  let codecs: CodecName[] = [...CODEC_NAMES];
  if (raw.codec !== undefined) {
    const names = raw.codec.toLowerCase().split(',');
    for (const n of names) {
      if (!(CODEC_NAMES as readonly string[]).includes(n)) {
        throw new UsageError(`--codec ${raw.codec}: unknown codec "${n}"; choose from ${CODEC_NAMES.join(', ')} (a list sets the preference), e.g. --codec opus,pcmu`);
      }
    }
    // A name given twice would put its payload type twice on the m= line.
    codecs = [...new Set(names)] as CodecName[];
  }

  let durationS: number | undefined;
  if (raw.duration !== undefined) {
    durationS = Number(raw.duration);
    if (!(durationS > 0) || durationS > 86400) throw new UsageError(`--duration ${raw.duration}: give the call length in seconds, e.g. --duration 10`);
  }
  if (raw.dtmf !== undefined && !DTMF_KEYS.test(raw.dtmf)) {
    throw new UsageError(`--dtmf ${raw.dtmf}: DTMF keys are 0-9 * # A-D, e.g. --dtmf 1234#`);
  }
  let calls: number | undefined;
  if (raw.calls !== undefined) {
    calls = Number(raw.calls);
    if (!Number.isInteger(calls) || calls < 1) throw new UsageError(`--calls ${raw.calls}: give a whole number of calls to answer, e.g. --calls 1`);
  }
  if (raw.ca !== undefined || raw.insecure) {
    const flag = raw.ca !== undefined ? `--ca ${raw.ca}` : '--insecure';
    if (transport !== 'tls') throw new UsageError(`${flag} is about the server's TLS certificate: use it with --transport tls, e.g. --transport tls --ca ca.pem`);
    if (raw.ca !== undefined && raw.insecure) {
      throw new UsageError('--ca and --insecure contradict each other: choose one, e.g. --ca ca.pem (trust that CA, check the certificate) or --insecure (check nothing)');
    }
    if (raw.ca === '') throw new UsageError('--ca needs a PEM file, e.g. --ca ca.pem');
  }
  const expires = raw.expires === undefined ? 3600 : Number(raw.expires);
  if (!Number.isInteger(expires) || expires < 10) throw new UsageError(`--expires ${raw.expires}: registration lifetime in seconds (at least 10), e.g. --expires 600`);

  return {
    server,
    user: raw.user,
    password: raw.password,
    listen,
    codecs,
    play: raw.play ?? (mode === 'listen' ? 'tone:1000' : 'tone:440'),
    record: raw.record,
    speaker: raw.speaker ?? false,
    srtp: raw.srtp ?? false,
    transport,
    durationS,
    dtmf: raw.dtmf?.toUpperCase(),
    stats: raw.stats ?? false,
    stun: raw.stun === undefined ? undefined : parseHostPort('--stun', raw.stun, 3478),
    traceSip: raw.traceSip ?? false,
    autoAnswer: raw.autoAnswer ?? false,
    calls,
    expires,
    ca: raw.ca,
    insecure: raw.insecure ?? false,
  };
}

function parseTransport(text: string | undefined, stun: boolean): 'udp' | 'tcp' | 'tls' {
  const t = (text ?? 'udp').toLowerCase();
  if (t !== 'udp' && t !== 'tcp' && t !== 'tls') throw new UsageError(`--transport ${text}: SIP goes over udp, tcp or tls, e.g. --transport tcp`);
  // A STUN mapping is for a UDP port; a TCP connection's public side is the NAT's business.
  if (t !== 'udp' && stun) throw new UsageError('--stun works with --transport udp only (a TCP or TLS connection needs no mapped address)');
  return t;
}
