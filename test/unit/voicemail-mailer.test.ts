/**
 * Voicemail to e-mail against a real SMTP server (smtp-server on 127.0.0.1):
 * what arrives is parsed here by hand (headers, multipart, base64) and
 * compared with the WAV on disk. Retries run on a virtual clock.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import type { SmtpConfig } from '../../src/config/pbx-schema.js';
import { callerText, voicemailSubject, voicemailText, VoicemailMailer } from '../../src/pbx/voicemail/mailer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { VoicemailStore } from '../../src/store/voicemail.js';
import { VirtualClock } from '../../src/util/clock.js';
import { captureLog } from '../helpers/log-capture.js';
import { writeToneWav } from '../helpers/wav.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server; `refuse(n)` answers the next n RCPT TOs with `code`. */
class SmtpSink {
  readonly mails: Received[] = [];
  rcptSeen = 0;
  private refusals = 0;
  private code = 451;
  private server!: SMTPServer;
  port = 0;

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo: (_addr, _session, cb) => {
        this.rcptSeen++;
        if (this.refusals > 0) {
          this.refusals--;
          const err = Object.assign(new Error(this.code >= 500 ? 'No such user here' : 'Mailbox busy, try again later'), { responseCode: this.code });
          cb(err);
          return;
        }
        cb();
      },
      onData: (stream, session, cb) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const from = session.envelope.mailFrom;
          this.mails.push({ from: from ? from.address : '', to: session.envelope.rcptTo.map((a) => a.address), raw: Buffer.concat(chunks).toString('latin1') });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as AddressInfo).port;
  }

  refuse(n: number, code = 451): void {
    this.refusals = n;
    this.code = code;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Headers (unfolded, names lower-cased) and body of one MIME entity. */
function entity(text: string): { headers: Map<string, string>; body: string } {
  const split = text.indexOf('\r\n\r\n');
  const head = text.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const c = line.indexOf(':');
    headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
  }
  return { headers, body: text.slice(split + 4) };
}

/** The parts of a multipart entity. */
function parts(e: { headers: Map<string, string>; body: string }): { headers: Map<string, string>; body: string }[] {
  const m = /boundary="?([^";]+)"?/i.exec(e.headers.get('content-type') ?? '');
  assert.ok(m, `multipart with a boundary: ${e.headers.get('content-type')}`);
  const sections = e.body.split(`--${m[1]}`);
  // Preamble first, the closing "--" last.
  return sections.slice(1, -1).map((s) => entity(s.replace(/^\r\n/, '').replace(/\r\n$/, '')));
}

function attachmentOf(raw: string): { headers: Map<string, string>; bytes: Buffer } {
  const top = entity(raw);
  const wav = parts(top).find((p) => /^audio\/wav/i.test(p.headers.get('content-type') ?? ''));
  assert.ok(wav, 'an audio/wav part');
  assert.equal(wav.headers.get('content-transfer-encoding')?.toLowerCase(), 'base64');
  return { headers: wav.headers, bytes: Buffer.from(wav.body.replace(/\s+/g, ''), 'base64') };
}

function textOf(raw: string): string {
  const p = parts(entity(raw)).find((x) => /^text\/plain/i.test(x.headers.get('content-type') ?? ''));
  assert.ok(p, 'a text/plain part');
  const enc = p.headers.get('content-transfer-encoding')?.toLowerCase();
  if (enc === 'base64') return Buffer.from(p.body, 'base64').toString('utf8');
  if (enc === 'quoted-printable') return p.body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return p.body;
}

const sink = new SmtpSink();
let dir = '';
let db: Db;
let store: VoicemailStore;
const RECEIVED = Date.UTC(2026, 11, 4, 12, 39, 50);

before(async () => {
  await sink.start();
  dir = mkdtempSync(path.join(os.tmpdir(), 'sb-mail-'));
  db = openDatabase(dir);
  store = new VoicemailStore(db, dir);
});
after(async () => {
  await sink.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function smtp(port = sink.port): SmtpConfig {
  return { host: '127.0.0.1', port, from: 'voicemail@acme.example', secure: false };
}

async function message(seconds = 1.5, freqHz = 440): Promise<{ id: number; path: string }> {
  const wav = await writeToneWav(store.recordingPath('1002'), { seconds, freqHz });
  return store.add({ mailbox: '1002', file: wav, callerNumber: '1001', callerName: 'Alice Archer', received: RECEIVED, durationSeconds: seconds });
}

/** Real I/O happens while the clock stands still: wait (bounded) until the mailer parks on a retry timer. */
async function retryArmed(clock: VirtualClock, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (clock.pending() === 0) {
    if (Date.now() > deadline) assert.fail(`no retry was armed: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('subject and text say who called, which mailbox, when and how long', () => {
  assert.equal(voicemailSubject({ callerNumber: '1001', callerName: 'Alice Archer', mailbox: '1002' }), 'New voicemail from Alice Archer <1001> in mailbox 1002');
  assert.equal(voicemailSubject({ callerNumber: '1001', mailbox: '1002' }), 'New voicemail from 1001 in mailbox 1002');
  assert.equal(callerText('', ''), 'an unknown caller');
  assert.equal(callerText('1001', 'Evil\r\nBcc: x@y'), 'Evil Bcc: x@y <1001>', 'no header injection through a caller name');
  const text = voicemailText(
    { to: 'bob@acme.example', mailbox: '1002', ownerName: 'Bob Baker', callerNumber: '1001', callerName: 'Alice Archer', received: RECEIVED, durationSeconds: 62.4, wavPath: '/x/msg0007.wav' },
    { timeZone: 'Europe/Berlin', accessNumber: '*98' },
  );
  assert.match(text, /^Hello Bob Baker,/);
  assert.match(text, /From: +Alice Archer <1001>/);
  assert.match(text, /Received: +Friday,? 4 December 2026 at 13:39:50 CET/);
  assert.match(text, /Length: +1:02 \(62 seconds\)/);
  assert.match(text, /attached \(msg0007\.wav\)/);
  assert.match(text, /Dial \*98/);
});

test('a voicemail arrives with subject, from, to, the details, and the WAV attached byte for byte; the message is marked emailed', async () => {
  const m = await message();
  const log = captureLog();
  const mailer = new VoicemailMailer(smtp(), { store, log: log.log, clock: new VirtualClock() });
  const before = sink.mails.length;
  const ok = await mailer.send({ to: 'bob@acme.example', mailbox: '1002', callerNumber: '1001', callerName: 'Alice Archer', received: RECEIVED, durationSeconds: 1.5, wavPath: m.path, messageId: m.id });
  assert.equal(ok, true);
  assert.equal(sink.mails.length, before + 1);
  const mail = sink.mails[sink.mails.length - 1];
  assert.equal(mail.from, 'voicemail@acme.example');
  assert.deepEqual(mail.to, ['bob@acme.example']);
  const top = entity(mail.raw);
  assert.equal(top.headers.get('subject'), 'New voicemail from Alice Archer <1001> in mailbox 1002');
  assert.equal(top.headers.get('from'), 'voicemail@acme.example');
  assert.equal(top.headers.get('to'), 'bob@acme.example');
  assert.match(top.headers.get('content-type') ?? '', /^multipart\/mixed/);
  const att = attachmentOf(mail.raw);
  assert.match(att.headers.get('content-type') ?? '', /^audio\/wav; name="?msg\d{4}\.wav"?/);
  assert.match(att.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="?${path.basename(m.path).replace('.', '\\.')}"?`));
  assert.deepEqual(att.bytes, readFileSync(m.path), 'the WAV survives the trip intact');
  assert.match(textOf(mail.raw), /From: +Alice Archer <1001>[\s\S]*Length: +0:02/);
  assert.equal(store.get(m.id)?.emailed, true);
  assert.equal(mailer.pending, 0);
  mailer.close();
});

test('a server that refuses once (451) gets the mail on the retry 5 s later; nothing is sent before', async () => {
  const m = await message(1, 900);
  const clock = new VirtualClock();
  const log = captureLog();
  const mailer = new VoicemailMailer(smtp(), { store, clock, log: log.log });
  sink.refuse(1);
  const before = sink.mails.length;
  const sent = mailer.send({ to: 'bob@acme.example', mailbox: '1002', callerNumber: '1001', received: RECEIVED, durationSeconds: 1, wavPath: m.path, messageId: m.id });
  await retryArmed(clock, 'after the 451');
  assert.equal(sink.mails.length, before);
  assert.equal(store.get(m.id)?.emailed, false);
  clock.advance(4_999);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sink.mails.length, before, 'not before 5 s');
  clock.advance(1);
  assert.equal(await sent, true);
  assert.equal(sink.mails.length, before + 1);
  assert.deepEqual(attachmentOf(sink.mails[sink.mails.length - 1].raw).bytes, readFileSync(m.path));
  assert.equal(store.get(m.id)?.emailed, true);
  const warn = log.records().filter((r) => r.level === 40);
  assert.equal(warn.length, 1);
  assert.match(String(warn[0].msg), /failed .*451.*trying again in 5 s/);
  assert.equal(clock.pending(), 0);
  mailer.close();
});

test('a server that is down: tries at 0, 5 s, 35 s and 155 s, then gives up, logged; the message stays unmailed', async () => {
  const m = await message(1, 700);
  const down = new SmtpSink();
  await down.start();
  const port = down.port;
  await down.stop();
  const clock = new VirtualClock();
  const log = captureLog();
  const mailer = new VoicemailMailer(smtp(port), { store, clock, log: log.log });
  const sent = mailer.send({ to: 'bob@acme.example', mailbox: '1002', callerNumber: '1001', received: RECEIVED, durationSeconds: 1, wavPath: m.path, messageId: m.id });
  const attempts: number[] = [];
  for (const wait of [5_000, 30_000, 120_000]) {
    await retryArmed(clock, `before the wait of ${wait} ms`);
    attempts.push(clock.now());
    clock.advance(wait);
  }
  assert.equal(await sent, false);
  assert.deepEqual(attempts, [0, 5_000, 35_000], 'each wait starts after the attempt before it failed');
  assert.equal(log.records().filter((r) => r.level === 40).length, 3, 'a warning per failed try');
  const errors = log.records().filter((r) => r.level === 50);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].attempts, 4);
  assert.equal(store.get(m.id)?.emailed, false);
  assert.deepEqual(store.unemailed('1002').some((x) => x.id === m.id), true);
  assert.equal(clock.pending(), 0);
  mailer.close();
});

test('a permanent refusal (550) is not retried; close() ends a mail waiting for its retry', async () => {
  const m = await message(1, 500);
  const clock = new VirtualClock();
  const mailer = new VoicemailMailer(smtp(), { store, clock });
  sink.refuse(1, 550);
  const seen = sink.rcptSeen;
  assert.equal(await mailer.send({ to: 'nobody@acme.example', mailbox: '1002', callerNumber: '1001', received: RECEIVED, durationSeconds: 1, wavPath: m.path, messageId: m.id }), false);
  assert.equal(sink.rcptSeen, seen + 1);
  assert.equal(clock.pending(), 0);

  sink.refuse(1);
  const waiting = mailer.send({ to: 'bob@acme.example', mailbox: '1002', callerNumber: '1001', received: RECEIVED, durationSeconds: 1, wavPath: m.path, messageId: m.id });
  await retryArmed(clock, 'after the 451');
  mailer.close();
  assert.equal(await waiting, false);
  assert.equal(clock.pending(), 0);
  assert.equal(mailer.pending, 0);
});
