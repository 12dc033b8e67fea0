/**
 * Reads the PBX half of switchboard.yaml (users' PBX settings, queues,
 * conferences, trunks, routes, calendars, SMTP, park, features, fraud
 * limits, the dialplan). Everything that can be checked without knowing the
 * verbs is checked here, with the line; voice/dialplan compiles the steps.
 */
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { isMap, isScalar, isSeq, YAMLMap, type Node } from 'yaml';
import { parseListen } from '../util/listen.js';
import { isAddressOrCidr, isHostName, isMailAddress } from './address.js';
import { checkHoliday, HOURS_EXAMPLE, parseHours } from './hours.js';
import {
  DEFAULT_CONTEXT, DEFAULT_FEATURES, DEFAULT_FRAUD, DEFAULT_PARK, DEFAULT_TRUNK_CONTEXT, DEFAULT_VOICEMAIL_MAX_SECONDS, PARK_CONTEXT,
  type CalendarConfig, type ConferenceConfig, type ForwardConfig, type FraudConfig, type OutboundRoute, type ParkConfig,
  type PbxConfig, type QueueConfig, type QueueStrategy, type RawContext, type RawExtension, type RawStep, type SmtpConfig,
  type TrunkConfig, type UserPbxConfig, type VoicemailBoxConfig,
} from './pbx-schema.js';
import { describe, type Entry, type KeyPath, type Reader } from './reader.js';

/** Top-level keys this file reads. */
export const PBX_TOP_KEYS = ['smtp', 'queues', 'conferences', 'trunks', 'routes', 'calendars', 'park', 'moh', 'features', 'fraud', 'dialplan'];
/** Keys of users.NAME this file reads (load.ts reads the login keys). */
export const USER_PBX_KEYS = ['name', 'context', 'voicemail', 'forward', 'follow_me', 'dnd', 'allow', 'max_calls', 'calls_per_minute'];

const NAME = /^[A-Za-z0-9_-]+$/;
const NAME_HINT = 'letters, digits, _ and - only';
/** What a forward or follow-me target may be: an extension, a user, an outside number, or a SIP URI. */
const DIAL_STRING = /^(sips?:\S+|[A-Za-z0-9.*#+_~-]+)$/;
const STRATEGIES: readonly QueueStrategy[] = ['ringall', 'roundrobin', 'leastrecent', 'fewestcalls', 'random'];
const CODECS = ['PCMU', 'PCMA', 'G722', 'opus'];
const EMAIL_HINT = 'expected a mail address such as alice@example.com';

function set(keys: string[]): Set<string> {
  return new Set(keys);
}

function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A path in the config, relative to the directory the server was started from (like every other path). */
function folder(r: Reader, keyPath: KeyPath): string | undefined {
  const p = r.string(keyPath);
  if (p === undefined) return undefined;
  const full = path.resolve(p);
  let isDir = false;
  try {
    isDir = statSync(full).isDirectory();
  } catch {
    r.fail(keyPath, `no such folder: ${full} (relative paths start from the directory switchboard runs in)`);
  }
  if (!isDir) r.fail(keyPath, `${full} is a file; expected a folder of WAV files`);
  return full;
}

function dialString(r: Reader, keyPath: KeyPath): string | undefined {
  const s = r.string(keyPath);
  if (s !== undefined && !DIAL_STRING.test(s)) {
    r.fail(keyPath, `expected an extension, a user, a number such as +4930123456 or a sip: URI, got ${JSON.stringify(s)}`);
  }
  return s;
}

function digitsCode(r: Reader, keyPath: KeyPath, def: string): string {
  const s = r.string(keyPath, def) as string;
  if (!/^[0-9*#]{1,8}$/.test(s)) r.fail(keyPath, `expected up to 8 keys of 0-9, * and #, got ${JSON.stringify(s)}`);
  return s;
}

function pin(r: Reader, keyPath: KeyPath): string | undefined {
  const p = r.string(keyPath);
  if (p !== undefined && !/^\d{4,10}$/.test(p)) r.fail(keyPath, 'expected 4 to 10 digits (quote it to keep leading zeros: "0472")');
  return p;
}

function allowList(r: Reader, keyPath: KeyPath): string[] {
  const list = r.strings(keyPath);
  list.forEach((a, i) => {
    if (!isAddressOrCidr(a)) {
      r.fail(r.get(keyPath) === a ? keyPath : [...keyPath, i], `expected an IP address or a CIDR block such as 10.0.0.0/8, got ${JSON.stringify(a)}`);
    }
  });
  return list;
}

/** A mapping at `entry` (nothing is read as an empty one, undefined when `required`); fails on anything else. */
function mappingReader(r: Reader, keyPath: KeyPath, entry: Entry, example: string): Reader {
  const at = [...keyPath, entry.key];
  if (entry.value === undefined || (isScalar(entry.value) && entry.value.value === null)) return r.at(at, new YAMLMap());
  if (!isMap(entry.value)) r.fail(at, `expected a mapping, e.g. ${example}`, entry.value);
  return r.at(at, entry.value);
}

/** A named entry's name: letters, digits, _ and -. */
function checkName(r: Reader, keyPath: KeyPath, entry: Entry, what: string): void {
  if (!NAME.test(entry.key)) r.fail([...keyPath, entry.key], `${what} names may hold ${NAME_HINT}`, entry.keyNode);
}

/** Fails unless `name` is a context of the dialplan (or the generated parkedcalls). */
type NeedContext = (r: Reader, keyPath: KeyPath, name: string, hint: string, at?: Node) => void;

export function readPbx(r: Reader, userNames: Set<string>): PbxConfig {
  const dialplan = readDialplan(r);
  const contexts = new Set([...dialplan.keys(), PARK_CONTEXT]);
  const needContext: NeedContext = (at, keyPath, name, hint, node) => {
    if (!contexts.has(name)) {
      const known = [...dialplan.keys()];
      at.fail(keyPath, `no context "${name}" in the dialplan (${known.length ? `it has ${known.join(', ')}` : 'it has none'}); ${hint}`, node);
    }
  };
  const fraud = readFraud(r);
  const trunks = readTrunks(r, needContext);
  return {
    users: readUsers(r, fraud, needContext),
    queues: readQueues(r, userNames),
    conferences: readConferences(r),
    trunks,
    routes: readRoutes(r, trunks),
    calendars: readCalendars(r),
    dialplan,
    smtp: readSmtp(r),
    fraud,
    park: readPark(r),
    moh: folder(r, ['moh']),
    features: readFeatures(r),
    defaultContext: DEFAULT_CONTEXT,
  };
}

function readFraud(r: Reader): FraudConfig {
  r.keys(['fraud'], set(['max_calls', 'user_max_calls', 'user_calls_per_minute', 'block_seconds']));
  return {
    maxCalls: r.int(['fraud', 'max_calls'], DEFAULT_FRAUD.maxCalls, 0, 1_000_000),
    userMaxCalls: r.int(['fraud', 'user_max_calls'], DEFAULT_FRAUD.userMaxCalls, 0, 100_000),
    userCallsPerMinute: r.int(['fraud', 'user_calls_per_minute'], DEFAULT_FRAUD.userCallsPerMinute, 0, 100_000),
    blockSeconds: r.int(['fraud', 'block_seconds'], DEFAULT_FRAUD.blockSeconds, 1, 7 * 86_400),
  };
}

function readUsers(r: Reader, fraud: FraudConfig, needContext: NeedContext): Map<string, UserPbxConfig> {
  const out = new Map<string, UserPbxConfig>();
  for (const entry of r.entries(['users'])) {
    if (!entry.value || !isMap(entry.value)) continue; // load.ts has refused it
    const u: Reader = r.at(['users', entry.key], entry.value);
    const context = u.string(['context'], DEFAULT_CONTEXT) as string;
    if (!NAME.test(context)) u.fail(['context'], `context names may hold ${NAME_HINT}`);
    if (u.has(['context'])) needContext(u, ['context'], context, "the user's calls start there");
    u.keys(['forward'], set(['always', 'busy', 'no_answer']));
    const forward: ForwardConfig = {};
    const always = dialString(u, ['forward', 'always']);
    const busy = dialString(u, ['forward', 'busy']);
    const noAnswer = dialString(u, ['forward', 'no_answer']);
    if (always !== undefined) forward.always = always;
    if (busy !== undefined) forward.busy = busy;
    if (noAnswer !== undefined) forward.noAnswer = noAnswer;
    const user: UserPbxConfig = {
      context,
      forward,
      dnd: u.bool(['dnd'], false),
      allow: allowList(u, ['allow']),
      maxCalls: u.int(['max_calls'], fraud.userMaxCalls, 0, 100_000),
      callsPerMinute: u.int(['calls_per_minute'], fraud.userCallsPerMinute, 0, 100_000),
      line: r.lineOf(entry.keyNode),
    };
    const name = u.string(['name']);
    if (name !== undefined) {
      if (!name.trim() || /[\r\n"<>]/.test(name)) u.fail(['name'], 'expected a full name such as Alice Archer (no quotes, < > or line breaks)');
      user.name = name.trim();
    }
    const followMe = dialString(u, ['follow_me']);
    if (followMe !== undefined) user.followMe = followMe;
    const vm = readVoicemail(u, entry.key);
    if (vm) user.voicemail = vm;
    out.set(entry.key, user);
  }
  return out;
}

function readVoicemail(u: Reader, user: string): VoicemailBoxConfig | undefined {
  const state = u.optionalSection(['voicemail']);
  if (state !== 'present') return undefined;
  if (!isMap(u.node(['voicemail']))) u.fail(['voicemail'], 'expected a mapping, e.g. voicemail: { pin: "4711", email: alice@example.com }');
  u.keys(['voicemail'], set(['pin', 'email', 'max_message']));
  const p = pin(u, ['voicemail', 'pin']);
  if (p === undefined) u.fail(['voicemail', 'pin'], 'required: 4 to 10 digits to listen to messages with *98, e.g. pin: "4711"');
  if (p === user) u.fail(['voicemail', 'pin'], 'the PIN is the mailbox number, the first PIN anyone tries: choose other digits');
  const box: VoicemailBoxConfig = { pin: p, maxMessageSeconds: u.int(['voicemail', 'max_message'], DEFAULT_VOICEMAIL_MAX_SECONDS, 5, 3600) };
  const email = u.string(['voicemail', 'email']);
  if (email !== undefined) {
    if (!isMailAddress(email)) u.fail(['voicemail', 'email'], EMAIL_HINT);
    box.email = email;
  }
  return box;
}

function readQueues(r: Reader, userNames: Set<string>): Map<string, QueueConfig> {
  const out = new Map<string, QueueConfig>();
  const keys = set(['strategy', 'members', 'timeout', 'max_wait', 'wrap_up', 'moh', 'announce_every', 'service_level', 'after']);
  for (const entry of r.entries(['queues'])) {
    checkName(r, ['queues'], entry, 'queue');
    const q: Reader = mappingReader(r, ['queues'], entry, '{ strategy: ringall, members: ["1003"] }');
    q.keys([], keys);
    const members = q.strings(['members']);
    members.forEach((m, i) => {
      if (!userNames.has(m) && !/^sips?:\S+$/.test(m)) {
        q.fail(['members', i], `"${m}" is not one of the users (${[...userNames].join(', ') || 'none configured'}) nor a sip: URI`);
      }
    });
    const queue: QueueConfig = {
      name: entry.key,
      strategy: q.choice(['strategy'], STRATEGIES, 'ringall'),
      members,
      timeout: q.int(['timeout'], 15, 1, 600),
      maxWait: q.int(['max_wait'], 0, 0, 86_400),
      wrapUp: q.int(['wrap_up'], 0, 0, 3600),
      announceEvery: q.int(['announce_every'], 30, 0, 3600),
      serviceLevel: q.int(['service_level'], 60, 1, 3600),
      after: q.has(['after']) ? readSteps(q, ['after'], q.node(['after']) as Node) : [],
      line: r.lineOf(entry.keyNode),
    };
    const moh = folder(q, ['moh']);
    if (moh) queue.moh = moh;
    out.set(entry.key, queue);
  }
  return out;
}

function readConferences(r: Reader): Map<string, ConferenceConfig> {
  const out = new Map<string, ConferenceConfig>();
  const keys = set(['pin', 'leader_pin', 'wait_for_leader', 'record', 'tones', 'max_members']);
  for (const entry of r.entries(['conferences'])) {
    checkName(r, ['conferences'], entry, 'conference');
    const c: Reader = mappingReader(r, ['conferences'], entry, '{ pin: "1234" } or {}');
    c.keys([], keys);
    const room: ConferenceConfig = {
      name: entry.key,
      waitForLeader: c.bool(['wait_for_leader'], false),
      record: c.bool(['record'], false),
      tones: c.bool(['tones'], true),
      maxMembers: c.int(['max_members'], 50, 2, 1000),
      line: r.lineOf(entry.keyNode),
    };
    const p = pin(c, ['pin']);
    const leader = pin(c, ['leader_pin']);
    if (p !== undefined) room.pin = p;
    if (leader !== undefined) {
      if (leader === p) c.fail(['leader_pin'], 'must differ from pin: the PIN typed is what tells a leader from a member');
      room.leaderPin = leader;
    }
    out.set(entry.key, room);
  }
  return out;
}

function readTrunks(r: Reader, needContext: NeedContext): Map<string, TrunkConfig> {
  const out = new Map<string, TrunkConfig>();
  const keys = set(['host', 'port', 'transport', 'register', 'allow', 'context', 'dids', 'codecs', 'caller_id', 'max_calls', 'listen', 'outbound']);
  for (const entry of r.entries(['trunks'])) {
    checkName(r, ['trunks'], entry, 'trunk');
    const t: Reader = mappingReader(r, ['trunks'], entry, '{ host: sip.carrier.example, register: { user: ..., password: ... } }');
    t.keys([], keys);
    let host = t.string(['host']);
    if (host === undefined) r.fail(['trunks', entry.key, 'host'], "required: the carrier's SIP server, e.g. host: sip.carrier.example", entry.keyNode);
    if (/^\[.*\]$/.test(host)) host = host.slice(1, -1);
    if (!isHostName(host)) t.fail(['host'], `expected a host name or an address, got ${JSON.stringify(host)} (give the port in port:)`);
    const transport = t.choice(['transport'], ['udp', 'tcp', 'tls'] as const, 'udp');
    const trunk: TrunkConfig = {
      name: entry.key,
      host,
      port: t.int(['port'], transport === 'tls' ? 5061 : 5060, 1, 65535),
      transport,
      allow: [],
      context: t.string(['context'], DEFAULT_TRUNK_CONTEXT) as string,
      dids: new Map(),
      codecs: [],
      maxCalls: t.int(['max_calls'], 0, 0, 100_000),
      outbound: t.bool(['outbound'], false),
      line: r.lineOf(entry.keyNode),
    };
    if (!NAME.test(trunk.context)) t.fail(['context'], `context names may hold ${NAME_HINT}`);
    if (t.optionalSection(['register']) === 'present') {
      if (!isMap(t.node(['register']))) t.fail(['register'], 'expected a mapping, e.g. register: { user: "4930123", password: "..." }');
      t.keys(['register'], set(['user', 'password', 'expires']));
      const user = t.string(['register', 'user']);
      const password = t.string(['register', 'password']);
      if (!user) t.fail(['register', 'user'], 'required: the account name the carrier gave you');
      if (!password) t.fail(['register', 'password'], 'required: the password the carrier gave you');
      trunk.register = { user, password, expires: t.int(['register', 'expires'], 3600, 60, 86_400) };
    }
    trunk.allow = allowList(t, ['allow']);
    if (trunk.allow.length === 0) {
      if (isIP(host)) trunk.allow = [host];
      else if (!trunk.register) {
        t.fail(['allow'], `an IP-authenticated trunk (no register:) is known by the addresses its calls come from: list them, e.g. allow: [192.0.2.10, 198.51.100.0/24]`);
      }
    }
    for (const did of t.entries(['dids'])) {
      if (!/^\+?[0-9*#]+$/.test(did.key)) t.fail(['dids', did.key], 'expected a number the carrier sends, e.g. "+4930123456" (quoted, to keep the +)', did.keyNode);
      const ctx = isScalar(did.value) && typeof did.value.value === 'string' ? did.value.value : undefined;
      if (!ctx || !NAME.test(ctx)) t.fail(['dids', did.key], 'expected the name of a dialplan context, e.g. main-menu', did.value ?? did.keyNode);
      needContext(t, ['dids', did.key], ctx, 'calls to this DID start there', did.value);
      trunk.dids.set(did.key, ctx);
    }
    const codecs = t.has(['codecs']) ? t.strings(['codecs']) : ['PCMU', 'PCMA'];
    trunk.codecs = codecs.map((c, i) => {
      const known = CODECS.find((k) => k.toLowerCase() === c.toLowerCase());
      if (!known) t.fail(t.get(['codecs']) === c ? ['codecs'] : ['codecs', i], `unknown codec ${JSON.stringify(c)}; expected some of ${CODECS.join(', ')}`);
      return known;
    });
    if (trunk.codecs.length === 0) t.fail(['codecs'], `needs at least one of ${CODECS.join(', ')}`);
    const callerId = t.string(['caller_id']);
    if (callerId !== undefined) {
      if (!/^\+?\d{2,20}$/.test(callerId)) t.fail(['caller_id'], 'expected a number, E.164 preferred: "+4930123456" (quoted, to keep the +)');
      trunk.callerId = callerId;
    }
    const listen = t.string(['listen']);
    if (listen !== undefined) {
      let at;
      try {
        at = parseListen(/^[a-z]+:/i.test(listen) ? listen : `${transport}:${listen}`);
      } catch (err) {
        t.fail(['listen'], (err as Error).message);
      }
      if (at.proto !== transport) t.fail(['listen'], `listens on ${at.proto} but the trunk's transport is ${transport}`);
      trunk.listen = at;
    }
    // Last: a trunk's own mistakes are more useful to hear about than the context it lacks.
    if (t.has(['context'])) needContext(t, ['context'], trunk.context, 'inbound calls from this trunk start there');
    else {
      needContext(
        r,
        ['trunks', entry.key],
        trunk.context,
        `inbound calls from a trunk start in "${DEFAULT_TRUNK_CONTEXT}" unless trunks.${entry.key}.context names another: add one, ` +
          `e.g. dialplan: { ${DEFAULT_TRUNK_CONTEXT}: { "_X.": [ { goto: main-menu } ] } }`,
        entry.keyNode,
      );
    }
    out.set(entry.key, trunk);
  }
  return out;
}

function readRoutes(r: Reader, trunks: Map<string, TrunkConfig>): OutboundRoute[] {
  const list = r.list(['routes']) ?? [];
  const names = new Set<string>();
  return list.map((_, i) => {
    const node = r.node(['routes', i]) as Node;
    if (!isMap(node)) r.fail(['routes', i], 'expected a mapping, e.g. - { name: national, patterns: ["_0Z."], trunks: [carrier] }');
    const route: Reader = r.at(['routes', i], node);
    route.keys([], set(['name', 'patterns', 'strip', 'prepend', 'trunks']));
    const name = route.string(['name'], `route${i + 1}`) as string;
    if (!NAME.test(name)) route.fail(['name'], `route names may hold ${NAME_HINT}`);
    if (names.has(name)) route.fail(['name'], `a route named "${name}" is given twice`);
    names.add(name);
    const patterns = route.strings(['patterns']);
    if (patterns.length === 0) route.fail(['patterns'], 'required: the numbers this route carries, e.g. patterns: ["_0Z.", "_00."]');
    const trunkNames = route.strings(['trunks']);
    if (trunkNames.length === 0) route.fail(['trunks'], 'required: the trunks tried in order, e.g. trunks: [carrier, backup]');
    trunkNames.forEach((t, j) => {
      if (!trunks.has(t)) {
        route.fail(route.get(['trunks']) === t ? ['trunks'] : ['trunks', j], `no trunk "${t}" (trunks: ${[...trunks.keys()].join(', ') || 'none configured'})`);
      }
    });
    const prepend = route.string(['prepend'], '') as string;
    if (!/^\+?[0-9*#]*$/.test(prepend)) route.fail(['prepend'], 'expected digits, optionally after a +, e.g. prepend: "+49"');
    return { name, patterns, strip: route.int(['strip'], 0, 0, 30), prepend, trunks: trunkNames, line: r.lineOf(node) };
  });
}

function readCalendars(r: Reader): Map<string, CalendarConfig> {
  const out = new Map<string, CalendarConfig>();
  for (const entry of r.entries(['calendars'])) {
    checkName(r, ['calendars'], entry, 'calendar');
    const c: Reader = mappingReader(r, ['calendars'], entry, '{ time_zone: Europe/Berlin, hours: ["mon-fri 09:00-17:00"] }');
    c.keys([], set(['time_zone', 'hours', 'holidays']));
    const timeZone = c.string(['time_zone'], hostTimeZone()) as string;
    if (!isTimeZone(timeZone)) c.fail(['time_zone'], `not a time zone this system knows: ${JSON.stringify(timeZone)}; use an IANA name such as Europe/Berlin or America/New_York`);
    const hoursText = c.strings(['hours']);
    const hours = hoursText.flatMap((h, i) => {
      try {
        return parseHours(h);
      } catch (err) {
        return c.fail(c.get(['hours']) === h ? ['hours'] : ['hours', i], `${(err as Error).message}; e.g. ${HOURS_EXAMPLE}`);
      }
    });
    const holidays = c.strings(['holidays']);
    holidays.forEach((d, i) => {
      try {
        checkHoliday(d);
      } catch (err) {
        c.fail(c.get(['holidays']) === d ? ['holidays'] : ['holidays', i], (err as Error).message);
      }
    });
    out.set(entry.key, { name: entry.key, timeZone, hours, holidays, line: r.lineOf(entry.keyNode) });
  }
  return out;
}

function readSmtp(r: Reader): SmtpConfig | undefined {
  if (r.optionalSection(['smtp']) !== 'present') return undefined;
  r.keys(['smtp'], set(['host', 'port', 'from', 'user', 'password', 'secure']));
  const host = r.string(['smtp', 'host']);
  if (!host) r.fail(['smtp', 'host'], 'required: the mail server voicemail is sent through, e.g. host: mail.example.com');
  if (!isHostName(host)) r.fail(['smtp', 'host'], `expected a host name or an address, got ${JSON.stringify(host)}`);
  const from = r.string(['smtp', 'from']);
  if (!from) r.fail(['smtp', 'from'], 'required: the sender of voicemail mails, e.g. from: voicemail@example.com');
  if (!isMailAddress(from)) r.fail(['smtp', 'from'], EMAIL_HINT);
  const port = r.int(['smtp', 'port'], 25, 1, 65535);
  const smtp: SmtpConfig = { host, port, from, secure: r.bool(['smtp', 'secure'], port === 465) };
  const user = r.string(['smtp', 'user']);
  const password = r.string(['smtp', 'password']);
  if ((user === undefined) !== (password === undefined)) r.fail(['smtp', user === undefined ? 'user' : 'password'], 'give both user and password, or neither');
  if (user !== undefined) smtp.user = user;
  if (password !== undefined) smtp.password = password;
  return smtp;
}

function readPark(r: Reader): ParkConfig {
  r.keys(['park'], set(['exten', 'slots', 'timeout']));
  const exten = digitsCode(r, ['park', 'exten'], DEFAULT_PARK.exten);
  const slots = r.string(['park', 'slots'], `${DEFAULT_PARK.first}-${DEFAULT_PARK.last}`) as string;
  const m = /^(\d{1,8})-(\d{1,8})$/.exec(slots);
  if (!m || m[1].length !== m[2].length || Number(m[1]) > Number(m[2]) || Number(m[2]) - Number(m[1]) >= 1000) {
    r.fail(['park', 'slots'], 'expected a range of up to 1000 extensions of the same length, e.g. slots: "701-720"');
  }
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (/^\d+$/.test(exten) && Number(exten) >= first && Number(exten) <= last && exten.length === m[1].length) {
    r.fail(['park', 'exten'], `${exten} is one of the slots ${slots}: parking and retrieving need different numbers`);
  }
  return { exten, first, last, timeout: r.int(['park', 'timeout'], DEFAULT_PARK.timeout, 5, 3600) };
}

function readFeatures(r: Reader): PbxConfig['features'] {
  r.keys(['features'], set(['blind_transfer', 'attended_transfer']));
  const blind = digitsCode(r, ['features', 'blind_transfer'], DEFAULT_FEATURES.blindTransfer);
  const attended = digitsCode(r, ['features', 'attended_transfer'], DEFAULT_FEATURES.attendedTransfer);
  if (blind.startsWith(attended) || attended.startsWith(blind)) {
    r.fail(['features', 'attended_transfer'], `"${attended}" and blind_transfer "${blind}" overlap: one is how the other starts`);
  }
  return { blindTransfer: blind, attendedTransfer: attended };
}

function readDialplan(r: Reader): Map<string, RawContext> {
  const out = new Map<string, RawContext>();
  for (const entry of r.entries(['dialplan'])) {
    checkName(r, ['dialplan'], entry, 'context');
    const keyPath = ['dialplan', entry.key];
    const ctx: RawContext = { name: entry.key, include: [], extensions: [], line: r.lineOf(entry.keyNode) };
    if (entry.value !== undefined && !(isScalar(entry.value) && entry.value.value === null) && !isMap(entry.value)) {
      r.fail(keyPath, 'expected a mapping of extensions, e.g. "500": [ answer, { say: "Hello" } ]', entry.value);
    }
    const c: Reader = isMap(entry.value) ? r.at(keyPath, entry.value) : r.at(keyPath, new YAMLMap());
    for (const ext of c.entries([])) {
      if (ext.key === 'include') {
        const names = c.strings(['include']);
        const listNode = c.node(['include']);
        names.forEach((name, i) => {
          const at = isSeq(listNode) ? (listNode.items[i] as Node) : ext.keyNode;
          if (!NAME.test(name)) c.fail(['include', i], `expected a context name (${NAME_HINT}), got ${JSON.stringify(name)}`, at);
          ctx.include.push({ name, line: r.lineOf(at) });
        });
        continue;
      }
      if (!/^\S+$/.test(ext.key)) c.fail([ext.key], 'an extension is one word without spaces, e.g. "500", s, "_1XXX"', ext.keyNode);
      if (ext.value === undefined || (isScalar(ext.value) && ext.value.value === null)) {
        c.fail([ext.key], 'needs steps, e.g. - answer', ext.keyNode);
      }
      const raw: RawExtension = { pattern: ext.key, steps: readSteps(c, [ext.key], ext.value), line: r.lineOf(ext.keyNode) };
      ctx.extensions.push(raw);
    }
    out.set(entry.key, ctx);
  }
  return out;
}

/** Steps as written: a list of `verb` or `verb: args`, or a single such step. */
function readSteps(r: Reader, keyPath: KeyPath, node: Node): RawStep[] {
  const items = isSeq(node) ? (node.items as Node[]) : [node];
  return items.map((item, i) => {
    const at = isSeq(node) ? [...keyPath, i] : keyPath;
    const line = r.lineOf(item ?? node);
    if (isScalar(item) && typeof item.value === 'string') return { name: item.value.trim(), args: undefined, line };
    if (isMap(item)) {
      const s: Reader = r.at(at, item);
      const entries = s.entries([]);
      if (entries.length !== 1) {
        const names = entries.map((e) => e.key);
        s.fail([], `a step is one verb, but this one has ${names.length ? names.join(' and ') : 'none'}: give each its own list item (- ${names[0] ?? 'answer'}: ...)`, item);
      }
      const [e] = entries;
      const step: RawStep = { name: e.key, args: r.data(e.value), line: r.lineOf(e.keyNode) };
      if (isMap(e.value) && e.value.items.length) {
        step.argLines = Object.fromEntries(s.at([e.key], e.value).entries([]).map((a) => [a.key, r.lineOf(a.keyNode)]));
      }
      return step;
    }
    return r.fail(at, `expected a step such as answer or { say: "Hello" }, got ${describe(r.data(item) ?? null)}`, item ?? node);
  });
}
