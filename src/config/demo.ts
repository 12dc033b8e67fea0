/**
 * The demo office `npm start` runs when no config is given: the host's own
 * address as domain, three extensions with passwords generated once and kept
 * in the data directory so phones stay registered across restarts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseListen } from '../util/listen.js';
import { hostAddress } from '../util/net.js';
import { DEFAULT_ADMIN_PORT, DEFAULT_TIMERS, defaultSections, defaultTls, type Config, type UserConfig } from './schema.js';

export const DEMO_USERS = ['1001', '1002', '1003'];

export interface DemoSetup {
  config: Config;
  /** Passwords just generated; empty when they were read from an earlier run. */
  generated: Map<string, string>;
  passwordFile: string;
}

export function localAddresses(): string[] {
  const out = new Set(['127.0.0.1', '::1', 'localhost']);
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return [...out];
}

function makePassword(): string {
  // Long and typeable on a phone keypad's soft keyboard: no look-alike characters.
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(16);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

export function demoConfig(dataDir = './data'): DemoSetup {
  const data = path.resolve(dataDir);
  mkdirSync(data, { recursive: true });
  const passwordFile = path.join(data, 'demo-users.json');
  let passwords: Record<string, string> = {};
  const generated = new Map<string, string>();
  if (existsSync(passwordFile)) {
    try {
      passwords = JSON.parse(readFileSync(passwordFile, 'utf8')) as Record<string, string>;
    } catch {
      throw new Error(`${passwordFile} is not valid JSON: fix it or delete it to get new demo passwords`);
    }
  }
  for (const u of DEMO_USERS) {
    if (typeof passwords[u] !== 'string') {
      passwords[u] = makePassword();
      generated.set(u, passwords[u]);
    }
  }
  if (generated.size) writeFileSync(passwordFile, JSON.stringify(passwords, null, 2) + '\n', { mode: 0o600 });
  const users = new Map<string, UserConfig>(DEMO_USERS.map((u) => [u, { password: passwords[u] }]));
  const domain = hostAddress();
  return {
    generated,
    passwordFile,
    config: {
      domain,
      aliases: localAddresses(),
      sip: {
        listen: ['udp:0.0.0.0:5060', 'tcp:0.0.0.0:5060', 'tls:0.0.0.0:5061'].map(parseListen),
        advertise: domain,
        timers: { ...DEFAULT_TIMERS },
        tls: defaultTls(),
        minExpires: 60,
        maxExpires: 7200,
        defaultExpires: 3600,
        maxContacts: 10,
        timerC: 180,
        authAlgorithms: ['MD5'],
      },
      admin: { listen: { address: '127.0.0.1', port: DEFAULT_ADMIN_PORT } },
      data,
      users,
      ...defaultSections(),
    },
  };
}
