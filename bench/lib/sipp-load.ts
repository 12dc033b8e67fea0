/**
 * One SIPp load run for the bench: N calls (or registrations) at a target
 * rate, with the numbers a rate search needs: successes, failures,
 * retransmissions, the rate SIPp actually achieved, and SIPp's own CPU (so a
 * result limited by the load generator is recognisable as such).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { spawnBounded } from '../../test/helpers/process.js';
import { loopbackArgs } from '../../test/helpers/sipp.js';
import { realClock } from '../../src/util/clock.js';
import { cpuSeconds } from './procstat.js';

/** Socket buffer for SIPp (-buff_size); the kernel caps it at net.core.rmem_max. */
export const SIPP_SOCKET_BUFFER = 4 * 1024 * 1024;

export interface LoadOptions {
  scenario: string;
  /** host:port of the system under test. */
  target: string;
  calls: number;
  rate: number;
  /** -s: the Request-URI user (the callee). */
  service?: string;
  injectCsv?: string;
  keys?: Record<string, string>;
  /** A call waiting longer than this for a message counts as failed (default 5000 ms). */
  recvTimeoutMs?: number;
  /** Cap on simultaneous calls (default 10 s worth of the rate): beyond it SIPp slows down instead of failing. */
  maxConcurrent?: number;
  /** -d: how long each call's <pause/> holds it up, ms; the run's deadline grows by as much. */
  holdMs?: number;
  /** More SIPp options (e.g. -rtp_echo, -mp PORT for a scenario with media). */
  extraArgs?: string[];
  /** Called with SIPp's pid once it is spawned (to read its CPU over a window). */
  onSpawn?(pid: number): void;
}

export interface LoadResult {
  successful: number;
  failed: number;
  created: number;
  retransmissions: number;
  /** Calls created per second while SIPp was creating them. */
  achievedRate: number;
  /** Seconds from spawn to exit as seen by us. */
  wallS: number;
  /** CPU seconds SIPp used. */
  sippCpuS: number;
  exitCode: number;
  killed: boolean;
  /** Last lines of SIPp's error log, to explain failures. */
  errorsTail: string;
}

interface StatRow {
  [column: string]: string;
}

function statRows(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return [];
  const head = lines[0].split(';');
  return lines.slice(1).map((line) => {
    const cells = line.split(';');
    const row: StatRow = {};
    head.forEach((h, i) => {
      row[h] = cells[i] ?? '';
    });
    return row;
  });
}

/**
 * Seconds SIPp took to create `calls` calls, interpolated between the
 * once-a-second statistics rows (-fd 1). Failing calls linger until their
 * receive timeout; measuring creation keeps that tail out of the rate.
 */
function creationSeconds(rows: StatRow[], calls: number): number {
  const t0 = epoch(rows[0]?.['StartTime']);
  let prevT = t0;
  let prevC = 0;
  for (const r of rows) {
    const t = epoch(r['CurrentTime']);
    const c = Number(r['OutgoingCall(C)']) || 0;
    if (c >= calls) {
      const frac = c === prevC ? 1 : (calls - prevC) / (c - prevC);
      return prevT - t0 + frac * (t - prevT);
    }
    prevT = t;
    prevC = c;
  }
  return NaN;
}

/** Time columns read "2026-11-25\t14:44:09.215634\t1795617849.215634": the last field is epoch seconds. */
function epoch(v: string | undefined): number {
  if (!v) return NaN;
  const parts = v.split('\t');
  return Number(parts[parts.length - 1]);
}

async function readIfThere(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (!existsSync(o.scenario)) throw new Error(`SIPp scenario not found: ${o.scenario}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sb-bench-sipp-'));
  const port = await freePort('udp');
  const sendS = Math.ceil(o.calls / o.rate);
  // SIPp's -timeout is ignored once -m calls are running, so our deadline (SIGINT, which
  // still writes the statistics) is what bounds a run: sending time plus room for the tail.
  const timeoutS = sendS + 15 + Math.ceil((o.holdMs ?? 0) / 1000);
  const args = [
    o.target,
    '-sf', o.scenario,
    ...loopbackArgs(port),
    '-m', String(o.calls),
    '-r', String(o.rate),
    '-l', String(o.maxConcurrent ?? Math.max(1000, o.rate * 10)),
    '-recv_timeout', String(o.recvTimeoutMs ?? 5000),
    // SIPp's default socket buffer is 64 KB: at thousands of calls/s a burst overflows
    // it and the lost datagrams show up as the proxy's failures.
    '-buff_size', String(SIPP_SOCKET_BUFFER),
    '-timeout', `${timeoutS}s`,
    '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1',
    '-trace_err', '-error_file', path.join(dir, 'errors.log'),
  ];
  if (o.service !== undefined) args.push('-s', o.service);
  if (o.injectCsv !== undefined) args.push('-inf', path.resolve(o.injectCsv));
  for (const [k, v] of Object.entries(o.keys ?? {})) args.push('-key', k, v);
  if (o.holdMs !== undefined) args.push('-d', String(o.holdMs));
  args.push(...(o.extraArgs ?? []));

  const started = realClock.now();
  const spawned = spawnBounded('sipp', args, { cwd: dir, deadlineMs: (timeoutS + 1) * 1000, deadlineSignal: 'SIGINT' });
  const pid = spawned.child.pid;
  if (pid !== undefined) o.onSpawn?.(pid);
  // SIPp's CPU is only readable while it runs: sample it until it exits.
  let sippCpuS = 0;
  let sampling = true;
  const sample = (): void => {
    if (!sampling || pid === undefined) return;
    const c = cpuSeconds(pid);
    if (c > 0) sippCpuS = c;
    realClock.setTimer(100, sample);
  };
  sample();
  const ex = await spawned.exited;
  sampling = false;
  const wallS = (realClock.now() - started) / 1000;

  const rows = statRows(await readIfThere(path.join(dir, 'stat.csv')));
  const row = rows[rows.length - 1];
  const errors = await readIfThere(path.join(dir, 'errors.log'));
  await rm(dir, { recursive: true, force: true });
  const num = (k: string): number => Number(row?.[k] ?? 0) || 0;
  const created = num('OutgoingCall(C)');
  const spanS = creationSeconds(rows, o.calls);
  return {
    successful: num('SuccessfulCall(C)'),
    failed: num('FailedCall(C)'),
    created,
    retransmissions: num('Retransmissions(C)'),
    achievedRate: spanS > 0 ? o.calls / spanS : created / Math.max(wallS, 1e-3),
    wallS,
    sippCpuS,
    exitCode: ex.exitCode,
    killed: ex.killedByDeadline,
    errorsTail: (errors || ex.stderr).slice(-1500),
  };
}
