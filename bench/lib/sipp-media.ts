/**
 * SIPp with media for bench/pbx.ts (sip-tester 3.6.1 built with RTPSTREAM):
 * callers that stream G.711 from a file (`rtp_stream`), a callee that
 * echoes every RTP packet back (`-rtp_echo`), and the latency probe's call
 * whose SDP names the probe's own sockets.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeUlaw } from '../../src/media/codecs/g711.js';
import { ToneGenerator } from '../../src/media/dsp/tone.js';
import { realClock } from '../../src/util/clock.js';
import { freePort, isPortFree } from '../../test/helpers/ports.js';
import { sleep, spawnBounded } from '../../test/helpers/process.js';
import { loopbackArgs, parseStatCsv, runSipp, startSippUas, type SippUas } from '../../test/helpers/sipp.js';
import { pidsWithArgs } from './procstat.js';
import { SIPP_SOCKET_BUFFER } from './sipp-load.js';
import { repoRoot } from './targets.js';

const SCENARIOS = path.join(repoRoot(), 'bench', 'scenarios');

/** One second of a 1 kHz tone at -12 dBFS as raw mu-law: what rtp_stream loops (160 bytes a packet). */
export function writeToneFile(file: string): string {
  const pcm = new Int16Array(8000);
  new ToneGenerator({ freqs: [1000], levelDbfs: -12 }, 8000).fill(pcm);
  const out = Buffer.alloc(8000);
  encodeUlaw(pcm, out);
  writeFileSync(file, out);
  return file;
}

/** bench/scenarios/uac-media-call.xml with the tone file's path written in (SIPp will not expand a key there). */
export function mediaCallScenario(dir: string, toneFile: string): string {
  if (/[",<>&]/.test(toneFile)) throw new Error(`the tone file's path may not hold " , < > &: ${toneFile}`);
  const text = readFileSync(path.join(SCENARIOS, 'uac-media-call.xml'), 'utf8').replaceAll('@RTPFILE@', toneFile);
  const out = path.join(dir, 'uac-media-call.xml');
  writeFileSync(out, text);
  return out;
}

/**
 * A port for SIPp's media socket (-mp): SIPp binds it and the one two above
 * (for video), and with -mp it does not look further.
 */
export async function mediaPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort('udp', { even: true });
    if (p + 2 < 65536 && (await isPortFree(p + 2, 'udp'))) return p;
  }
  throw new Error('no free even UDP port pair for SIPp media on 127.0.0.1');
}

/** The SIPp options for media on `port`: echo on (see the scenarios for why a caller wants it too). */
export function mediaArgs(port: number): string[] {
  return ['-rtp_echo', '-mp', String(port)];
}

export interface MediaUas extends SippUas {
  pid: number | undefined;
}

/** A callee that answers every call with PCMU and echoes its RTP; lives for the whole part. */
export async function startEchoUas(service: string, timeoutS: number): Promise<MediaUas> {
  const mp = await mediaPort();
  const uas = await startSippUas({
    scenario: path.join(SCENARIOS, 'uas-echo-answer.xml'),
    service,
    timeoutS,
    extraArgs: ['-buff_size', String(SIPP_SOCKET_BUFFER), ...mediaArgs(mp)],
  });
  return { ...uas, pid: pidsWithArgs('sipp', ['-p', String(uas.port)])[0] };
}

/** The probe's callee: answers with the probe's callee socket in its SDP. */
export async function startProbeUas(service: string, probePort: number, timeoutS: number): Promise<MediaUas> {
  const mp = await mediaPort();
  const uas = await startSippUas({
    scenario: path.join(SCENARIOS, 'uas-probe-answer.xml'),
    service,
    timeoutS,
    keys: { probe_port: String(probePort) },
    extraArgs: ['-mp', String(mp)],
  });
  return { ...uas, pid: pidsWithArgs('sipp', ['-p', String(uas.port)])[0] };
}

/** Binds `user` at the target to a SIPp on 127.0.0.1:`port` (credentials for Switchboard; Kamailio does not ask). */
export async function registerContact(targetSip: string, user: string, password: string, port: number): Promise<void> {
  const r = await runSipp({
    scenario: 'register-contact.xml',
    target: targetSip,
    transport: 'u1',
    keys: { user, domain: '127.0.0.1', contact: `127.0.0.1:${port}`, expires: '3600' },
    authUser: user,
    authPass: password,
    calls: 1,
    timeoutS: 10,
  });
  if (r.successful !== 1) throw new Error(`could not register ${user} at ${targetSip}: ${r.errors.slice(-1500)} ${r.stderr.slice(-500)}`);
}

export interface ProbeCall {
  /** Waits (at most 10 s) for the answer: where the relay takes the caller's media (its SDP). */
  media(): Promise<{ address: string; port: number }>;
  /** The call's end: did SIPp count it successful. */
  done: Promise<{ ok: boolean; why: string }>;
  stop(): Promise<void>;
}

/** The media address of the first SDP SIPp received in `log` (its -trace_msg file), if any yet. */
function answeredMedia(log: string): { address: string; port: number } | undefined {
  for (const block of log.split(/^-{20,}.*$/m)) {
    if (!/message received/.test(block)) continue;
    const m = /^\s*m=audio (\d+) /m.exec(block);
    if (!m) continue;
    const c = /^\s*c=IN IP4 ([\d.]+)/m.exec(block);
    return { address: c?.[1] ?? '127.0.0.1', port: Number(m[1]) };
  }
  return undefined;
}

/**
 * One call from the probe's caller socket to `service`, held `holdMs`. Its
 * SIP trace is read as it is written, to learn the relay's port for the
 * caller's media.
 */
export async function startProbeCall(targetSip: string, service: string, probePort: number, holdMs: number): Promise<ProbeCall> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-bench-probe-'));
  const port = await freePort('udp');
  const mp = await mediaPort();
  const messages = path.join(dir, 'messages.log');
  const timeoutS = Math.ceil(holdMs / 1000) + 20;
  const args = [
    targetSip,
    '-sf', path.join(SCENARIOS, 'uac-probe-call.xml'),
    ...loopbackArgs(port),
    '-mp', String(mp),
    '-m', '1',
    '-s', service,
    '-d', String(holdMs),
    '-key', 'probe_port', String(probePort),
    '-recv_timeout', '10000',
    '-timeout', `${timeoutS}s`,
    '-trace_msg', '-message_file', messages,
    '-trace_stat', '-stf', path.join(dir, 'stat.csv'),
    '-trace_err', '-error_file', path.join(dir, 'errors.log'),
  ];
  const spawned = spawnBounded('sipp', args, { cwd: dir, deadlineMs: (timeoutS + 1) * 1000, deadlineSignal: 'SIGINT' });
  let exited = false;
  spawned.onExit(() => {
    exited = true;
  });
  const media = async (): Promise<{ address: string; port: number }> => {
    const deadline = realClock.now() + 10_000;
    for (;;) {
      const found = answeredMedia(await readFile(messages, 'utf8').catch(() => ''));
      if (found) return found;
      if (exited || realClock.now() > deadline) throw new Error(`the probe call was not answered with SDP within 10 s: ${spawned.stderr().slice(-500)}`);
      await sleep(50);
    }
  };
  const done = (async () => {
    const ex = await spawned.exited;
    const stat = parseStatCsv(await readFile(path.join(dir, 'stat.csv'), 'utf8').catch(() => ''));
    const errors = await readFile(path.join(dir, 'errors.log'), 'utf8').catch(() => '');
    await rm(dir, { recursive: true, force: true });
    const ok = stat?.successful === 1 && stat.failed === 0;
    return { ok, why: ok ? '' : `probe call: exit ${ex.exitCode}, ${errors.slice(-500) || ex.stderr.slice(-500)}` };
  })();
  return {
    media,
    done,
    stop: async () => {
      await spawned.kill('SIGINT', 2000);
    },
  };
}
