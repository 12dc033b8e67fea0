/**
 * Runs one Switchboard in its own process, so the bench can read its CPU and
 * memory from /proc exactly as it reads Kamailio's.
 *
 *   node dist/bench/lib/run-switchboard.js CONFIG.yaml [PROFILE_DIR]
 *
 * Prints one line `READY {"udp":"127.0.0.1:PORT"}` once listening; SIGTERM or
 * SIGINT closes the server and exits 0. With PROFILE_DIR, SIGUSR2 starts the
 * V8 CPU profiler and the stop writes PROFILE_DIR/switchboard.cpuprofile, so
 * a profile covers the measured load only (not start-up or warm-up).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import { startServer } from '../../src/cli/server.js';
import { hostPort } from '../../src/util/listen.js';

async function main(): Promise<void> {
  const [file, profileDir] = process.argv.slice(2);
  if (!file) {
    console.error('usage: run-switchboard CONFIG.yaml [PROFILE_DIR]');
    process.exit(2);
  }
  const server = await startServer(loadConfigFile(file));
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
  const udp = server.endpoints.find((e) => e.proto === 'udp');
  console.log(`READY ${JSON.stringify({ udp: udp ? hostPort(udp) : undefined, admin: hostPort(server.admin), users: server.config.users.size })}`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
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
