/**
 * Reads and validates switchboard.yaml. Every error names the file, the line
 * and the key, because a user fixing a config reads nothing else.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { parseListen } from '../util/listen.js';
import { isIP } from 'node:net';
import {
  DEFAULT_ADMIN_PORT, DEFAULT_BAN, DEFAULT_LIMITS, DEFAULT_TIMERS, LOG_LEVELS,
  type BanPolicy, type ClientCertMode, type Config, type LogLevel, type PikePolicy, type UserConfig,
} from './schema.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly key: string,
    detail: string,
  ) {
    super(`${file}:${line}: ${key}: ${detail}`);
    this.name = 'ConfigError';
  }
}

const TOP_KEYS = new Set(['domain', 'aliases', 'sip', 'admin', 'data', 'users', 'trace', 'log', 'security', 'limits']);
const SIP_KEYS = new Set([
  'listen', 'advertise', 'timers', 'tls', 'min_expires', 'max_expires', 'default_expires', 'max_contacts',
  'timer_c', 'auth_algorithms',
]);
const USER_KEYS = new Set(['password', 'ha1', 'ha1_sha256', 'display_name']);

/** Something values can be looked up in by path: the whole document or one mapping inside it. */
interface Root {
  getIn(path: Iterable<unknown>, keepScalar?: boolean): unknown;
}

class Reader {
  constructor(
    readonly file: string,
    private readonly root: Root,
    private readonly lines: LineCounter,
    /** Path of `root` in the document, so errors name the full key. */
    private readonly prefix: (string | number)[] = [],
    private readonly rootNode?: Node,
  ) {}

  /** A reader for the mapping at `keyPath`: lookups inside it no longer scan its parents. */
  at(keyPath: (string | number)[], node: Node): Reader {
    return new Reader(this.file, node as unknown as Root, this.lines, [...this.prefix, ...keyPath], node);
  }

  fail(keyPath: (string | number)[], detail: string, at?: Node): never {
    const node = at ?? (this.node(keyPath) as Node | undefined);
    let line = 1;
    const offset = node?.range?.[0];
    if (offset !== undefined) line = this.lines.linePos(offset).line;
    else if (keyPath.length > 0) {
      const parent = this.node(keyPath.slice(0, -1)) as Node | undefined;
      if (parent?.range) line = this.lines.linePos(parent.range[0]).line;
    }
    throw new ConfigError(this.file, line, [...this.prefix, ...keyPath].join('.'), detail);
  }

  private node(keyPath: (string | number)[]): unknown {
    if (keyPath.length === 0) return this.rootNode ?? (this.root as unknown as Document).contents;
    return this.root.getIn(keyPath, true);
  }

  get(keyPath: (string | number)[]): unknown {
    return this.root.getIn(keyPath);
  }

  string(keyPath: (string | number)[], def?: string): string | undefined {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string') this.fail(keyPath, `expected a string, got ${describe(v)}`);
    return v;
  }

  int(keyPath: (string | number)[], def: number, min: number, max: number): number {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(keyPath, `expected a whole number, got ${describe(v)}`);
    if (v < min || v > max) this.fail(keyPath, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }

  keys(keyPath: (string | number)[], allowed: Set<string>): string[] {
    const node = this.node(keyPath);
    if (node === undefined || node === null) return [];
    if (!isMap(node)) this.fail(keyPath, 'expected a mapping (key: value)');
    const out: string[] = [];
    const seen = new Set<string>();
    for (const item of node.items) {
      const k = isScalar(item.key) ? String(item.key.value) : String(item.key);
      if (seen.has(k)) this.fail([...keyPath, k], 'duplicate key: it is given twice in this mapping', item.key as Node);
      seen.add(k);
      if (allowed.size && !allowed.has(k)) {
        this.fail([...keyPath, k], `unknown key; expected one of ${[...allowed].join(', ')}`, item.key as Node);
      }
      out.push(k);
    }
    return out;
  }

  bool(keyPath: (string | number)[], def: boolean): boolean {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(keyPath, `expected true or false, got ${describe(v)}`);
    return v;
  }

  /** One of a fixed set of words. */
  choice<T extends string>(keyPath: (string | number)[], allowed: readonly T[], def: T): T {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(keyPath, `expected one of ${allowed.join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  }

  /** A mapping that may also be written `false` or `off` to turn the feature off; undefined when off. */
  optionalSection(keyPath: (string | number)[]): 'off' | 'absent' | 'present' {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return 'absent';
    if (v === false || v === 'off') return 'off';
    return 'present';
  }

  /** A string or a list of strings. */
  strings(keyPath: (string | number)[]): string[] {
    const v = this.get(keyPath);
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return [v];
    return (this.list(keyPath) ?? []).map((_, i) => this.string([...keyPath, i]) as string);
  }

  list(keyPath: (string | number)[]): unknown[] | undefined {
    const node = this.node(keyPath);
    if (node === undefined || node === null) return undefined;
    if (!isSeq(node)) this.fail(keyPath, 'expected a list (- item)');
    return node.toJSON() as unknown[];
  }
}

function describe(v: unknown): string {
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

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
  const domain = r.string(['domain']);
  if (!domain) r.fail(['domain'], 'required: the SIP domain users register to, e.g. "domain: 127.0.0.1" or "domain: sip.example.com"');
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(domain)) r.fail(['domain'], `not a host name or address: ${JSON.stringify(domain)}`);
  const aliases = (r.list(['aliases']) ?? []).map((a, i) => r.string(['aliases', i]) ?? String(a));

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
  r.keys(['users'], new Set()); // shape and duplicates
  const usersNode = doc.get('users', true);
  for (const item of isMap(usersNode) ? usersNode.items : []) {
    const name = isScalar(item.key) ? String(item.key.value) : String(item.key);
    if (!/^[A-Za-z0-9._~+-]+$/.test(name)) r.fail(['users', name], 'user names may hold letters, digits and . _ ~ + - only', item.key as Node);
    if (!isMap(item.value)) r.fail(['users', name], 'expected a mapping, e.g. { password: "..." }', (item.value ?? item.key) as Node);
    const u: Reader = r.at(['users', name], item.value);
    u.keys([], USER_KEYS);
    const password = u.string(['password']);
    const ha1md5 = u.string(['ha1']);
    const ha1sha = u.string(['ha1_sha256']);
    if (password === undefined && ha1md5 === undefined && ha1sha === undefined) {
      u.fail([], 'needs password (or ha1 / ha1_sha256)');
    }
    if (password !== undefined && password.length < 8) u.fail(['password'], 'too short: use at least 8 characters (toll fraud starts with weak SIP passwords)');
    if (ha1md5 !== undefined && !/^[0-9a-f]{32}$/i.test(ha1md5)) u.fail(['ha1'], 'expected 32 hex digits (MD5 of user:realm:password)');
    if (ha1sha !== undefined && !/^[0-9a-f]{64}$/i.test(ha1sha)) u.fail(['ha1_sha256'], 'expected 64 hex digits');
    const ha1: UserConfig['ha1'] = {};
    if (ha1md5) ha1.MD5 = ha1md5.toLowerCase();
    if (ha1sha) ha1['SHA-256'] = ha1sha.toLowerCase();
    users.set(name, { password, ha1, displayName: u.string(['display_name']) });
  }
  r.keys(['trace'], new Set(['max_calls']));
  r.keys(['log'], new Set(['level']));
  const logLevel = r.choice<LogLevel>(['log', 'level'], LOG_LEVELS, 'info');
  const security = readSecurity(r);
  r.keys(['limits'], new Set(['max_transactions', 'max_dialogs', 'max_trace_calls', 'heap_watermark_mb']));
  // trace.max_calls is the older spelling of limits.max_trace_calls.
  const traceCalls = r.int(['trace', 'max_calls'], DEFAULT_LIMITS.maxTraceCalls, 1, 100_000);

  return {
    file,
    domain,
    aliases,
    sip: {
      listen,
      advertise: r.string(['sip', 'advertise']),
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

export function isAddressOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = text.slice(slash + 1);
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
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
