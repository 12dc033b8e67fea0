/**
 * The fuzzed Switchboard, in a process of its own (forked by the driver):
 * the real startServer on free 127.0.0.1 ports, bans off (all fuzz traffic
 * comes from 127.0.0.1), behind the guard that keeps its traffic inside the
 * harness. Errors it logs and exceptions that escape every handler are
 * counted and reported to the driver over IPC; info and warning logs are
 * not written anywhere (malformed input is logged at info level, which a
 * fuzz run would turn into gigabytes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { installCrashHandlers } from '../../../src/cli/crash.js';
import { startServer } from '../../../src/cli/server.js';
import { parseConfig } from '../../../src/config/load.js';
import { freePort } from '../../helpers/ports.js';
import { allowUdp, guardCounts, installGuard } from './guard.js';
import type { HarnessReply, HarnessRequest, HarnessStats } from './protocol.js';

installGuard();

function reply(m: HarnessReply): void {
  process.send?.(m);
}

let errorsLogged = 0;
const lastErrors: string[] = [];
const log = pino(
  { level: 'error' },
  {
    write(line: string): void {
      errorsLogged++;
      if (lastErrors.length < 5) lastErrors.push(line.slice(0, 2000));
    },
  },
);

const port = await freePort('both');
const adminPort = await freePort('tcp');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sb-fuzz-'));
const yaml = [
  'domain: "127.0.0.1"',
  'sip:',
  '  listen:',
  `    - udp:127.0.0.1:${port}`,
  `    - tcp:127.0.0.1:${port}`,
  'admin:',
  `  listen: 127.0.0.1:${adminPort}`,
  `data: ${dataDir}`,
  'log:',
  '  level: silent',
  'security:',
  '  ban: off',
  'users:',
  '  "alice": { password: "Al1ce-long-pass-77" }',
  '  "bob": { password: "B0b-long-pass-88" }',
].join('\n');
const server = await startServer(parseConfig(yaml, 'fuzz.yaml'), { log });
installCrashHandlers(log, server.crashes);

function stats(): HarnessStats {
  const c = server.stack.counters;
  return {
    errorsLogged,
    lastErrors: [...lastErrors],
    uncaught: server.crashes.uncaught,
    received: c.received,
    malformed: c.malformed,
    rejected: c.rejected,
    dropped: c.dropped,
    malformedByStatus: { ...c.malformedByStatus },
    requests: server.proxy.counters.requests,
    forwarded: server.proxy.counters.forwarded,
    registrations: server.registrar.registrations,
    ...guardCounts,
    rssBytes: process.memoryUsage().rss,
  };
}

process.on('message', (m: HarnessRequest) => {
  switch (m.type) {
    case 'allow':
      allowUdp(m.address, m.port);
      reply({ type: 'allowed' });
      break;
    case 'stats':
      reply({ type: 'stats', stats: stats() });
      break;
    case 'stop':
      server.close().then(
        () => {
          rmSync(dataDir, { recursive: true, force: true });
          process.exit(0);
        },
        () => process.exit(1),
      );
      break;
  }
});

reply({ type: 'ready', port });
