/**
 * baresip 1.0 (Debian) as a real softphone: headless, its SIP and RTP on
 * 127.0.0.1, audio from a WAV file (aufile) into a null ALSA player, what it
 * hears written per call as WAV (sndfile), driven over ctrl_tcp (netstring
 * framed JSON). The working config is in /work/shared/PEERS.md.
 *
 * Call controls, as baresip 1.0 really behaves (checked by
 * test/interop/baresip-controls.test.ts):
 * - DTMF out: ctrl `sndcode 123#` sends every key as RFC 4733 telephone-events
 *   (PT 101; baresip always offers telephone-event/8000, audio_codecs need not
 *   name it). In: one `CALL_DTMF_START` event per key, its `param` the key,
 *   then `CALL_DTMF_END` (log: `received event: '1' (end=0)` / `(end=1)`).
 * - Hold/resume: ctrl `hold` / `resume` on the current call send a re-INVITE
 *   (log `call: hold <peer>` / `call: resume <peer>`; `listcalls` shows
 *   `(on hold)`). The held side logs only `call: got re-INVITE (SDP Offer)`
 *   and emits `CALL_REMOTE_SDP` with param `offer`: the hold is visible in
 *   `audio_debug` as `audio dir=recvonly` (back to `sendrecv` on resume).
 * - Blind transfer: ctrl `transfer <uri>` sends REFER; the transferor's call
 *   closes with `CALL_CLOSED` param `Call transfered`, the transferee emits
 *   `TRANSFER` (param = the Refer-To URI) and dials it. No attended transfer in 1.0.
 * - Answer/hang up: with `answermode=manual` an incoming call emits
 *   `CALL_INCOMING` (peeruri = caller) and waits for ctrl `accept`; ctrl
 *   `hangup` ends the current call. A call the peer ends logs
 *   `<peer uri>: session closed: <reason>`; every end emits `CALL_CLOSED`.
 * - An aufile source that reaches its end hangs the call up (`AUDIO_ERROR`
 *   `0,end of file`, then `CALL_CLOSED` `end of file`): give long calls a long tone.
 */
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { realClock, type Clock } from '../../src/util/clock.js';
import { freePort } from './ports.js';
import { sleep, spawnBounded, type Exited } from './process.js';
import { writeToneWav } from './wav.js';

/** SDP media direction as baresip's audio_debug prints it. */
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** Keys baresip can send as RFC 4733 events. */
const DTMF_KEYS = /^[0-9*#A-Da-d]+$/;

/** Module names (without .so) beyond g711 that a codec needs. */
const CODEC_MODULES: Record<string, string> = { g722: 'g722', opus: 'opus', g726: 'g726', gsm: 'gsm', l16: 'l16' };

export interface BaresipOptions {
  /** Used in log lines and the temp dir name. */
  name: string;
  /** SIP port on 127.0.0.1 (UDP and TCP); a free one when omitted. */
  sipPort?: number;
  /**
   * The whole line of baresip's accounts file, e.g.
   * `<sip:alice@127.0.0.1:5060;transport=udp>;auth_pass=secret;answermode=auto;regint=60;audio_codecs=PCMU/8000/1`.
   * Name codecs in full (PCMU/8000/1, G722/16000/1, opus/48000/2): a bare name is ignored.
   */
  account: string;
  /** WAV played as the microphone; its rate/channels must match the codec. Default: 440 Hz, 8 kHz mono. */
  toneWav?: string;
  /**
   * Length of the default tone (default 5 s). baresip hangs a call up when its
   * aufile source ends, so a test whose call lasts longer needs more.
   */
  toneSeconds?: number;
  /** Start with `-s`: baresip prints every SIP message it sends and receives to its log. */
  sipTrace?: boolean;
  /** Extra codec modules to load: 'g722', 'opus', ... (g711 is always loaded). */
  codecs?: string[];
  /** Config dir to use (created if missing); a fresh temp dir by default. */
  dir?: string;
  /** RTP port range, default 20000-29998 (baresip picks free ports in it). */
  rtpPorts?: [number, number];
  /** Extra config lines appended verbatim. */
  extraConfig?: string[];
  /** How long start waits for ctrl_tcp (default 10000 ms). */
  startTimeoutMs?: number;
  clock?: Clock;
}

export interface BaresipResponse {
  ok: boolean;
  data: string;
}

/** A ctrl_tcp event, e.g. { type: 'CALL_ESTABLISHED', class: 'call', peeruri: ... }. */
export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  accountaor?: string;
  direction?: string;
  id?: string;
  [key: string]: unknown;
}

export interface Baresip {
  name: string;
  sipPort: number;
  ctrlPort: number;
  dir: string;
  /** Where sndfile writes each call's audio (decoded = what this phone heard). */
  recDir: string;
  /** Sends one ctrl_tcp command and resolves with its response. */
  ctrl(cmd: string, params?: string, timeoutMs?: number): Promise<BaresipResponse>;
  dial(uri: string): Promise<BaresipResponse>;
  /** Hangs up the current call. */
  hangup(): Promise<BaresipResponse>;
  /** Accepts the ringing incoming call (for accounts without answermode=auto). */
  accept(): Promise<BaresipResponse>;
  /** Sends `keys` (0-9 * # A-D) on the current call as RFC 4733 events (ctrl `sndcode`). */
  sendDtmf(keys: string): Promise<BaresipResponse>;
  /** Puts the current call on hold (re-INVITE, a=sendonly). */
  hold(): Promise<BaresipResponse>;
  /** Takes the current call off hold (re-INVITE, a=sendrecv). */
  resume(): Promise<BaresipResponse>;
  /** Blind transfer of the current call: REFER with Refer-To `uri`. */
  transfer(uri: string): Promise<BaresipResponse>;
  /** Keys received so far (CALL_DTMF_START events at or after index `from` of events()). */
  receivedDtmf(from?: number): string;
  /** Resolves with the first `count` keys received at or after index `from` of events() (default 0). */
  waitForDtmf(count: number, timeoutMs: number, from?: number): Promise<string>;
  /** The current call's negotiated audio direction (ctrl `audio_debug`), undefined without a call. */
  mediaDirection(): Promise<MediaDirection | undefined>;
  /**
   * Polls mediaDirection() every 100 ms until it is one of `want`; resolves with it.
   * The remote putting us on hold shows as 'recvonly' (or 'inactive'), its resume as 'sendrecv'.
   */
  waitForMediaDirection(want: MediaDirection | MediaDirection[], timeoutMs: number): Promise<MediaDirection>;
  /** True when this phone itself has put its current call on hold (`listcalls` shows "(on hold)"). */
  isHolding(): Promise<boolean>;
  /**
   * Resolves with the first log line (stdout) matching `re`, searching from
   * offset `from` of the log (default 0: lines already seen count too).
   */
  waitFor(re: RegExp, timeoutMs: number, from?: number): Promise<string>;
  /** Resolves with the first ctrl_tcp event of `type` at or after index `from` of events(). */
  waitForEvent(type: string, timeoutMs: number, from?: number): Promise<BaresipEvent>;
  /** The log so far; its length is a `from` for waitFor. */
  log(): string;
  events(): BaresipEvent[];
  /** WAV files sndfile has written so far (full paths). */
  recordings(): Promise<string[]>;
  /** Quits (ctrl "quit"), SIGTERM after 2 s, SIGKILL 2 s later. */
  stop(): Promise<Exited>;
}

function netstring(s: string): string {
  return `${Buffer.byteLength(s)}:${s},`;
}

/** Splits complete netstrings off the front of `buf`; returns them and the rest. */
export function parseNetstrings(buf: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let off = 0;
  // Every iteration consumes at least "0:," (3 bytes) or stops.
  while (off < buf.length) {
    const colon = buf.indexOf(0x3a, off);
    if (colon < 0) break;
    const lenText = buf.toString('ascii', off, colon);
    if (!/^\d{1,9}$/.test(lenText)) throw new Error(`bad netstring length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    const end = colon + 1 + len;
    if (end >= buf.length) break;
    if (buf[end] !== 0x2c) throw new Error('netstring without trailing comma');
    messages.push(buf.toString('utf8', colon + 1, end));
    off = end + 1;
  }
  return { messages, rest: buf.subarray(off) };
}

function configText(o: BaresipOptions, sipPort: number, ctrlPort: number, tone: string, recDir: string): string {
  const [lo, hi] = o.rtpPorts ?? [20000, 29998];
  const modules = ['g711', ...(o.codecs ?? []).map((c) => {
    const m = CODEC_MODULES[c.toLowerCase()];
    if (!m) throw new Error(`unknown baresip codec module ${c}`);
    return m;
  })];
  return [
    'poll_method     epoll',
    `sip_listen      127.0.0.1:${sipPort}`,
    // "lo" fails on 1.0; the address works.
    'net_interface   127.0.0.1',
    'dns_server      127.0.0.1:53',
    `rtp_ports       ${lo}-${hi}`,
    `audio_source    aufile,${tone}`,
    // There is no null player module; ALSA's null device swallows the audio.
    'audio_player    alsa,null',
    'audio_alert     alsa,null',
    'module_path     /usr/lib/baresip/modules',
    ...[...new Set(modules)].map((m) => `module          ${m}.so`),
    'module          alsa.so',
    'module          aufile.so',
    'module          sndfile.so',
    `snd_path        ${recDir}`,
    'module_tmp      uuid.so',
    'module_tmp      account.so',
    // Not stdio.so: it wants a terminal.
    'module_app      menu.so',
    'module_app      ctrl_tcp.so',
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
    ...(o.extraConfig ?? []),
    '',
  ].join('\n');
}

export async function startBaresip(o: BaresipOptions): Promise<Baresip> {
  const clock = o.clock ?? realClock;
  const dir = o.dir ?? (await mkdtemp(path.join(os.tmpdir(), `baresip-${o.name.replace(/[^\w-]/g, '_')}-`)));
  await mkdir(dir, { recursive: true });
  const recDir = path.join(dir, 'rec');
  await mkdir(recDir, { recursive: true });
  const sipPort = o.sipPort ?? (await freePort('both'));
  const ctrlPort = await freePort('tcp');
  const tone = o.toneWav ?? (await writeToneWav(path.join(dir, 'tone-8k.wav'), { seconds: o.toneSeconds ?? 5 }));
  await writeFile(path.join(dir, 'config'), configText(o, sipPort, ctrlPort, tone, recDir));
  await writeFile(path.join(dir, 'accounts'), `${o.account}\n`);
  // Without these files baresip writes templates full of examples.
  await writeFile(path.join(dir, 'contacts'), '');

  let logText = '';
  const logWaiters = new Set<() => void>();
  const spawned = spawnBounded('baresip', ['-f', dir, ...(o.sipTrace ? ['-s'] : [])], {
    cwd: dir,
    // A test run never lasts a day; this only stops an orphan.
    deadlineMs: 24 * 3600 * 1000,
    clock,
    onStdout: (chunk) => {
      logText += chunk;
      if (logText.length > 4 * 1024 * 1024) logText = logText.slice(-2 * 1024 * 1024);
      for (const w of [...logWaiters]) w();
    },
  });
  // A holder, not a let: TypeScript cannot see the callback assign it.
  const proc: { exited: Exited | null } = { exited: null };
  spawned.onExit((e) => {
    proc.exited = e;
    for (const w of [...logWaiters]) w();
  });

  // ctrl_tcp: connect (retrying while baresip starts), then frame JSON both ways.
  const deadline = clock.now() + (o.startTimeoutMs ?? 10000);
  let sock: net.Socket | null = null;
  while (!sock) {
    if (proc.exited) throw new Error(`baresip ${o.name} exited at start (${proc.exited.exitCode}): ${logText.slice(-2000)}`);
    if (clock.now() > deadline) {
      await spawned.kill('SIGKILL');
      throw new Error(`baresip ${o.name}: ctrl_tcp 127.0.0.1:${ctrlPort} not up in time; log: ${logText.slice(-2000)}`);
    }
    sock = await new Promise<net.Socket | null>((resolve) => {
      const s = net.connect(ctrlPort, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (!sock) await sleep(100, clock);
  }
  const ctrlSock: net.Socket = sock;

  const events: BaresipEvent[] = [];
  const pending = new Map<string, (r: BaresipResponse) => void>();
  let inbuf: Buffer = Buffer.alloc(0);
  let tokenSeq = 0;
  ctrlSock.on('data', (d: Buffer) => {
    inbuf = Buffer.concat([inbuf, d]);
    const { messages, rest } = parseNetstrings(inbuf);
    inbuf = Buffer.from(rest);
    for (const m of messages) {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(m) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (msg.event === true) {
        events.push(msg as BaresipEvent);
        for (const w of [...logWaiters]) w();
      } else if (msg.response === true && typeof msg.token === 'string') {
        pending.get(msg.token)?.({ ok: msg.ok === true, data: String(msg.data ?? '') });
        pending.delete(msg.token);
      }
    }
  });
  ctrlSock.on('error', () => {
    /* the process is going away; pending commands time out */
  });

  const ctrl = (command: string, params = '', timeoutMs = 5000): Promise<BaresipResponse> =>
    new Promise((resolve, reject) => {
      const token = `t${++tokenSeq}`;
      const timer = clock.setTimer(timeoutMs, () => {
        pending.delete(token);
        reject(new Error(`baresip ${o.name}: no answer to "${command} ${params}" in ${timeoutMs} ms`));
      });
      pending.set(token, (r) => {
        timer.cancel();
        resolve(r);
      });
      ctrlSock.write(netstring(JSON.stringify({ command, params, token })));
    });

  /** Polls `check` whenever output or an event arrives, until it yields or time runs out. */
  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      const finish = (): void => {
        logWaiters.delete(onChange);
        timer.cancel();
      };
      const onChange = (): void => {
        const v = check();
        if (v !== undefined) {
          finish();
          resolve(v);
        } else if (proc.exited) {
          finish();
          reject(new Error(`baresip ${o.name} exited while waiting for ${what}; log tail: ${logText.slice(-1500)}`));
        }
      };
      const timer = clock.setTimer(timeoutMs, () => {
        finish();
        reject(new Error(`baresip ${o.name}: no ${what} in ${timeoutMs} ms; log tail: ${logText.slice(-1500)}`));
      });
      logWaiters.add(onChange);
    });

  const receivedDtmf = (from = 0): string =>
    events
      .slice(from)
      .filter((e) => e.type === 'CALL_DTMF_START' && typeof e.param === 'string')
      .map((e) => e.param)
      .join('');

  const mediaDirection = async (): Promise<MediaDirection | undefined> => {
    const r = await ctrl('audio_debug');
    const m = /audio dir=(sendrecv|sendonly|recvonly|inactive)\b/.exec(r.data);
    return m ? (m[1] as MediaDirection) : undefined;
  };

  return {
    name: o.name,
    sipPort,
    ctrlPort,
    dir,
    recDir,
    ctrl,
    dial: (uri) => ctrl('dial', uri),
    hangup: () => ctrl('hangup'),
    accept: () => ctrl('accept'),
    sendDtmf(keys) {
      if (!DTMF_KEYS.test(keys)) return Promise.reject(new Error(`baresip ${o.name}: cannot send DTMF ${JSON.stringify(keys)}`));
      return ctrl('sndcode', keys);
    },
    hold: () => ctrl('hold'),
    resume: () => ctrl('resume'),
    transfer: (uri) => ctrl('transfer', uri),
    receivedDtmf,
    waitForDtmf(count, timeoutMs, from = 0) {
      return waitUntil(
        () => {
          const got = receivedDtmf(from);
          return got.length >= count ? got.slice(0, count) : undefined;
        },
        timeoutMs,
        `${count} DTMF key(s) (so far ${JSON.stringify(receivedDtmf(from))})`,
      );
    },
    mediaDirection,
    async waitForMediaDirection(want, timeoutMs) {
      const wanted = Array.isArray(want) ? want : [want];
      const deadline = clock.now() + timeoutMs;
      let last: MediaDirection | undefined;
      // Bounded by the deadline; each round is one ctrl round trip plus 100 ms.
      for (;;) {
        if (proc.exited) throw new Error(`baresip ${o.name} exited while waiting for audio dir ${wanted.join('|')}`);
        last = await mediaDirection();
        if (last && wanted.includes(last)) return last;
        if (clock.now() >= deadline) {
          throw new Error(`baresip ${o.name}: audio dir is ${last ?? '(no call)'}, not ${wanted.join('|')}, after ${timeoutMs} ms`);
        }
        await sleep(100, clock);
      }
    },
    async isHolding() {
      const r = await ctrl('listcalls');
      return /\(on hold\)/.test(r.data);
    },
    waitFor(re, timeoutMs, from = 0) {
      const flat = new RegExp(re.source, re.flags.replace('g', ''));
      return waitUntil(
        () => {
          const lines = logText.slice(from).split('\n');
          return lines.find((l) => flat.test(l));
        },
        timeoutMs,
        `log line ${re}`,
      );
    },
    waitForEvent(type, timeoutMs, from = 0) {
      return waitUntil(() => events.slice(from).find((e) => e.type === type), timeoutMs, `event ${type}`);
    },
    log: () => logText,
    events: () => events,
    async recordings() {
      const files = await readdir(recDir);
      return files.filter((f) => f.endsWith('.wav')).sort().map((f) => path.join(recDir, f));
    },
    async stop() {
      if (!proc.exited) {
        // quit gets no response: baresip closes the socket as it exits.
        ctrlSock.write(netstring(JSON.stringify({ command: 'quit', params: '', token: 'quit' })));
        const gone = await Promise.race([spawned.exited.then(() => true), sleep(2000, clock).then(() => false)]);
        if (!gone) await spawned.kill('SIGTERM', 2000);
      }
      ctrlSock.destroy();
      return spawned.exited;
    },
  };
}
