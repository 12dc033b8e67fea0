/**
 * Reads and validates switchboard.yaml (the PBX half: pbx-load.ts). Every error names the file, the line
 * and the key, because a user fixing a config reads nothing else.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, LineCounter, parseDocument } from 'yaml';
import { parseListen } from '../util/listen.js';
import { hostAddress, localAddresses } from '../util/net.js';
import { isAddressOrCidr } from './address.js';
import { passwordWeakness } from './passwords.js';
import { PBX_TOP_KEYS, readPbx, USER_PBX_KEYS } from './pbx-load.js';
import { ConfigError, Reader } from './reader.js';
import { readWebRtc } from './webrtc-load.js';
import {
  DEFAULT_ADMIN_PORT, DEFAULT_BAN, DEFAULT_LIMITS, DEFAULT_TIMERS, LOG_LEVELS,
  type BanPolicy, type ClientCertMode, type Config, type LogLevel, type PikePolicy, type UserConfig,
} from './schema.js';

export { ConfigError } from './reader.js';
export { isAddressOrCidr } from './address.js';

const TOP_KEYS = new Set(['domain', 'aliases', 'sip', 'admin', 'data', 'users', 'trace', 'log', 'security', 'limits', 'webrtc', ...PBX_TOP_KEYS]);
const SIP_KEYS = new Set([
  'listen', 'advertise', 'timers', 'tls', 'min_expires', 'max_expires', 'default_expires', 'max_contacts',
  'timer_c', 'auth_algorithms',
]);
const USER_KEYS = new Set(['password', 'ha1', 'ha1_sha256', 'display_name', ...USER_PBX_KEYS]);

/** `domain: auto`: this host's address, found at each start (the demo office's domain). */
export const AUTO_DOMAIN = 'auto';

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read config ${file}: ${(err as Error).message}. Check the path given to --config.`);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  // Duplicate keys are found by Reader.keys(): the parser's own check is quadratic (1.5 s for 10,000 users).
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? 1;
    throw new ConfigError(file, line, '(yaml)', e.message.split('\n')[0]);
  }
  const r: Reader = new Reader(file, doc, lines);
  r.keys([], TOP_KEYS);
  const written = r.string(['domain']);
  if (!written) r.fail(['domain'], 'required: the SIP domain users register to, e.g. "domain: 127.0.0.1" or "domain: sip.example.com"');
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(written)) r.fail(['domain'], `not a host name or address: ${JSON.stringify(written)}`);
  const auto = written === AUTO_DOMAIN;
  const domain = auto ? hostAddress() : written;
  const aliases = (r.list(['aliases']) ?? []).map((a, i) => r.string(['aliases', i]) ?? String(a));
  // With an address found at start, every address of this host (and localhost) also means "us".
  if (auto) for (const a of localAddresses()) if (!aliases.includes(a)) aliases.push(a);

  r.keys(['sip'], SIP_KEYS);
  const listenSpecs = r.list(['sip', 'listen']) ?? ['udp:0.0.0.0:5060', 'tcp:0.0.0.0:5060', 'tls:0.0.0.0:5061'];
  const listen = listenSpecs.map((spec, i) => {
    if (typeof spec !== 'string') r.fail(['sip', 'listen', i], 'expected "proto:address:port", e.g. udp:127.0.0.1:5060');
    try {
      return parseListen(spec);
    } catch (err) {
      return r.fail(['sip', 'listen', i], (err as Error).message);
    }
  });
  if (listen.length === 0) r.fail(['sip', 'listen'], 'needs at least one address, e.g. - udp:127.0.0.1:5060');
  r.keys(['sip', 'timers'], new Set(['t1', 't2', 't4', 'T1', 'T2', 'T4']));
  const t1 = r.int(['sip', 'timers', 'T1'], r.int(['sip', 'timers', 't1'], DEFAULT_TIMERS.T1, 10, 60_000), 10, 60_000);
  const t2 = r.int(['sip', 'timers', 'T2'], r.int(['sip', 'timers', 't2'], DEFAULT_TIMERS.T2, t1, 600_000), t1, 600_000);
  const t4 = r.int(['sip', 'timers', 'T4'], r.int(['sip', 'timers', 't4'], DEFAULT_TIMERS.T4, 10, 600_000), 10, 600_000);
  r.keys(['sip', 'tls'], new Set(['cert', 'key', 'ca', 'verify', 'client_certs']));
  const cert = r.string(['sip', 'tls', 'cert']);
  const key = r.string(['sip', 'tls', 'key']);
  if ((cert === undefined) !== (key === undefined)) r.fail(['sip', 'tls'], 'give both cert and key, or neither (a self-signed certificate is made)');
  const ca = r.strings(['sip', 'tls', 'ca']).map((f) => resolvePath(f));
  const verify = r.bool(['sip', 'tls', 'verify'], true);
  const clientCerts = r.choice<ClientCertMode>(['sip', 'tls', 'client_certs'], ['none', 'request', 'require'], 'none');
  const algos = (r.list(['sip', 'auth_algorithms']) ?? ['MD5']).map((a, i) => {
    if (a !== 'SHA-256' && a !== 'MD5') r.fail(['sip', 'auth_algorithms', i], 'expected SHA-256 or MD5');
    return a;
  });
  const minExpires = r.int(['sip', 'min_expires'], 60, 1, 86_400);
  const maxExpires = r.int(['sip', 'max_expires'], 7200, minExpires, 604_800);

  r.keys(['admin'], new Set(['listen']));
  const adminSpec = r.string(['admin', 'listen'], `127.0.0.1:${DEFAULT_ADMIN_PORT}`) as string;
  const adminListen = parseHostPort(adminSpec);
  if (!adminListen) r.fail(['admin', 'listen'], `expected address:port, e.g. 127.0.0.1:${DEFAULT_ADMIN_PORT}`);

  const dataDir = r.string(['data'], './data') as string;
  const users = new Map<string, UserConfig>();
  for (const { key: name, keyNode, value } of r.entries(['users'])) {
    if (!/^[A-Za-z0-9._~+-]+$/.test(name)) r.fail(['users', name], 'user names may hold letters, digits and . _ ~ + - only', keyNode);
    if (!isMap(value)) r.fail(['users', name], 'expected a mapping, e.g. { password: "..." }', value ?? keyNode);
    const u: Reader = r.at(['users', name], value);
    u.keys([], USER_KEYS);
    const password = u.string(['password']);
    const ha1md5 = u.string(['ha1']);
    const ha1sha = u.string(['ha1_sha256']);
    if (password === undefined && ha1md5 === undefined && ha1sha === undefined) {
      u.fail([], 'needs password (or ha1 / ha1_sha256)');
    }
    const weakness = password === undefined ? undefined : passwordWeakness(name, password);
    if (weakness) u.fail(['password'], weakness);
    if (ha1md5 !== undefined && !/^[0-9a-f]{32}$/i.test(ha1md5)) u.fail(['ha1'], 'expected 32 hex digits (MD5 of user:realm:password)');
    if (ha1sha !== undefined && !/^[0-9a-f]{64}$/i.test(ha1sha)) u.fail(['ha1_sha256'], 'expected 64 hex digits');
    const ha1: UserConfig['ha1'] = {};
    if (ha1md5) ha1.MD5 = ha1md5.toLowerCase();
    if (ha1sha) ha1['SHA-256'] = ha1sha.toLowerCase();
    // The full name is the caller ID name too, unless a display name is given.
    users.set(name, { password, ha1, displayName: u.string(['display_name']) ?? u.string(['name'])?.trim() });
  }
  r.keys(['trace'], new Set(['max_calls']));
  r.keys(['log'], new Set(['level']));
  const logLevel = r.choice<LogLevel>(['log', 'level'], LOG_LEVELS, 'info');
  const security = readSecurity(r);
  r.keys(['limits'], new Set(['max_transactions', 'max_dialogs', 'max_trace_calls', 'heap_watermark_mb']));
  // trace.max_calls is the older spelling of limits.max_trace_calls.
  const traceCalls = r.int(['trace', 'max_calls'], DEFAULT_LIMITS.maxTraceCalls, 1, 100_000);
  const pbx = readPbx(r, new Set(users.keys()));

  return {
    file,
    domain,
    aliases,
    sip: {
      listen,
      advertise: r.string(['sip', 'advertise']) ?? (auto ? domain : undefined),
      timers: { T1: t1, T2: t2, T4: t4 },
      tls: { cert: cert && resolvePath(cert), key: key && resolvePath(key), ca, verify, clientCerts },
      minExpires,
      maxExpires,
      defaultExpires: r.int(['sip', 'default_expires'], 3600, minExpires, maxExpires),
      maxContacts: r.int(['sip', 'max_contacts'], 10, 1, 100),
      timerC: r.int(['sip', 'timer_c'], 180, 10, 3600),
      authAlgorithms: algos as ('SHA-256' | 'MD5')[],
    },
    admin: { listen: adminListen },
    data: resolvePath(dataDir),
    users,
    log: { level: logLevel },
    security,
    limits: {
      maxTransactions: r.int(['limits', 'max_transactions'], DEFAULT_LIMITS.maxTransactions, 100, 10_000_000),
      maxDialogs: r.int(['limits', 'max_dialogs'], DEFAULT_LIMITS.maxDialogs, 10, 10_000_000),
      maxTraceCalls: r.int(['limits', 'max_trace_calls'], traceCalls, 1, 100_000),
      heapWatermarkMb: r.int(['limits', 'heap_watermark_mb'], DEFAULT_LIMITS.heapWatermarkMb, 0, 1_000_000),
    },
    webrtc: readWebRtc(r, listen),
    pbx,
  };
}

function readSecurity(r: Reader): Config['security'] {
  r.keys(['security'], new Set(['ban', 'pike', 'allow']));
  let ban: BanPolicy | undefined = { ...DEFAULT_BAN };
  const banState = r.optionalSection(['security', 'ban']);
  if (banState === 'off') ban = undefined;
  else if (banState === 'present') {
    r.keys(['security', 'ban'], new Set(['max_failures', 'find_time', 'ban_time']));
    ban = {
      maxFailures: r.int(['security', 'ban', 'max_failures'], DEFAULT_BAN.maxFailures, 1, 1_000_000),
      findTime: r.int(['security', 'ban', 'find_time'], DEFAULT_BAN.findTime, 1, 86_400 * 30),
      banTime: r.int(['security', 'ban', 'ban_time'], DEFAULT_BAN.banTime, 1, 86_400 * 365),
    };
  }
  let pike: PikePolicy | undefined;
  if (r.optionalSection(['security', 'pike']) === 'present') {
    r.keys(['security', 'pike'], new Set(['requests_per_second', 'burst', 'ban_time']));
    const rps = r.get(['security', 'pike', 'requests_per_second']);
    if (rps === undefined || rps === null) {
      r.fail(['security', 'pike', 'requests_per_second'], 'required: the steady rate one address may send, e.g. requests_per_second: 100');
    }
    const requestsPerSecond = r.int(['security', 'pike', 'requests_per_second'], 0, 1, 10_000_000);
    pike = {
      requestsPerSecond,
      burst: r.int(['security', 'pike', 'burst'], requestsPerSecond * 2, 1, 100_000_000),
      banTime: r.int(['security', 'pike', 'ban_time'], 60, 1, 86_400 * 365),
    };
  }
  const allow = r.strings(['security', 'allow']);
  allow.forEach((a, i) => {
    if (!isAddressOrCidr(a)) r.fail(['security', 'allow', i], `expected an IP address or a CIDR block such as 10.0.0.0/8, got ${JSON.stringify(a)}`);
  });
  return { ban, pike, allow };
}

/** Relative paths in a config file are relative to the directory the user ran from, as in the README example. */
function resolvePath(p: string): string {
  return path.resolve(p);
}

export function parseHostPort(spec: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(spec.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { address: m[1] ?? m[2], port };
}
