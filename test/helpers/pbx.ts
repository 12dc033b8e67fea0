/**
 * What PBX tests share: the contract config with the test's ports,
 * a real SMTP sink (smtp-server) that keeps what it receives, and reading a
 * tone's share out of what a phone recorded.
 */
import { SMTPServer } from 'smtp-server';
import { tonePresence } from '../../src/media/dsp/tone-detect.js';
import { readWav } from './wav.js';

/** The PBX config of issue 8, exactly as written there (ports and data directory replaced by the caller). */
export const CONTRACT_YAML = `domain: 127.0.0.1
sip:
  listen: [udp:127.0.0.1:5060, tcp:127.0.0.1:5060]
admin:
  listen: 127.0.0.1:8089
data: ./data
smtp: { host: 127.0.0.1, port: 2525, from: voicemail@acme.example }
users:
  "1001": { password: "Al1ce-long-pass-77", name: Alice Archer, voicemail: { pin: "4711", email: alice@acme.example } }
  "1002": { password: "B0b-long-pass-88", name: Bob Baker, voicemail: { pin: "4712", email: bob@acme.example } }
  "1003": { password: "C4rol-long-pass-99", name: Carol Cole }
queues:
  support: { strategy: ringall, members: ["1003"], timeout: 15, max_wait: 60, after: [ { voicemail: "1002" } ] }
conferences:
  "6000": {}
dialplan:
  internal:
    "_1XXX":
      - dial: { to: "\${EXTEN}", timeout: 15 }
      - voicemail: "\${EXTEN}"
    "500":
      - goto: main-menu
    "6000":
      - conference: "6000"
    "*98":
      - voicemail_main: {}
  main-menu:
    s:
      - answer
      - gather: { num_digits: 1, timeout: 5, say: "Thank you for calling Acme Corporation. For sales, press 1. For support, press 2." }
    "1":
      - dial: { to: ["1001", "1003"], timeout: 20 }
    "2":
      - enqueue: support
    i:
      - say: "Sorry, that is not a valid choice."
      - goto: main-menu
`;

export const PASSWORDS = { '1001': 'Al1ce-long-pass-77', '1002': 'B0b-long-pass-88', '1003': 'C4rol-long-pass-99' } as const;

/** The contract config with the test's own ports (SIP, admin, SMTP). */
export function contractYaml(p: { sip: number; admin: number; smtp: number }, extra = ''): string {
  const text = CONTRACT_YAML.replaceAll(':5060', `:${p.sip}`).replace('127.0.0.1:8089', `127.0.0.1:${p.admin}`).replace('port: 2525', `port: ${p.smtp}`);
  return text + extra;
}

export interface SentMail {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server on 127.0.0.1 that accepts everything and keeps it. */
export async function startSmtpSink(port: number): Promise<{ mails: SentMail[]; close(): Promise<void> }> {
  const mails: SentMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope;
        mails.push({ from: env.mailFrom ? env.mailFrom.address : '', to: env.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        done();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The base64 body of the first `audio/wav` part of a MIME message, decoded. */
export function wavAttachment(raw: string): Buffer | undefined {
  const m = /Content-Type:\s*audio\/(?:x-)?wav[\s\S]*?\r?\n\r?\n([A-Za-z0-9+/=\r\n]+?)(?:\r?\n--|$)/i.exec(raw);
  return m ? Buffer.from(m[1].replace(/\s+/g, ''), 'base64') : undefined;
}

/**
 * Share of 20 ms frames of a recording (from `fromSeconds` on) in which `hz`
 * is present; `minRatio` lowers the share of a frame's power the tone must
 * have (a conference mix holds two tones at once).
 */
export async function heard(file: string, hz: number, fromSeconds = 0, toSeconds?: number, minRatio?: number): Promise<number> {
  const w = await readWav(file);
  const start = Math.floor(fromSeconds * w.sampleRate);
  const end = toSeconds === undefined ? w.samples.length : Math.floor(toSeconds * w.sampleRate);
  return tonePresence(w.samples.subarray(start, end), w.sampleRate, hz, minRatio === undefined ? {} : { minRatio });
}
