/**
 * The voicemail store: each mailbox is a directory under DATA/voicemail laid
 * out as Asterisk lays out its spool (INBOX for new messages, Old, and Saved;
 * greetings beside them; tmp for recordings in progress), and each message is
 * a WAV file there plus a row in the database.
 *
 * A recording is written to `<recordingPath>.part`, renamed to
 * `<recordingPath>` when finished, then handed to add(), which moves it into
 * INBOX and makes the row visible; each file step is fsynced with its
 * directory. When the process dies at any point, the next start puts things
 * right (recover()): a finished WAV without a row is adopted as a message, a row
 * whose file moved between folders follows it, a row whose file is gone is
 * dropped, and `.part` files older than an hour are removed. So a message is
 * never lost once its WAV is finished, and never shown without its audio.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { copyFile, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { realClock, type Clock } from '../util/clock.js';
import { Emitter } from '../util/emitter.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { Db } from './db.js';

export type VoicemailFolder = 'new' | 'old' | 'saved';
export type GreetingKind = 'unavailable' | 'busy' | 'name';

/** Folder → directory, Asterisk's names. */
export const FOLDER_DIRS: Readonly<Record<VoicemailFolder, string>> = { new: 'INBOX', old: 'Old', saved: 'Saved' };
const GREETING_FILES: Readonly<Record<GreetingKind, string>> = { unavailable: 'unavail.wav', busy: 'busy.wav', name: 'greet.wav' };
const TMP_DIR = 'tmp';
/** `.part` files older than this are a recording that died with its process. */
const STALE_PART_MS = 3_600_000;
const MSG_NAME = /^msg(\d+)\.wav$/;

export interface VoicemailMessage {
  id: number;
  mailbox: string;
  folder: VoicemailFolder;
  /** '' when the caller's number is unknown (an adopted orphan, an anonymous caller). */
  callerNumber: string;
  callerName: string;
  /** Wall-clock ms. */
  received: number;
  durationSeconds: number;
  /** The WAV, absolute. */
  path: string;
  emailed: boolean;
}

export interface NewVoicemail {
  mailbox: string;
  /** The finished WAV (from recordingPath(), or anywhere on the same machine). */
  file: string;
  callerNumber: string;
  callerName?: string;
  /** Wall-clock ms. */
  received: number;
  durationSeconds: number;
}

export interface RecoveryReport {
  /** Finished WAVs without a row, now messages. */
  adopted: number;
  /** Rows that followed their file to another folder, or became visible. */
  repaired: number;
  /** Rows whose file was gone. */
  dropped: number;
  /** Stale `.part` files and unconfirmed greeting recordings removed. */
  removed: number;
}

/** A mailbox name that cannot be a directory name here. */
export class InvalidMailboxError extends Error {
  override name = 'InvalidMailboxError';
  constructor(readonly mailbox: string) {
    super(`"${mailbox}" is not a usable mailbox name (letters, digits, . _ + - only)`);
  }
}

export class InvalidPinError extends Error {
  override name = 'InvalidPinError';
  constructor() {
    super('a voicemail PIN is 1 to 16 digits');
  }
}

export class NoSuchMessageError extends Error {
  override name = 'NoSuchMessageError';
  constructor(readonly id: number) {
    super(`voicemail message ${id} does not exist`);
  }
}

interface Row {
  id: number;
  mailbox: string;
  folder: VoicemailFolder;
  caller_number: string;
  caller_name: string;
  received: number;
  duration: number;
  file: string;
  emailed: number;
  ready: number;
}

export interface VoicemailStoreOptions {
  clock?: Clock;
  log?: Logger;
}

export interface VoicemailEvents {
  /** A mailbox's messages changed (added, moved, deleted): time to tell its phones (MWI). */
  changed: [mailbox: string];
}

export class VoicemailStore extends Emitter<VoicemailEvents> {
  /** DATA/voicemail. */
  readonly root: string;
  private readonly clock: Clock;
  private readonly busy = new Map<number, Promise<unknown>>();
  private readonly q;

  constructor(private readonly db: Db, dataDir: string, opts: VoicemailStoreOptions = {}) {
    super(opts.log ?? silentLogger);
    this.clock = opts.clock ?? realClock;
    this.root = path.join(dataDir, 'voicemail');
    mkdirSync(this.root, { recursive: true });
    this.q = {
      reserve: db.prepare(`INSERT INTO voicemail (mailbox, folder, caller_number, caller_name, received, duration, file, ready)
        VALUES (@mailbox, @folder, @caller_number, @caller_name, @received, @duration, '', 0)`),
      setFile: db.prepare('UPDATE voicemail SET file = ? WHERE id = ?'),
      ready: db.prepare('UPDATE voicemail SET ready = 1 WHERE id = ?'),
      move: db.prepare('UPDATE voicemail SET folder = ?, file = ?, ready = 1 WHERE id = ?'),
      del: db.prepare('DELETE FROM voicemail WHERE id = ?'),
      byId: db.prepare('SELECT * FROM voicemail WHERE id = ?'),
      list: db.prepare('SELECT * FROM voicemail WHERE mailbox = ? AND folder = ? AND ready = 1 ORDER BY received, id'),
      counts: db.prepare('SELECT folder, count(*) AS n FROM voicemail WHERE mailbox = ? AND ready = 1 GROUP BY folder'),
      emailed: db.prepare('UPDATE voicemail SET emailed = 1 WHERE id = ?'),
      unemailed: db.prepare('SELECT * FROM voicemail WHERE mailbox = ? AND ready = 1 AND emailed = 0 ORDER BY received, id'),
      all: db.prepare('SELECT * FROM voicemail'),
      pin: db.prepare('SELECT pin, configured FROM voicemail_pin WHERE mailbox = ?'),
      setPin: db.prepare(`INSERT INTO voicemail_pin (mailbox, pin, configured, changed) VALUES (?, ?, ?, ?)
        ON CONFLICT (mailbox) DO UPDATE SET pin = excluded.pin, configured = excluded.configured, changed = excluded.changed`),
    };
    const report = this.recover();
    if (report.adopted || report.repaired || report.dropped || report.removed) {
      this.log.warn({ ...report }, 'voicemail store put right what a previous run left unfinished');
    }
  }

  /**
   * Where to record a new message (or, with 'greeting', a greeting to confirm
   * with setGreeting): the recorder writes `<path>.part` and renames it to
   * `<path>` when done.
   */
  recordingPath(mailbox: string, purpose: 'message' | 'greeting' = 'message'): string {
    const dir = path.join(this.boxDir(mailbox), TMP_DIR);
    mkdirSync(dir, { recursive: true });
    const stamp = `${this.clock.wallNow()}-${randomBytes(4).toString('hex')}`;
    return path.join(dir, `${purpose === 'greeting' ? 'greeting' : 'msg'}-${stamp}.wav`);
  }

  /**
   * Moves a finished WAV into the mailbox's INBOX and records it: when the
   * promise resolves, file, directory and row are on disk. When the database
   * refuses the row the WAV stays where it was (and is adopted at the next start).
   */
  async add(msg: NewVoicemail): Promise<VoicemailMessage> {
    const box = this.boxDir(msg.mailbox);
    if (msg.file.endsWith('.part')) throw new Error(`${msg.file} is still being recorded (rename it without .part first)`);
    await syncFile(msg.file);
    const id = this.reserve(msg.mailbox, 'new', msg.callerNumber, msg.callerName ?? '', msg.received, msg.durationSeconds);
    const rel = this.rel(msg.mailbox, 'new', id);
    try {
      await mkdir(path.join(box, FOLDER_DIRS.new), { recursive: true });
      await moveFile(msg.file, this.abs(rel));
    } catch (err) {
      this.q.del.run(id);
      throw err;
    }
    this.q.ready.run(id);
    this.emit('changed', msg.mailbox);
    return this.mustGet(id);
  }

  get(id: number): VoicemailMessage | undefined {
    const r = this.q.byId.get(id) as Row | undefined;
    return r && r.ready ? this.fromRow(r) : undefined;
  }

  /** New and old messages, as a phone's lamp counts them (saved ones count as old). */
  counts(mailbox: string): { new: number; old: number } {
    const out = { new: 0, old: 0 };
    for (const r of this.q.counts.all(mailbox) as { folder: VoicemailFolder; n: number }[]) {
      if (r.folder === 'new') out.new += r.n;
      else out.old += r.n;
    }
    return out;
  }

  /** Oldest first, the order a mailbox plays them in. */
  list(mailbox: string, folder: VoicemailFolder): VoicemailMessage[] {
    return (this.q.list.all(mailbox, folder) as Row[]).map((r) => this.fromRow(r));
  }

  /** Messages not yet sent by e-mail (for a retry after a restart). */
  unemailed(mailbox: string): VoicemailMessage[] {
    return (this.q.unemailed.all(mailbox) as Row[]).map((r) => this.fromRow(r));
  }

  /** A heard message: INBOX → Old. */
  markOld(id: number): Promise<VoicemailMessage> {
    return this.moveTo(id, 'old');
  }

  /** Kept on purpose: → Saved. */
  save(id: number): Promise<VoicemailMessage> {
    return this.moveTo(id, 'saved');
  }

  /** Removes file and row (the file first: a crash in between leaves a row that the next start drops, never a message that comes back). */
  delete(id: number): Promise<boolean> {
    return this.exclusive(id, async () => {
      const r = this.q.byId.get(id) as Row | undefined;
      if (!r) return false;
      const file = this.abs(r.file);
      await unlink(file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await syncDir(path.dirname(file));
      this.q.del.run(id);
      if (r.ready) this.emit('changed', r.mailbox);
      return true;
    });
  }

  markEmailed(id: number): void {
    this.q.emailed.run(id);
  }

  /** The recorded greeting of this kind, or undefined when the mailbox has none (the caller then uses its default). */
  greetingPath(mailbox: string, kind: GreetingKind): string | undefined {
    const file = path.join(this.boxDir(mailbox), GREETING_FILES[kind]);
    return existsSync(file) ? file : undefined;
  }

  /** Makes a finished recording (from recordingPath(box, 'greeting')) the mailbox's greeting of this kind. */
  async setGreeting(mailbox: string, kind: GreetingKind, file: string): Promise<string> {
    const dst = path.join(this.boxDir(mailbox), GREETING_FILES[kind]);
    await mkdir(path.dirname(dst), { recursive: true });
    await syncFile(file);
    await moveFile(file, dst);
    return dst;
  }

  async removeGreeting(mailbox: string, kind: GreetingKind): Promise<boolean> {
    const file = path.join(this.boxDir(mailbox), GREETING_FILES[kind]);
    try {
      await unlink(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await syncDir(path.dirname(file));
    return true;
  }

  /**
   * The PIN to check: the one the user chose, unless the PIN in the config
   * changed since (an operator resetting a forgotten PIN edits the config).
   */
  pin(mailbox: string, configured: string): string {
    const r = this.q.pin.get(mailbox) as { pin: string; configured: string } | undefined;
    return r && r.configured === configured ? r.pin : configured;
  }

  /** Stores the user's new PIN; `configured` is the config's PIN it replaces. */
  setPin(mailbox: string, pin: string, configured: string): void {
    if (!/^\d{1,16}$/.test(pin)) throw new InvalidPinError();
    this.q.setPin.run(mailbox, pin, configured, this.clock.wallNow());
  }

  /**
   * Puts the spool and the rows back in step after a crash. Runs at
   * construction; run it again only while no add() or move is under way.
   */
  recover(): RecoveryReport {
    const report: RecoveryReport = { adopted: 0, repaired: 0, dropped: 0, removed: 0 };
    const now = this.clock.wallNow();
    for (const box of listDir(this.root)) {
      if (!isMailboxName(box) || !statSync(path.join(this.root, box)).isDirectory()) continue;
      const dirs: [string, VoicemailFolder][] = [[TMP_DIR, 'new'], ...Object.entries(FOLDER_DIRS).map(([f, d]) => [d, f as VoicemailFolder] as [string, VoicemailFolder])];
      for (const [dirName, folder] of dirs) {
        const dir = path.join(this.root, box, dirName);
        for (const name of listDir(dir)) {
          const file = path.join(dir, name);
          if (name.endsWith('.part')) {
            if (now - mtime(file) > STALE_PART_MS) report.removed += remove(file);
            continue;
          }
          if (!name.endsWith('.wav')) continue;
          if (dirName === TMP_DIR && name.startsWith('greeting-')) {
            report.removed += remove(file); // never confirmed with setGreeting
            continue;
          }
          const m = MSG_NAME.exec(name);
          const row = m && dirName !== TMP_DIR ? (this.q.byId.get(Number(m[1])) as Row | undefined) : undefined;
          if (row && row.mailbox === box) {
            const rel = this.rel(box, folder, row.id);
            if (row.file !== rel || row.folder !== folder || !row.ready) {
              this.q.move.run(folder, rel, row.id);
              report.repaired++;
            }
            continue;
          }
          if (this.adopt(box, folder, file)) report.adopted++;
        }
      }
    }
    for (const r of this.q.all.all() as Row[]) {
      if (r.file && existsSync(this.abs(r.file))) continue;
      this.q.del.run(r.id);
      if (r.ready) {
        report.dropped++;
        this.log.warn({ id: r.id, mailbox: r.mailbox, file: r.file }, 'voicemail message dropped: its WAV is gone');
      }
    }
    return report;
  }

  private adopt(mailbox: string, folder: VoicemailFolder, file: string): boolean {
    const seconds = wavSeconds(file);
    if (seconds === undefined) {
      this.log.warn({ file }, 'not a WAV file: left alone in the voicemail spool');
      return false;
    }
    const id = this.reserve(mailbox, folder, '', '', mtime(file), seconds);
    const dst = this.abs(this.rel(mailbox, folder, id));
    mkdirSync(path.dirname(dst), { recursive: true });
    renameSync(file, dst);
    syncDirSync(path.dirname(dst));
    if (path.dirname(file) !== path.dirname(dst)) syncDirSync(path.dirname(file));
    this.q.ready.run(id);
    this.log.info({ id, mailbox, folder, file: dst }, 'voicemail message adopted from a WAV without its record');
    return true;
  }

  private reserve(mailbox: string, folder: VoicemailFolder, callerNumber: string, callerName: string, received: number, duration: number): number {
    return this.db.transaction(() => {
      const id = Number(this.q.reserve.run({ mailbox, folder, caller_number: callerNumber, caller_name: callerName, received, duration }).lastInsertRowid);
      this.q.setFile.run(this.rel(mailbox, folder, id), id);
      return id;
    })();
  }

  private moveTo(id: number, folder: VoicemailFolder): Promise<VoicemailMessage> {
    return this.exclusive(id, async () => {
      const r = this.q.byId.get(id) as Row | undefined;
      if (!r || !r.ready) throw new NoSuchMessageError(id);
      if (r.folder === folder) return this.fromRow(r);
      const rel = this.rel(r.mailbox, folder, id);
      await mkdir(path.dirname(this.abs(rel)), { recursive: true });
      await moveFile(this.abs(r.file), this.abs(rel));
      this.q.move.run(folder, rel, id);
      this.emit('changed', r.mailbox);
      return this.mustGet(id);
    });
  }

  /** One file operation per message at a time: markOld and delete of the same message never interleave. */
  private exclusive<T>(id: number, fn: () => Promise<T>): Promise<T> {
    const run = (this.busy.get(id) ?? Promise.resolve()).then(fn);
    // The chain's tail never rejects (the caller owns `run`'s outcome) and forgets itself when it is the last.
    const tail: Promise<void> = run.then(noop, noop).then(() => {
      if (this.busy.get(id) === tail) this.busy.delete(id);
    });
    this.busy.set(id, tail);
    return run;
  }

  private mustGet(id: number): VoicemailMessage {
    const m = this.get(id);
    if (!m) throw new NoSuchMessageError(id);
    return m;
  }

  private boxDir(mailbox: string): string {
    if (!isMailboxName(mailbox)) throw new InvalidMailboxError(mailbox);
    return path.join(this.root, mailbox);
  }

  /** A message's file, relative to the voicemail root: `1002/INBOX/msg0007.wav`. */
  private rel(mailbox: string, folder: VoicemailFolder, id: number): string {
    return path.join(mailbox, FOLDER_DIRS[folder], `msg${String(id).padStart(4, '0')}.wav`);
  }

  private abs(rel: string): string {
    return path.join(this.root, rel);
  }

  private fromRow(r: Row): VoicemailMessage {
    return {
      id: r.id,
      mailbox: r.mailbox,
      folder: r.folder,
      callerNumber: r.caller_number,
      callerName: r.caller_name,
      received: r.received,
      durationSeconds: r.duration,
      path: this.abs(r.file),
      emailed: r.emailed === 1,
    };
  }
}

function noop(): void {}

function isMailboxName(s: string): boolean {
  return /^[A-Za-z0-9_.+-]{1,64}$/.test(s) && s !== '.' && s !== '..';
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function mtime(file: string): number {
  return statSync(file).mtimeMs;
}

function remove(file: string): number {
  try {
    unlinkSync(file);
    return 1;
  } catch {
    return 0;
  }
}

async function syncFile(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function syncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** rename(2) and fsync of both directories; across file systems, a copy that is synced before the original goes. */
async function moveFile(src: string, dst: string): Promise<void> {
  try {
    await rename(src, dst);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(src, dst);
    await syncFile(dst);
    await syncDir(path.dirname(dst));
    await unlink(src);
  }
  await syncDir(path.dirname(dst));
  if (path.dirname(src) !== path.dirname(dst)) await syncDir(path.dirname(src));
}

/**
 * Seconds of audio in a WAV, from its header, or undefined when the file is
 * not a RIFF WAVE. A recorder that died before fixing the sizes leaves 0 or a
 * too-large data size: then the bytes actually there count.
 */
export function wavSeconds(file: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    const size = statSync(file).size;
    if (n < 12 || head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return undefined;
    let byteRate = 0;
    for (let off = 12; off + 8 <= n; ) {
      const id = head.toString('latin1', off, off + 4);
      const len = head.readUInt32LE(off + 4);
      if (id === 'fmt ' && off + 20 <= n) byteRate = head.readUInt32LE(off + 16);
      if (id === 'data') {
        if (byteRate <= 0) return undefined;
        const there = size - (off + 8);
        const bytes = len === 0 || len > there ? there : len;
        return Math.max(0, bytes) / byteRate;
      }
      off += 8 + len + (len & 1);
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
