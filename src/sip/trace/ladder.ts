/**
 * A call's messages as a ladder diagram for the terminal, in the spirit of
 * sngrep's call flow: one lifeline per party, one row per message with an
 * arrow from sender to receiver. The server's own sockets share one lifeline,
 * because to the reader "the switchboard" is one party however many ports it has.
 */
import type { TraceEndpoint, TraceEntry } from './recorder.js';
import { hostPort } from '../../util/listen.js';

export interface LadderOptions {
  /** ANSI colours; pass shouldColor(process.stdout) so pipes and files get plain text. */
  color?: boolean;
  /** Terminal width to fit in; 80 when absent. */
  width?: number;
}

/** Fields the ladder reads; a TraceEntry has them all. */
export type LadderEntry = Pick<TraceEntry, 'dir' | 'local' | 'remote' | 'ms' | 'sip'> & { callId?: string };

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function shouldColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

const SERVER = 'switchboard';
const MIN_GAP = 12;
const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', cyan: '\x1b[36m', yellow: '\x1b[33m', green: '\x1b[32m', red: '\x1b[31m' };

interface Column {
  /** First line: "switchboard" for the server, the party's address:port otherwise. */
  title: string;
  /** Second line: the server's address:port (and how many other sockets it used). */
  subtitle: string;
  center: number;
}

export function renderLadder(entries: readonly LadderEntry[], opts: LadderOptions = {}): string {
  const width = Math.max(40, Math.floor(opts.width ?? 80));
  const color = opts.color === true;
  if (entries.length === 0) return '(no messages)\n';

  // Columns in order of first appearance: each row's sender, then its receiver.
  const keys: string[] = [];
  const serverSockets: string[] = [];
  const colOf = (ep: TraceEndpoint, server: boolean): number => {
    const key = server ? SERVER : endpointLabel(ep);
    if (server && !serverSockets.includes(endpointLabel(ep))) serverSockets.push(endpointLabel(ep));
    let i = keys.indexOf(key);
    if (i < 0) i = keys.push(key) - 1;
    return i;
  };
  const rows = entries.map((e) => {
    // An inbound message goes from the remote party to us, an outbound one the other way.
    const from = e.dir === 'in' ? colOf(e.remote, false) : colOf(e.local, true);
    const to = e.dir === 'in' ? colOf(e.local, true) : colOf(e.remote, false);
    return { e, from, to };
  });

  const t0 = entries[0].ms;
  const times = entries.map((e) => `+${((e.ms - t0) / 1000).toFixed(3)}s`);
  const timeW = Math.max(...times.map((t) => t.length)) + 1;

  const columns: Column[] = keys.map((k) => ({
    title: k,
    subtitle: k === SERVER ? serverSockets[0] + (serverSockets.length > 1 ? ` +${serverSockets.length - 1}` : '') : '',
    center: 0,
  }));
  placeColumns(columns, timeW, width);
  const gap = columns.length > 1 ? columns[1].center - columns[0].center : width;

  const out: string[] = [];
  const callId = entries.find((e) => e.callId)?.callId ?? entries[0].sip.callId;
  out.push(paint(`Call-ID: ${printable(callId)}`, color ? ANSI.bold : ''));
  out.push(labelLine(columns.map((c) => c.title), columns, gap, width).trimEnd());
  if (columns.some((c) => c.subtitle)) out.push(labelLine(columns.map((c) => c.subtitle), columns, gap, width).trimEnd());
  const lifelines = (): string[] => {
    const line = new Array<string>(Math.max(width, columns[columns.length - 1].center + 1)).fill(' ');
    for (const c of columns) line[c.center] = '│';
    return line;
  };
  out.push(lifelines().join('').trimEnd());

  for (let r = 0; r < rows.length; r++) {
    const { e, from, to } = rows[r];
    const line = lifelines();
    for (let i = 0; i < times[r].length; i++) line[i] = times[r][i];
    const a = columns[from].center;
    const b = columns[to].center;
    let lo: number;
    let hi: number;
    if (from === to) {
      // A message the server sent to one of its own sockets: a loop marker beside the lifeline.
      const text = `↺ ${fitLabel(e, Math.max(1, gap - 3))}`;
      lo = a + 1;
      hi = Math.min(line.length - 1, a + text.length);
      for (let i = 0; i < text.length && a + 1 + i < line.length; i++) line[a + 1 + i] = text[i];
    } else {
      lo = Math.min(a, b) + 1;
      hi = Math.max(a, b) - 1;
      const span = hi - lo + 1;
      for (let i = lo; i <= hi; i++) line[i] = '─';
      if (b > a) line[hi] = '▶';
      else line[lo] = '◀';
      // Room for the label: the span minus the arrowhead and one dash on each side.
      const label = fitLabel(e, span - 4);
      const start = lo + 2 + Math.floor((span - 4 - label.length) / 2);
      for (let i = 0; i < label.length; i++) line[start + i] = label[i];
    }
    let text = line.join('').trimEnd();
    if (color) {
      const hue = e.sip.status === 0 ? ANSI.cyan : e.sip.status < 200 ? ANSI.yellow : e.sip.status < 300 ? ANSI.green : ANSI.red;
      text = paint(text.slice(0, times[r].length), ANSI.dim) + text.slice(times[r].length, lo) + paint(text.slice(lo, hi + 1), hue) + text.slice(hi + 1);
    }
    out.push(text);
  }
  out.push(lifelines().join('').trimEnd());
  return out.join('\n') + '\n';
}

/** Lifelines spread evenly between the time column and the right edge, labels kept on screen. */
function placeColumns(columns: Column[], timeW: number, width: number): void {
  const labelW = (c: Column): number => Math.min(Math.max(c.title.length, c.subtitle.length), 24);
  const n = columns.length;
  const first = Math.max(timeW + 1, Math.ceil(labelW(columns[0]) / 2));
  if (n === 1) {
    columns[0].center = first;
    return;
  }
  const last = Math.max(first + (n - 1) * MIN_GAP, width - 1 - Math.ceil(labelW(columns[n - 1]) / 2));
  const gap = Math.floor((last - first) / (n - 1));
  columns.forEach((c, i) => { c.center = first + i * gap; });
}

/** One header line: each label centred over its lifeline, cut to fit between neighbours. */
function labelLine(labels: string[], columns: Column[], gap: number, width: number): string {
  const line = new Array<string>(Math.max(width, columns[columns.length - 1].center + 1)).fill(' ');
  let free = 0; // first position not yet used by the label to the left
  labels.forEach((raw, i) => {
    const label = shorten(raw, Math.max(3, gap - 1));
    let start = columns[i].center - Math.floor(label.length / 2);
    start = Math.max(free, Math.min(start, line.length - label.length));
    for (let k = 0; k < label.length && start + k < line.length; k++) line[start + k] = label[k];
    if (label.length > 0) free = start + label.length + 1;
  });
  return line.join('');
}

/**
 * "INVITE (1) SDP" or "200 OK (1 INVITE)", dropping the least useful parts
 * (reason phrase, then CSeq) before cutting, so the method or status always shows.
 */
function fitLabel(e: LadderEntry, room: number): string {
  const s = e.sip;
  const sdp = s.sdp ? ' SDP' : '';
  const candidates: string[] = [];
  if (s.status === 0) {
    const cseq = s.cseq ? ` (${s.cseq.seq})` : '';
    candidates.push(`${s.method}${cseq}${sdp}`, `${s.method}${cseq}`, s.method);
  } else {
    const cseq = s.cseq ? ` (${s.cseq.seq} ${s.cseq.method})` : '';
    const reason = s.reason ? ` ${s.reason}` : '';
    candidates.push(`${s.status}${reason}${cseq}${sdp}`, `${s.status}${cseq}${sdp}`, `${s.status}${cseq}`, `${s.status}${reason}`, String(s.status));
  }
  const safe = candidates.map(printable);
  for (const c of safe) if (c.length <= room) return c;
  return shorten(safe[safe.length - 1], Math.max(0, room));
}

function endpointLabel(ep: TraceEndpoint): string {
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; people know them as a.b.c.d.
  const address = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ep.address) ? ep.address.slice(7) : ep.address;
  return hostPort({ address, port: ep.port });
}

/**
 * The reason phrase is whatever a peer sent: control characters (an ESC could
 * drive the reader's terminal) and surrogates (which break column counting) become '?'.
 */
function printable(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const bad = c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff);
    out += bad ? '?' : s[i];
  }
  return out;
}

/** Cuts in the middle so both the start of an address and its port stay visible. */
function shorten(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 1) return s.slice(0, max);
  const tail = Math.floor((max - 1) / 2);
  return `${s.slice(0, max - 1 - tail)}…${s.slice(s.length - tail)}`;
}

function paint(s: string, code: string): string {
  return code && s ? `${code}${s}${ANSI.reset}` : s;
}
