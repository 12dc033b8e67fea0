/**
 * Runs one Switchboard in its own process, so the bench can read its CPU and
 * memory from /proc exactly as it reads Kamailio's.
 *
 *   node --expose-gc dist/bench/lib/run-switchboard.js CONFIG.yaml [PROFILE_DIR]
 *
 * Prints one line `READY {"udp":"127.0.0.1:PORT"}` once listening; SIGTERM or
 * SIGINT closes the server and exits 0. With PROFILE_DIR, SIGUSR2 starts the
 * V8 CPU profiler and the stop writes PROFILE_DIR/switchboard.cpuprofile, so
 * a profile covers the measured load only (not start-up or warm-up).
 *
 * Standard input takes one command a line, each answered by one line
 * `REPLY <id> <json>` (see inspect.ts): `<id> mem` (heap and tables),
 * `<id> mem-gc` (the same after a full garbage collection, needs --expose-gc),
 * `<id> snapshot FILE` (a V8 heap snapshot), `<id> loop-start` and `<id> loop`
 * (event-loop delay and the server's quiet-time collections in between). They let
 * the bench see inside the process without an admin route the product would
 * have to carry.
 */
import { v8Collector } from '../../src/util/idle-gc.js';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import v8 from 'node:v8';
import { loadConfigFile } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/cli/server.js';
import { hostPort } from '../../src/util/listen.js';
import type { InsideReport, LoopReport } from './inspect.js';

function inside(server: RunningServer): InsideReport {
  const m = process.memoryUsage();
  const h = v8.getHeapStatistics();
  const mb = (n: number): number => n / 2 ** 20;
  const tx = server.stack.stats().transactions;
  return {
    rssMb: mb(m.rss),
    heapUsedMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
    heapLimitMb: mb(h.heap_size_limit),
    spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((sp) => [sp.space_name, { sizeMb: mb(sp.space_size), usedMb: mb(sp.space_used_size) }])),
    transactions: tx,
    // The counts, not server.status(): that builds a row per registration only to be measured.
    dialogs: server.proxy.calls.size,
    registrations: server.registrar.bindingCount,
    traces: server.traces.stats(),
  };
}

function collectGarbage(): void {
  const gc = v8Collector();
  if (!gc) throw new Error('this node cannot force a collection (run with --expose-gc)');
  gc();
}

/** The server's own quiet-time collector, timed: a full collection stalls every call's media. */
function timedCollector(): { collect: (() => void) | undefined; take(): Pick<LoopReport, 'idleCollections' | 'idleCollectionMs' | 'idleCollectionMaxMs'> } {
  const gc = v8Collector();
  let n = 0;
  let total = 0;
  let max = 0;
  return {
    collect: gc
      ? () => {
          const t0 = performance.now();
          gc();
          const ms = performance.now() - t0;
          n++;
          total += ms;
          max = Math.max(max, ms);
        }
      : undefined,
    take() {
      const r = { idleCollections: n, idleCollectionMs: total, idleCollectionMaxMs: max };
      n = 0;
      total = 0;
      max = 0;
      return r;
    },
  };
}

async function main(): Promise<void> {
  const [file, profileDir] = process.argv.slice(2);
  if (!file) {
    console.error('usage: run-switchboard CONFIG.yaml [PROFILE_DIR]');
    process.exit(2);
  }
  const collector = timedCollector();
  const server = await startServer(loadConfigFile(file), { collectGarbage: collector.collect });
  // Sampled only between `loop-start` and `loop`: its timer costs about 1% of a core here even when idle.
  const loopEveryMs = 10;
  const loop = monitorEventLoopDelay({ resolution: loopEveryMs });
  let session: Session | undefined;
  if (profileDir) {
    process.on('SIGUSR2', () => {
      if (session) return;
      session = new Session();
      session.connect();
      session
        .post('Profiler.enable')
        .then(() => session?.post('Profiler.start'))
        .catch((err: unknown) => console.error(`could not start the profiler: ${String(err)}`));
    });
  }
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    const [id, cmd, arg] = line.trim().split(/\s+/, 3);
    let reply: unknown;
    try {
      if (cmd === 'mem') reply = inside(server);
      else if (cmd === 'mem-gc') {
        collectGarbage();
        reply = inside(server);
      } else if (cmd === 'loop-start') {
        loop.reset();
        loop.enable();
        collector.take();
        reply = {};
      } else if (cmd === 'loop') {
        loop.disable();
        // The histogram holds whole intervals between its timer's runs: the delay is what exceeds the period.
        const ms = (ns: number): number => Math.max(0, ns / 1e6 - loopEveryMs);
        const r: LoopReport = { p50Ms: ms(loop.percentile(50)), p99Ms: ms(loop.percentile(99)), maxMs: ms(loop.max), ...collector.take() };
        reply = r;
      } else if (cmd === 'snapshot' && arg) {
        collectGarbage();
        reply = { file: v8.writeHeapSnapshot(arg) };
      } else reply = { error: `unknown command ${JSON.stringify(line)}` };
    } catch (err) {
      reply = { error: String(err) };
    }
    console.log(`REPLY ${id} ${JSON.stringify(reply)}`);
  });
  const udp = server.endpoints.find((e) => e.proto === 'udp');
  console.log(`READY ${JSON.stringify({ udp: udp ? hostPort(udp) : undefined, admin: hostPort(server.admin), users: server.config.users.size })}`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    commands.close();
    loop.disable();
    if (session && profileDir) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path.join(profileDir, 'switchboard.cpuprofile'), JSON.stringify(profile));
      session.disconnect();
    }
    await server.close();
    process.exit(0);
  };
  const stopNow = (): void => {
    stop().catch((err: unknown) => {
      console.error(`stopping failed: ${String(err)}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', stopNow);
  process.on('SIGINT', stopNow);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : String(err));
  process.exit(1);
});
