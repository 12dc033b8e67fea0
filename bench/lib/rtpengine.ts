/**
 * The reference media relay for bench/pbx.ts: Kamailio (registrar +
 * record-routing proxy, bench/kamailio/kamailio-rtpengine.cfg) with every
 * call's media put through rtpengine (Debian rtpengine-daemon) forwarding in
 * userspace (`--table=-1`: no kernel module), controlled over its ng
 * protocol on loopback UDP. Measured as one target: the CPU of Kamailio's
 * processes plus rtpengine's threads, and each alone.
 */
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { sleep, spawnBounded, type Spawned } from '../../test/helpers/process.js';
import { realClock } from '../../src/util/clock.js';
import { cpuSeconds, memory, processTree, type Memory } from './procstat.js';
import { startKamailio, type Target } from './targets.js';

export const RTPENGINE_BIN = '/usr/bin/rtpengine';

export function hasRtpengine(): boolean {
  return existsSync(RTPENGINE_BIN);
}

/** `rtpengine --version` prints "Version: X" on standard error. */
export function rtpengineVersion(): string {
  const r = spawnSync(RTPENGINE_BIN, ['--version'], { encoding: 'utf8' });
  const v = /Version:\s*(\S+)/i.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1];
  return v ? `rtpengine ${v}` : 'rtpengine (version unknown)';
}

export interface Rtpengine {
  pid: number;
  /** host:port of its ng control socket. */
  ng: string;
  cpuSeconds(): number;
  memory(): Memory;
  stop(): Promise<void>;
}

/** Any rtpengine a hung run left behind is killed after this. */
const LIFETIME_MS = 30 * 60_000;

/** An ng ping (bencoded `d7:command4:pinge`): true once rtpengine answers pong within `timeoutMs`. */
async function ngPing(port: number, timeoutMs: number): Promise<boolean> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = realClock.setTimer(timeoutMs, () => resolve(false));
      sock.on('message', (msg) => {
        timer.cancel();
        resolve(msg.toString('latin1').includes('4:pong'));
      });
      sock.on('error', () => {
        timer.cancel();
        resolve(false);
      });
      sock.send(Buffer.from('bench1 d7:command4:pinge', 'latin1'), port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

export interface RtpengineOptions {
  workDir: string;
  /** Forwarding threads (rtpengine's --num-threads). */
  threads: number;
  /** The media ports it may allocate. */
  portMin: number;
  portMax: number;
}

export async function startRtpengine(o: RtpengineOptions): Promise<Rtpengine> {
  mkdirSync(o.workDir, { recursive: true });
  const ngPort = await freePort('udp');
  const args = [
    '--config-file=none',
    '--foreground',
    '--log-stderr',
    // Warnings and worse: per-packet or per-call logging would be measured too.
    '--log-level=4',
    // Userspace forwarding: no kernel module (none is loaded here; a real box would use it).
    '--table=-1',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`,
    `--port-min=${o.portMin}`,
    `--port-max=${o.portMax}`,
    `--num-threads=${o.threads}`,
    `--pidfile=${path.join(o.workDir, 'rtpengine.pid')}`,
  ];
  const spawned: Spawned = spawnBounded(RTPENGINE_BIN, args, { cwd: o.workDir, deadlineMs: LIFETIME_MS });
  let exited = false;
  spawned.onExit(() => {
    exited = true;
  });
  const deadline = realClock.now() + 15_000;
  while (!(await ngPing(ngPort, 300))) {
    if (exited || realClock.now() > deadline) {
      await spawned.kill('SIGKILL');
      throw new Error(`rtpengine did not answer an ng ping on 127.0.0.1:${ngPort}:\n${spawned.stderr().slice(-3000)}`);
    }
    await sleep(200);
  }
  const pid = spawned.child.pid!;
  return {
    pid,
    ng: `127.0.0.1:${ngPort}`,
    // One process, many threads: /proc/PID/stat counts them all.
    cpuSeconds: () => cpuSeconds(pid),
    memory: () => memory([pid]),
    stop: async () => {
      await spawned.kill('SIGTERM', 5000);
    },
  };
}

/** Kamailio + rtpengine as one target; `media` is rtpengine alone, `signalling` Kamailio alone. */
export interface RelayReference extends Target {
  rtpengine: Rtpengine;
  signallingCpuSeconds(): number;
  mediaCpuSeconds(): number;
}

export interface RelayReferenceOptions {
  workDir: string;
  /** Kamailio's UDP workers. */
  children: number;
  /** rtpengine's forwarding threads. */
  threads: number;
}

export async function startKamailioRtpengine(o: RelayReferenceOptions): Promise<RelayReference> {
  const rtpengine = await startRtpengine({ workDir: path.join(o.workDir, 'rtpengine'), threads: o.threads, portMin: 30000, portMax: 39999 });
  let kam: Target;
  try {
    kam = await startKamailio({
      workDir: path.join(o.workDir, 'kamailio'),
      children: o.children,
      template: 'kamailio-rtpengine.cfg',
      vars: { NGPORT: rtpengine.ng.split(':')[1] },
      name: 'Kamailio+rtpengine',
      shmMb: 256,
    });
  } catch (err) {
    await rtpengine.stop();
    throw err;
  }
  return {
    ...kam,
    rtpengine,
    cpuSeconds: () => kam.cpuSeconds() + rtpengine.cpuSeconds(),
    signallingCpuSeconds: () => kam.cpuSeconds(),
    mediaCpuSeconds: () => rtpengine.cpuSeconds(),
    memory: () => {
      const k = memory(processTree(kam.pid));
      const r = rtpengine.memory();
      return { rssMb: k.rssMb + r.rssMb, peakMb: k.peakMb + r.peakMb, pssMb: k.pssMb + r.pssMb };
    },
    stop: async () => {
      await kam.stop();
      await rtpengine.stop();
    },
  };
}
