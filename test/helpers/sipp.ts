/**
 * SIPp (Debian sip-tester) as a real peer: a UAC run that reports how many
 * calls succeeded, and a long-running UAS. Everything binds to 127.0.0.1,
 * never reads stdin (-nostdin) and has a hard deadline.
 *
 * SIPp's verdict comes from its statistics file (-trace_stat -stf), last row,
 * cumulative columns SuccessfulCall(C) / FailedCall(C); its exit code is
 * 0 all calls succeeded, 1 some failed, 97 stopped by -timeout or a signal,
 * 99 no call processed, 255/254 fatal (bad scenario, cannot bind).
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { realClock, type Clock } from '../../src/util/clock.js';
import { isPortFree, freePort, type PortProto } from './ports.js';
import { sleep, spawnBounded, type Spawned } from './process.js';
import { repoRoot } from './repo.js';

export { freePort } from './ports.js';

export type SippTransport = 'u1' | 'un' | 't1' | 'tn' | 'l1' | 'ln';

/** Options shared by a UAC run and a UAS. */
export interface SippCommonOptions {
  /** A path to an XML file, a file name in SCENARIOS_DIR, or a built-in (-sn) such as 'uac' / 'uas'. */
  scenario: string;
  transport?: SippTransport;
  localPort?: number;
  /** The loopback address SIPp binds (signalling and media): 127.0.0.1 unless a test needs another host, e.g. a carrier at 127.0.0.5. */
  address?: string;
  /** -s: the user part of the Request-URI (the callee for our UAC scenarios). */
  service?: string;
  /** -au / -ap: credentials for a bare [authentication] keyword. */
  authUser?: string;
  authPass?: string;
  /** -inf: an injection CSV (see writeUsersCsv). */
  injectCsv?: string;
  /** -key NAME VALUE for each entry: generic [NAME] keywords (register-contact.xml). */
  keys?: Record<string, string>;
  /** -d: length of each <pause/> in ms. */
  pauseMs?: number;
  /** -recv_timeout: a call waiting longer than this for a message fails. */
  recvTimeoutMs?: number;
  /** Keep a SIP message trace; its text is returned in `messages`. */
  traceMessages?: boolean;
  extraArgs?: string[];
  clock?: Clock;
}

export interface SippRunOptions extends SippCommonOptions {
  /** host:port of the system under test. */
  target: string;
  transport: SippTransport;
  /** -m: stop after this many calls (default 1). */
  calls?: number;
  /** -r: calls per rate period (default 10). */
  rate?: number;
  /** -rp: the rate period in ms (default 1000). */
  ratePeriodMs?: number;
  /** -l: cap on simultaneous calls. */
  maxConcurrent?: number;
  /** SIPp quits after this (-timeout); interrupted 1 s later if still there (then `killed`). */
  timeoutS: number;
}

export interface SippResult {
  exitCode: number;
  successful: number;
  failed: number;
  stdout: string;
  stderr: string;
  /** Unexpected messages and call errors SIPp logged (-trace_err), for assertion messages. */
  errors: string;
  /** The SIP message trace when traceMessages was set. */
  messages: string;
  /** True when the deadline had to interrupt SIPp: calls still running then count as neither. */
  killed: boolean;
}



export const SCENARIOS_DIR = path.join(repoRoot(), 'test', 'interop', 'scenarios');

const BUILT_INS = new Set(['uac', 'uas', 'regexp', 'branchc', 'branchs', '3pcc-C-A', '3pcc-C-B', '3pcc-A', '3pcc-B']);

function scenarioArgs(scenario: string): string[] {
  if (BUILT_INS.has(scenario)) return ['-sn', scenario];
  const file = path.isAbsolute(scenario) || scenario.includes('/') ? scenario : path.join(SCENARIOS_DIR, scenario);
  if (!existsSync(file)) throw new Error(`SIPp scenario not found: ${file}`);
  return ['-sf', path.resolve(file)];
}

let tlsSupport: Promise<boolean> | undefined;

/** Debian's sipp 3.6.1 is built without OpenSSL: -t l1 fails. */
export function sippSupportsTls(): Promise<boolean> {
  tlsSupport ??= new Promise((resolve) => {
    execFile('sipp', ['-v'], (_err, stdout) => resolve(/TLS/.test(String(stdout))));
  });
  return tlsSupport;
}

/** SIPp with every socket it opens (signalling, media, control) on 127.0.0.1, and no stdin. */
export function loopbackArgs(port: number, transport: SippTransport = 'u1', address = '127.0.0.1'): string[] {
  if (!/^127\.\d+\.\d+\.\d+$/.test(address)) throw new Error(`SIPp stays on loopback: ${address} is not in 127.0.0.0/8`);
  return [
    '-t', transport,
    '-i', address,
    '-p', String(port),
    '-bind_local',
    '-mi', address,
    // The control socket defaults to 0.0.0.0:8888.
    '-ci', address,
    '-nostdin',
  ];
}

function commonArgs(o: SippCommonOptions, port: number, dir: string): string[] {
  const a = [
    ...scenarioArgs(o.scenario),
    ...loopbackArgs(port, o.transport, o.address),
    '-trace_stat', '-stf', path.join(dir, 'stat.csv'),
    '-trace_screen', '-screen_file', path.join(dir, 'screen.log'),
    '-trace_err', '-error_file', path.join(dir, 'errors.log'),
  ];
  if (o.service !== undefined) a.push('-s', o.service);
  if (o.authUser !== undefined) a.push('-au', o.authUser);
  if (o.authPass !== undefined) a.push('-ap', o.authPass);
  if (o.injectCsv !== undefined) a.push('-inf', path.resolve(o.injectCsv));
  for (const [k, v] of Object.entries(o.keys ?? {})) a.push('-key', k, v);
  if (o.pauseMs !== undefined) a.push('-d', String(o.pauseMs));
  if (o.recvTimeoutMs !== undefined) a.push('-recv_timeout', String(o.recvTimeoutMs));
  if (o.traceMessages) a.push('-trace_msg', '-message_file', path.join(dir, 'messages.log'));
  return a;
}

async function checkTransport(t: SippTransport | undefined): Promise<void> {
  if ((t === 'l1' || t === 'ln') && !(await sippSupportsTls())) {
    throw new Error('this sipp is built without TLS (sipp -v shows no TLS); run TLS tests with another peer');
  }
}

function protoOf(t: SippTransport | undefined): PortProto {
  return t === undefined || t.startsWith('u') ? 'udp' : 'tcp';
}

/** Cumulative success/failure counts from the last row of a -trace_stat file. */
export function parseStatCsv(text: string): { successful: number; failed: number } | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return null;
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const ok = head.indexOf('SuccessfulCall(C)');
  const bad = head.indexOf('FailedCall(C)');
  if (ok < 0 || bad < 0) return null;
  const successful = Number(last[ok]);
  const failed = Number(last[bad]);
  if (!Number.isFinite(successful) || !Number.isFinite(failed)) return null;
  return { successful, failed };
}

/** Fallback: the "Successful call | periodic | cumulative" rows of a -trace_screen dump. */
export function parseScreen(text: string): { successful: number; failed: number } | null {
  const grab = (label: string): number | null => {
    const rows = [...text.matchAll(new RegExp(`^\\s*${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'gm'))];
    return rows.length ? Number(rows[rows.length - 1][1]) : null;
  };
  const successful = grab('Successful call');
  const failed = grab('Failed call');
  return successful === null || failed === null ? null : { successful, failed };
}

async function readIfThere(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}

async function collect(dir: string, spawned: Spawned): Promise<SippResult> {
  const ex = await spawned.exited;
  const counts =
    parseStatCsv(await readIfThere(path.join(dir, 'stat.csv'))) ??
    parseScreen(await readIfThere(path.join(dir, 'screen.log'))) ?? { successful: 0, failed: 0 };
  // SIPp appends its pid to some names when it cannot use the one given.
  let errors = await readIfThere(path.join(dir, 'errors.log'));
  let messages = await readIfThere(path.join(dir, 'messages.log'));
  for (const f of await readdir(dir)) {
    if (!errors && f.endsWith('_errors.log')) errors = await readIfThere(path.join(dir, f));
    if (!messages && f.endsWith('_messages.log')) messages = await readIfThere(path.join(dir, f));
  }
  await rm(dir, { recursive: true, force: true });
  return {
    exitCode: ex.exitCode,
    successful: counts.successful,
    failed: counts.failed,
    stdout: ex.stdout,
    stderr: ex.stderr,
    errors,
    messages,
    killed: ex.killedByDeadline,
  };
}

/** Runs a SIPp client to completion (or -timeout) and reports its counts. */
export async function runSipp(opts: SippRunOptions): Promise<SippResult> {
  await checkTransport(opts.transport);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sipp-'));
  const port = opts.localPort ?? (await freePort(protoOf(opts.transport)));
  const args = [
    opts.target,
    ...commonArgs(opts, port, dir),
    '-m', String(opts.calls ?? 1),
    '-timeout', `${opts.timeoutS}s`,
  ];
  if (opts.rate !== undefined) args.push('-r', String(opts.rate));
  if (opts.ratePeriodMs !== undefined) args.push('-rp', String(opts.ratePeriodMs));
  if (opts.maxConcurrent !== undefined) args.push('-l', String(opts.maxConcurrent));
  args.push(...(opts.extraArgs ?? []));
  // SIPp 3.6.1 ignores -timeout once -m calls have started and it only waits
  // for them to end (an unanswered INVITE keeps it 32 s), so the deadline
  // interrupts it 1 s after; SIGINT still writes the final statistics.
  const spawned = spawnBounded('sipp', args, {
    cwd: dir,
    deadlineMs: opts.timeoutS * 1000 + 1000,
    deadlineSignal: 'SIGINT',
    clock: opts.clock,
  });
  return collect(dir, spawned);
}

export interface SippUasOptions extends SippCommonOptions {
  /** Default: the built-in 'uas' scenario. */
  scenario: string;
  /** Stop by itself after this many calls (-m). */
  calls?: number;
  /** Safety net: SIPp exits after this even if nobody stops it (default 300). */
  timeoutS?: number;
  /** How long start waits for the port to be bound (default 5000 ms). */
  startTimeoutMs?: number;
}

export interface SippUas {
  port: number;
  /** Soft stop (SIGUSR1: finish calls in progress), then SIGINT after graceMs (default 3000), then SIGKILL. */
  stop(graceMs?: number): Promise<SippResult>;
  /** Resolves when SIPp exits by itself (after `calls` calls or its timeout). */
  done: Promise<SippResult>;
}

/** Starts a SIPp server that answers on 127.0.0.1:port; resolves once the port is bound. */
export async function startSippUas(opts: Partial<SippUasOptions> = {}): Promise<SippUas> {
  const o: SippUasOptions = { scenario: 'uas', ...opts };
  await checkTransport(o.transport);
  const clock = o.clock ?? realClock;
  const proto = protoOf(o.transport);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sipp-uas-'));
  const port = o.localPort ?? (await freePort(proto));
  const timeoutS = o.timeoutS ?? 300;
  const args = [...commonArgs(o, port, dir), '-timeout', `${timeoutS}s`];
  if (o.calls !== undefined) args.push('-m', String(o.calls));
  args.push(...(o.extraArgs ?? []));
  const spawned = spawnBounded('sipp', args, { cwd: dir, deadlineMs: timeoutS * 1000 + 1000, deadlineSignal: 'SIGINT', clock });
  const done = collect(dir, spawned);

  let exitedEarly = false;
  spawned.onExit(() => {
    exitedEarly = true;
  });
  const deadline = clock.now() + (o.startTimeoutMs ?? 5000);
  while (await isPortFree(port, proto, o.address)) {
    if (exitedEarly || clock.now() > deadline) {
      spawned.child.kill('SIGKILL');
      const r = await done;
      throw new Error(`SIPp UAS did not bind ${o.address ?? '127.0.0.1'}:${port} (exit ${r.exitCode}): ${r.stderr.slice(-2000)}`);
    }
    await sleep(50, clock);
  }

  return {
    port,
    done,
    async stop(graceMs = 3000) {
      // SIGUSR1 lets calls in progress finish; SIGINT (like Ctrl-C) still
      // writes the final statistics; SIGKILL (from kill's own grace) does not.
      spawned.child.kill('SIGUSR1');
      const gone = await Promise.race([spawned.exited.then(() => true), sleep(graceMs, clock).then(() => false)]);
      if (!gone) await spawned.kill('SIGINT', 2000);
      return done;
    },
  };
}

export interface CsvUser {
  user: string;
  password: string;
  domain: string;
}

/**
 * Injection file for register-auth.xml, uac-call-auth.xml, uac-cancel.xml and
 * uac-call-expect-486.xml: field0 user, field1 the whole [authentication ...]
 * keyword (SIPp 3.6.1 will not expand [field1] inside it), field2 domain.
 * SEQUENTIAL: call N uses line N (wrapping), so -m N registers N users.
 */
export async function writeUsersCsv(file: string, users: CsvUser[]): Promise<string> {
  for (const u of users) {
    for (const v of [u.user, u.password, u.domain]) {
      if (/[;\s\]\r\n]/.test(v)) throw new Error(`CSV value ${JSON.stringify(v)} has ';', ']' or whitespace`);
    }
  }
  const lines = users.map((u) => `${u.user};[authentication username=${u.user} password=${u.password}];${u.domain}`);
  await writeFile(file, ['SEQUENTIAL', ...lines, ''].join('\n'));
  return file;
}
