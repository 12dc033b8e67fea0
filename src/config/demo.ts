/**
 * The demo office `npm start` runs when no config is given: Acme
 * Corporation, written once as `data/switchboard.yaml` (commented, for the
 * user to edit; never overwritten) and then read through the same parser as
 * any config, so the demo is a real config. Passwords and voicemail PINs are
 * generated on the first start and kept in that file, so phones stay
 * registered across restarts. The domain is `auto`: this host's address,
 * looked up at each start.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from './load.js';
import { passwordWeakness } from './passwords.js';
import type { Config } from './schema.js';

export { localAddresses } from '../util/net.js';

export const DEMO_USERS = ['1001', '1002', '1003'];
export const DEMO_NAMES: Record<string, string> = { '1001': 'Alice Archer', '1002': 'Bob Baker', '1003': 'Carol Cole' };
/** The demo's config file, in the data directory. */
export const DEMO_CONFIG_FILE = 'switchboard.yaml';
/** Where passwords were kept before the demo became a config file; read once to keep old phones registered. */
const LEGACY_PASSWORD_FILE = 'demo-users.json';

/** The numbers the demo office answers, for the banner (as first written; the user may edit the file). */
export const DEMO_NUMBERS = {
  /** The IVR: 1 sales, 2 support, 3 directory, 0 operator. */
  mainNumber: '500',
  menu: { sales: '1', support: '2', directory: '3', operator: '0' },
  /** Sales ring group: both ring at once. */
  salesGroup: ['1001', '1002'],
  supportQueue: 'support',
  /** Agents of the support queue; overflow after 60 s goes to this one's voicemail. */
  supportMembers: ['1003'],
  conference: '6000',
  voicemailMain: '*98',
  park: '700',
  parkSlots: '701-720',
  queueLogin: '*45',
  queueLogout: '*46',
  forwardAlways: '*72',
  forwardBusy: '*90',
  forwardNoAnswer: '*52',
  forwardOff: '*73',
  dndOn: '*78',
  dndOff: '*79',
} as const;

export interface DemoSetup {
  config: Config;
  /** Passwords just generated; empty when they were read from an earlier run. */
  generated: Map<string, string>;
  /** Where the passwords are kept: the demo's config file. */
  passwordFile: string;
  /** `data/switchboard.yaml`: the demo office as a config to edit. */
  configFile: string;
  /** Whether this start wrote the config file (the first start). */
  created: boolean;
}

function makePassword(): string {
  // Long and typeable on a phone keypad's soft keyboard: no look-alike characters.
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(16);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

function makePin(user: string): string {
  for (;;) {
    const pin = String(randomInt(0, 1_000_000)).padStart(6, '0');
    // Not the mailbox number and not one digit repeated: the first PINs anyone tries.
    if (pin !== user && !/^(\d)\1+$/.test(pin)) return pin;
  }
}

function legacyPasswords(data: string): Record<string, string> {
  const file = path.join(data, LEGACY_PASSWORD_FILE);
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    throw new Error(`${file} is not valid JSON: fix it or delete it to get new demo passwords`);
  }
}

function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const MENU_PROMPT = 'Thank you for calling Acme Corporation. For sales, press 1. For support, press 2. For the company directory, press 3.';

/** The demo office as YAML, with comments that say how to change it. */
export function demoYaml(opts: { data: string; passwords: Record<string, string>; pins: Record<string, string>; timeZone: string }): string {
  const q = (s: string): string => JSON.stringify(s);
  const user = (u: string): string =>
    `  ${q(u)}: { password: ${q(opts.passwords[u])}, name: ${DEMO_NAMES[u]}, voicemail: { pin: ${q(opts.pins[u])} } }`;
  const n = DEMO_NUMBERS;
  return `# Switchboard: the demo office of Acme Corporation.
#
# \`npm start\` wrote this file on its first start and reads it on every start
# after; it never overwrites it. Edit it and restart to change the office, or
# delete it to get a fresh one (with new passwords). It also runs as
#   switchboard serve --config ${path.join(opts.data, DEMO_CONFIG_FILE)}
# Every key is described in the README's config table.

# auto: this machine's address, looked up at each start. Phones use it as
# their SIP domain. Write a name or an address instead to fix it.
domain: auto
# SIP listens on UDP and TCP 5060 and TLS 5061 of every interface, and on
# WebSocket 8080 for browsers: http://127.0.0.1:8080/phone/ is the browser phone.
sip:
  listen: [udp:0.0.0.0:5060, tcp:0.0.0.0:5060, tls:0.0.0.0:5061, ws:0.0.0.0:8080]
data: ${q(opts.data)}

# The staff. The passwords were generated for this office; the PIN opens the
# voicemail box (dial ${n.voicemailMain}); name is the caller ID name and what the
# company directory finds (by the first letters of the last name).
users:
${DEMO_USERS.map(user).join('\n')}

# Voicemail to e-mail: give a mail server here and voicemail.email to each user.
# smtp: { host: mail.example.com, port: 587, from: voicemail@example.com, user: voicemail, password: "..." }

# The support line: callers wait with music and hear their position; Carol
# answers (agents log in with ${n.queueLogin} and out with ${n.queueLogout}). After 60 s a caller
# leaves a message for Carol instead.
queues:
  ${n.supportQueue}: { strategy: ringall, members: [${n.supportMembers.map(q).join(', ')}], timeout: 15, max_wait: 60, after: [ { voicemail: ${q(n.supportMembers[0])} } ] }

# A conference room: everyone who dials ${n.conference} hears everyone else.
conferences:
  ${q(n.conference)}: {}

# Park a call by transferring it to ${n.park}: it waits in a slot (${n.parkSlots}), said to
# the one who parked it; dial the slot from any phone to take the call.
park: { exten: ${q(n.park)}, slots: ${q(n.parkSlots)}, timeout: 45 }

# Office hours, for goto_if_time (see main-menu below).
calendars:
  office: { time_zone: ${opts.timeZone}, hours: ["mon-fri 09:00-17:00"], holidays: ["01-01", "12-25"] }

# A SIP trunk to a carrier, for calls to and from the phone network. Fill in
# what the carrier gave you and remove the # of each line of this block, of
# the routes below, and of the "_9." extension in the dialplan's internal context.
# trunks:
#   carrier:
#     host: sip.carrier.example               # the carrier's SIP server
#     register: { user: "ACCOUNT", password: "PASSWORD" }   # an IP-authenticated peer has allow: [its addresses] instead
#     caller_id: "+15551230000"               # your number, sent with outgoing calls
#     context: main-menu                      # incoming calls reach the menu...
#     dids: { "+15551230000": main-menu }     # ...or one context per number you have
# routes:
#   - { name: outside, patterns: ["_9."], strip: 1, trunks: [carrier] }   # 9, then the number

dialplan:
  # Where the staff's calls start (users.N.context; internal unless given).
  internal:
    include: [extensions, features, parkedcalls]
    ${q(n.mainNumber)}:
      - goto: main-menu
    ${q(n.conference)}:
      - conference: ${q(n.conference)}
    ${q(n.voicemailMain)}:
      - voicemail_main: {}
    # "_9.":
    #   - dial: { to: "\${EXTEN}", timeout: 60 }

  # Each user's own number: ring the phones for 20 s, then voicemail.
  extensions:
    "_1XXX":
      - dial: { to: "\${EXTEN}", timeout: 20 }
      - voicemail: "\${EXTEN}"

  # Feature codes. *72, *90 and *52 take the number to forward to after them (*721002).
  features:
    ${q(n.queueLogin)}: [ { feature: { name: queue_login, arg: ${n.supportQueue} } } ]
    ${q(n.queueLogout)}: [ { feature: { name: queue_logout, arg: ${n.supportQueue} } } ]
    "_${n.forwardAlways}.": [ { feature: { name: forward_always, arg: "\${EXTEN:3}" } } ]
    "_${n.forwardBusy}.": [ { feature: { name: forward_busy, arg: "\${EXTEN:3}" } } ]
    "_${n.forwardNoAnswer}.": [ { feature: { name: forward_noanswer, arg: "\${EXTEN:3}" } } ]
    ${q(n.forwardOff)}: [ { feature: forward_off } ]
    ${q(n.dndOn)}: [ { feature: dnd_on } ]
    ${q(n.dndOff)}: [ { feature: dnd_off } ]

  # The main number ${n.mainNumber}. The key pressed is dialled in this context.
  main-menu:
    s:
      - answer
      # Closed outside office hours? Uncomment:
      # - goto_if_time: { calendar: office, else: closed }
      - gather: { num_digits: 1, timeout: 5, say: ${q(MENU_PROMPT)} }
    ${q(n.menu.sales)}:
      # Sales: a ring group, both phones at once; Alice's voicemail when nobody answers.
      - dial: { to: [${n.salesGroup.map(q).join(', ')}], timeout: 20 }
      - voicemail: ${q(n.salesGroup[0])}
    ${q(n.menu.support)}:
      - enqueue: ${n.supportQueue}
    ${q(n.menu.directory)}:
      - directory: extensions
    ${q(n.menu.operator)}:
      - dial: { to: "1001", timeout: 30 }
      - voicemail: "1001"
    i:
      - say: "Sorry, that is not a valid choice."
      - goto: main-menu-again
    t:
      - goto: main-menu-again

  # A second and last try: the keys of main-menu work here too (include).
  main-menu-again:
    include: [main-menu]
    s:
      - gather: { num_digits: 1, timeout: 5, say: ${q(MENU_PROMPT)} }
    i:
      - say: "Sorry, that is not a valid choice. Goodbye."
      - hangup
    t:
      - say: "Goodbye."
      - hangup

  closed:
    s:
      - say: "Acme Corporation is closed. Our office hours are Monday to Friday, 9 to 5. Please leave a message."
      - voicemail: "1001"
`;
}

/**
 * The demo office in `dataDir`: its config file, written on the first start
 * (passwords from an older demo's demo-users.json are kept), then loaded.
 * Throws ConfigError when the user's edits broke it.
 */
export function demoConfig(dataDir = './data'): DemoSetup {
  const data = path.resolve(dataDir);
  mkdirSync(data, { recursive: true });
  const configFile = path.join(data, DEMO_CONFIG_FILE);
  const generated = new Map<string, string>();
  let created = false;
  if (!existsSync(configFile)) {
    const passwords: Record<string, string> = {};
    const old = legacyPasswords(data);
    const pins: Record<string, string> = {};
    for (const u of DEMO_USERS) {
      if (typeof old[u] === 'string' && !passwordWeakness(u, old[u])) passwords[u] = old[u];
      else {
        passwords[u] = makePassword();
        generated.set(u, passwords[u]);
      }
      pins[u] = makePin(u);
    }
    try {
      // 'wx': a second server starting at the same moment cannot overwrite the first one's file.
      writeFileSync(configFile, demoYaml({ data, passwords, pins, timeZone: hostTimeZone() }), { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      generated.clear();
    }
  }
  return { config: loadConfigFile(configFile), generated, passwordFile: configFile, configFile, created };
}
