/**
 * Starts a real Switchboard (the same startServer `serve` uses) on loopback
 * ports picked for the test, with a throwaway data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { startServer, type RunningServer, type StartOptions } from '../../src/cli/server.js';
import { freePort } from './ports.js';

export interface TestServer extends RunningServer {
  /** host:port of the UDP/TCP listener (same port for both). */
  sip: string;
  tlsPort: number;
  dataDir: string;
  stop(): Promise<void>;
}

export interface TestServerOptions extends StartOptions {
  users?: Record<string, string>;
  /** More keys of a user's mapping (YAML flow, after the password), e.g. { "1001": 'context: manager, max_calls: 1' }. */
  userKeys?: Record<string, string>;
  /** Extra YAML under `sip:` (indented two spaces), e.g. '  timer_c: 10'. */
  sipExtra?: string;
  /** Extra top-level YAML, e.g. 'limits: { max_dialogs: 10 }'. */
  extraYaml?: string;
  host?: string;
  dataDir?: string;
  /** Keep the data directory when stopping (restart tests). */
  keepData?: boolean;
  port?: number;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort('both'));
  const tlsPort = await freePort('tcp');
  const adminPort = await freePort('tcp');
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'sb-test-'));
  const users = opts.users ?? { alice: 'Al1ce-long-pass-77', bob: 'B0b-long-pass-88' };
  const h = host.includes(':') ? `[${host}]` : host;
  const yaml = [
    `domain: "${host}"`,
    'sip:',
    '  listen:',
    `    - udp:${h}:${port}`,
    `    - tcp:${h}:${port}`,
    `    - tls:${h}:${tlsPort}`,
    opts.sipExtra ?? '',
    'admin:',
    `  listen: 127.0.0.1:${adminPort}`,
    `data: ${dataDir}`,
    'users:',
    ...Object.entries(users).map(([u, p]) => `  "${u}": { password: "${p}"${opts.userKeys?.[u] ? `, ${opts.userKeys[u]}` : ''} }`),
    opts.extraYaml ?? '',
  ].join('\n');
  const config = parseConfig(yaml, 'test.yaml');
  const server = await startServer(config, opts);
  return {
    ...server,
    sip: `${h}:${port}`,
    tlsPort,
    dataDir,
    async stop() {
      await server.close();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
