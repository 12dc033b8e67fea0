/**
 * A real Switchboard running the PBX contract config (users 1001-1003
 * with voicemail, the support queue, conference 6000, the main-menu IVR on
 * 500) on loopback ports picked for the test, plus whatever a test adds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/cli/server.js';
import { freePort } from './ports.js';

export const PBX_PASS: Record<string, string> = {
  '1001': 'Al1ce-long-pass-77',
  '1002': 'B0b-long-pass-88',
  '1003': 'C4rol-long-pass-99',
};

export interface PbxServerOptions extends StartOptions {
  /** More users, `"2001": { password: "..." }` lines (indented two spaces). */
  moreUsers?: string[];
  /** Replaces the support queue's line (indented two spaces under `queues:`). */
  queue?: string;
  /** Extra top-level YAML. */
  extraYaml?: string;
  /** Extra extensions of the `internal` context (indented four spaces). */
  internalExtra?: string;
  /** No dialplan at all: the server runs without a PBX. */
  noPbx?: boolean;
}

export interface PbxServer extends RunningServer {
  /** host:port of SIP over UDP and TCP. */
  sip: string;
  adminAddress: string;
  dataDir: string;
  /** The config file written for CLI commands (`--config`). */
  configFile: string;
  stop(): Promise<void>;
}

export function contractYaml(ports: { sip: number; admin: number }, dataDir: string, o: PbxServerOptions = {}): string {
  const pbx = [
    'queues:',
    o.queue ?? '  support: { strategy: ringall, members: ["1003"], timeout: 15, max_wait: 60, after: [ { voicemail: "1002" } ] }',
    'conferences:',
    '  "6000": {}',
    'dialplan:',
    '  internal:',
    '    "_1XXX":',
    '      - dial: { to: "${EXTEN}", timeout: 15 }',
    '      - voicemail: "${EXTEN}"',
    '    "500":',
    '      - goto: main-menu',
    '    "6000":',
    '      - conference: "6000"',
    '    "*98":',
    '      - voicemail_main: {}',
    o.internalExtra ?? '',
    '  main-menu:',
    '    s:',
    '      - answer',
    '      - gather: { num_digits: 1, timeout: 5, say: "Thank you for calling Acme Corporation. For sales, press 1. For support, press 2." }',
    '    "1":',
    '      - dial: { to: ["1001", "1003"], timeout: 20 }',
    '    "2":',
    '      - enqueue: support',
    '    i:',
    '      - say: "Sorry, that is not a valid choice."',
    '      - goto: main-menu',
  ];
  return [
    'domain: 127.0.0.1',
    'sip:',
    `  listen: [udp:127.0.0.1:${ports.sip}, tcp:127.0.0.1:${ports.sip}]`,
    'admin:',
    `  listen: 127.0.0.1:${ports.admin}`,
    `data: ${dataDir}`,
    'users:',
    `  "1001": { password: "${PBX_PASS['1001']}", name: Alice Archer, voicemail: { pin: "4711", email: alice@acme.example } }`,
    `  "1002": { password: "${PBX_PASS['1002']}", name: Bob Baker, voicemail: { pin: "4712", email: bob@acme.example } }`,
    `  "1003": { password: "${PBX_PASS['1003']}", name: Carol Cole }`,
    ...(o.moreUsers ?? []),
    ...(o.noPbx ? [] : pbx),
    o.extraYaml ?? '',
  ].join('\n');
}

export async function startPbxServer(o: PbxServerOptions = {}): Promise<PbxServer> {
  const sip = await freePort('both');
  const admin = await freePort('tcp');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sb-pbx-'));
  const yaml = contractYaml({ sip, admin }, dataDir, o);
  const configFile = path.join(dataDir, 'switchboard.yaml');
  writeFileSync(configFile, yaml);
  const server = await startServer(parseConfig(yaml, configFile), o);
  return {
    ...server,
    sip: `127.0.0.1:${sip}`,
    adminAddress: `127.0.0.1:${server.admin.port}`,
    dataDir,
    configFile,
    async stop() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
