/**
 * `switchboard phone register|call|listen`: a thin shell over ua/ (SIP)
 * and ua/media-session (RTP). Scripted by flags, with the exit code as the
 * call outcome; interactive by keys on a terminal, or by one command per
 * line on a pipe (how tests and scripts drive hold and transfer).
 */
import { createLogger } from '../log.js';
import { UserAgent, SipStatusError, type Call, type IncomingCall } from '../../ua/index.js';
import { TlsVerifyError } from '../../sip/transport/index.js';
import { MediaSession } from '../../ua/media-session.js';
import { parseSourceSpec, requireSox, type AudioSourceSpec } from '../../media/players/index.js';
import { CallView } from './call-view.js';
import { Commands } from './commands.js';
import { EXIT, exitCodeFor, statusWords } from './outcome.js';
import { parsePhoneOptions, type PhoneOptions, type RawPhoneOptions } from './options.js';
import { mapPort } from './stun-ports.js';
import { VoicemailWatch } from './voicemail.js';
import { hostPort } from '../../util/listen.js';
import { ListenError } from '../../sip/transport/errors.js';

export type PhoneMode = 'register' | 'call' | 'listen';

/** Keys go out this long after the answer, so the far end's media is surely up. */
const DTMF_DELAY_MS = 1000;

export async function runPhone(mode: PhoneMode, target: string | undefined, raw: RawPhoneOptions): Promise<number> {
  const opts = parsePhoneOptions(raw, mode);
  const source = await parseSourceSpec(opts.play);
  if (opts.speaker) requireSox('play');
  const print = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  // register and listen show message waiting; a call placed from the command line has no use for it.
  const phone = await Phone.start(opts, source, print, mode !== 'call');
  try {
    if (mode === 'call') return await phone.placeCall(target ?? '');
    return await phone.serve(mode);
  } finally {
    await phone.close();
  }
}

class Phone {
  private readonly views = new Map<Call, CallView>();
  private commands: Commands | undefined;
  private stopping: (() => void) | undefined;
  private recordCount = 0;
  private voicemail: VoicemailWatch | undefined;

  private constructor(
    readonly ua: UserAgent,
    private readonly opts: PhoneOptions,
    private readonly print: (line: string) => void,
  ) {}

  static async start(opts: PhoneOptions, source: AudioSourceSpec, print: (line: string) => void, watchVoicemail: boolean): Promise<Phone> {
    let listenPort = opts.listen.port;
    let contact: { host: string; port: number } | undefined;
    if (opts.stun) {
      const m = await mapPort(opts.listen.host, listenPort, opts.stun);
      listenPort = m.localPort;
      contact = { host: m.mapped.address, port: m.mapped.port };
      print(`STUN: our SIP port ${listenPort} is ${contact.host}:${contact.port} outside`);
    }
    // The phone's own lines go to stdout; what goes wrong underneath goes to stderr.
    const log = createLogger({ level: 'warn', fd: 2 });
    const ua = new UserAgent({
      listen: `${opts.transport}:${hostPort({ address: opts.listen.host, port: listenPort })}`,
      server: opts.server,
      user: opts.user,
      password: opts.password,
      contactHost: contact?.host,
      contactPort: contact?.port,
      newMedia: async () => {
        let port = 0;
        let advertise: { address: string; port: number } | undefined;
        if (opts.stun) {
          const m = await mapPort(opts.listen.host, 0, opts.stun);
          port = m.localPort;
          advertise = m.mapped;
        }
        // The call owns its media and closes it when it ends (ua/call.ts).
        return MediaSession.open({
          codecs: opts.codecs,
          bindAddress: opts.listen.host,
          advertiseAddress: advertise?.address,
          advertisePort: advertise?.port,
          port,
          source,
          srtp: opts.srtp,
        });
      },
      log,
      tls: { ca: opts.ca === undefined ? [] : [opts.ca], verify: !opts.insecure },
      traceSip: opts.traceSip ? (dir, text, peer) => print(`${dir === 'in' ? '<<<' : '>>>'} ${dir === 'in' ? 'from' : 'to'} ${peer}\n${text.trimEnd()}\n`) : undefined,
    });
    const phone = new Phone(ua, opts, print);
    if (opts.insecure) print('warning: --insecure: the server\'s TLS certificate is not verified; anyone on the path can pose as the server and read the call setup');
    try {
      await ua.start();
    } catch (err) {
      await ua.close();
      if (err instanceof ListenError) throw new Error(listenAdvice(err), { cause: err });
      throw err;
    }
    const l = ua.local;
    print(`phone ${ua.aor} on ${l.proto}:${l.address}:${l.port}`);
    if (opts.server) {
      // Listening for unsolicited NOTIFYs before the registrar knows us: one may come as soon as we are registered.
      if (watchVoicemail) phone.voicemail = new VoicemailWatch(ua, print, log);
      try {
        const granted = await ua.register(opts.expires);
        print(`registered at ${opts.server.host}:${opts.server.port} as ${ua.aor} for ${granted} s`);
        phone.voicemail?.start();
        // Only refreshes from here on: the first attempt's failure is reported below, once.
        ua.on('registrationFailed', (status, reason) => print(`registration refresh failed: ${statusWords(status, reason)}`));
      } catch (err) {
        phone.voicemail?.close();
        await ua.close();
        if (err instanceof SipStatusError && err.cause instanceof TlsVerifyError) {
          print(`registration failed: ${err.cause.message}. ${trustHint(err.cause)}`);
          throw new PhoneExit(EXIT.registrationFailed);
        }
        if (err instanceof SipStatusError) {
          print(`registration failed: ${statusWords(err.status, err.reason)}`);
          throw new PhoneExit(EXIT.registrationFailed);
        }
        print(`registration failed: ${(err as Error).message}. Is a registrar listening at ${opts.server.host}:${opts.server.port}?`);
        throw new PhoneExit(EXIT.registrationFailed);
      }
    }
    return phone;
  }

  /** `phone call URI`: resolves with the exit code for the call's outcome. */
  async placeCall(target: string): Promise<number> {
    const { opts, print } = this;
    print(`calling ${target}${opts.server ? ` via ${opts.server.host}:${opts.server.port}` : ''}`);
    const call = this.ua.call(target);
    let current: Call = call;
    const stopOnSignal = this.onSignal(() => this.own(current.hangup(), 'hang up'));
    const outcome = await this.followChain(call, (c) => {
      current = c;
      this.listenForCommands(c);
    });
    stopOnSignal();
    await this.commands?.settle();
    if (outcome.answered) return EXIT.ok;
    return outcome.status !== undefined ? exitCodeFor(outcome.status) : EXIT.failed;
  }

  /** `phone listen` / `phone register`: wait for calls until --calls are done or a signal comes. */
  async serve(mode: PhoneMode): Promise<number> {
    const { opts, print } = this;
    let done = 0;
    const target = opts.calls;
    const finished = new Promise<void>((resolve) => {
      this.stopping = resolve;
      this.ua.on('offerRejected', (from, warning) => print(`rejected a call from ${from}: 488 Not Acceptable Here (Warning: ${warning})`));
      this.ua.on('incoming', (call) => {
        print(`incoming call from ${call.from}`);
        // --calls counts conversations: a call refused (488, cancelled) is not one,
        // and a call handed over by a transfer counts once, when its successor ends.
        const counted = this.followChain(call, (c) => this.listenForCommands(c)).then((outcome) => {
          if (outcome.answered) done++;
          if (target !== undefined && done >= target) resolve();
        });
        this.own(counted, 'following the call');
        call.ringing();
        if (opts.autoAnswer) this.answer(call);
        else print(process.stdin.isTTY ? 'press a to answer, r to reject' : 'ringing; send "answer" or "reject" on standard input');
      });
    });
    // Handlers first: a script that signals as soon as it reads the line must get the polite stop.
    const stopOnSignal = this.onSignal(() => this.stopping?.());
    print(mode === 'listen' ? `waiting for calls${target ? ` (${target})` : ''}; Ctrl-C to stop` : 'registered; Ctrl-C to unregister and quit');
    await finished;
    stopOnSignal();
    await this.commands?.settle();
    return EXIT.ok;
  }

  /**
   * Follows a call and whatever takes its place: the new call a REFER made us
   * place (transferred), or the call that replaced it (attended transfer
   * with Replaces). Resolves when the last of them ends: whether any was
   * answered, and the last one's failure status. `--dtmf` and `--duration`
   * apply to each call once it is answered.
   */
  private followChain(first: Call, onCall: (c: Call) => void): Promise<{ answered: boolean; status?: number }> {
    let answeredAny = false;
    return new Promise((resolve) => {
      const run = (c: Call): void => {
        onCall(c);
        let next: Call | undefined;
        const onAnswered = (): void => {
          answeredAny = true;
          if (this.opts.dtmf) this.sendDtmfLater(c, this.opts.dtmf);
          if (this.opts.durationS !== undefined) setTimeout(() => this.own(c.hangup(), 'hang up'), this.opts.durationS * 1000).unref();
        };
        if (c.state === 'answered') onAnswered();
        else c.once('answered', onAnswered);
        c.on('transferred', (n) => (next = n));
        c.on('replaced', (n) => (next = n));
        const followed = this.follow(c).then((end) => {
          if (next && next.state !== 'ended') run(next);
          else resolve({ answered: answeredAny, status: end.status });
        });
        this.own(followed, 'following the call');
      };
      run(first);
    });
  }

  async close(): Promise<void> {
    this.commands?.close();
    this.voicemail?.close();
    await this.awaitAcks();
    await this.ua.close();
  }

  /**
   * A failure response to an INVITE is retransmitted until the caller's ACK
   * (RFC 3261 §17.2.1); quitting before it comes would leave the caller
   * retrying into a closed port. Waits for those ACKs, 4 s at most.
   */
  private async awaitAcks(): Promise<void> {
    await this.ua.stack.drain(4000);
  }

  /** Work nobody awaits: its failure is printed for the user, never left unhandled. */
  private own(work: Promise<unknown>, what: string): void {
    work.catch((err: unknown) => this.print(`${what}: ${err instanceof Error ? err.message : String(err)}`));
  }

  answer(call: IncomingCall): void {
    call.accept().catch((err: Error) => this.print(`could not answer: ${err.message}`));
  }

  /** Wires printing and recording to a call; resolves when it ends. */
  private follow(call: Call): Promise<{ status?: number }> {
    const view = new CallView(call, { print: this.print, stats: this.opts.stats, recordPath: this.recordPath(), speaker: this.opts.speaker });
    this.views.set(call, view);
    const attach = (): void => {
      const media = call.media;
      if (media instanceof MediaSession) view.attach(media);
    };
    attach();
    // The media exists once the INVITE is built (outgoing) or answered (incoming).
    call.on('progress', attach);
    call.on('answered', attach);
    return new Promise((resolve) =>
      call.once('ended', (end) => {
        // A phone left listening for days must not keep every call it ever had.
        this.views.delete(call);
        resolve(end);
      }),
    );
  }

  private recordPath(): string | undefined {
    const path = this.opts.record;
    if (!path) return undefined;
    this.recordCount++;
    if (this.recordCount === 1) return path;
    // More calls than one (--calls N, a transfer): FILE-2.wav, FILE-3.wav ...
    return path.replace(/(\.wav)?$/i, (ext) => `-${this.recordCount}${ext || '.wav'}`);
  }

  private sendDtmfLater(call: Call, keys: string): void {
    setTimeout(() => {
      const media = call.media;
      if (call.state !== 'answered' || !(media instanceof MediaSession)) return;
      try {
        media.sendDigits(keys);
        this.print(`DTMF sent: ${keys}`);
      } catch {
        // The peer took no telephone-event: fall back to SIP INFO, one request per key.
        const byInfo = async (): Promise<void> => {
          for (const k of keys) await call.sendDtmfInfo(k).catch(() => undefined);
          this.print(`DTMF sent by SIP INFO: ${keys}`);
        };
        this.own(byInfo(), 'DTMF by SIP INFO');
      }
    }, DTMF_DELAY_MS).unref();
  }

  private listenForCommands(call: Call): void {
    if (!this.commands) {
      this.commands = new Commands(this.print, {
        ua: this.ua,
        views: this.views,
        answer: (c) => this.answer(c),
        follow: (c) => this.own(this.follow(c), 'following the call'),
        quit: () => this.stopping?.(),
      });
    }
    this.commands.current = call;
  }

  /** Ctrl-C / SIGTERM: the first ends the call (or stops listening) politely; a second quits at once. */
  private onSignal(fn: () => void): () => void {
    let count = 0;
    const handler = (): void => {
      count++;
      if (count > 1) process.exit(EXIT.error);
      this.print('stopping (again to quit at once)');
      fn();
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    return () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    };
  }
}

/** What to do about a server certificate the phone refused. */
function trustHint(err: TlsVerifyError): string {
  if (err.code === 'HOSTNAME_MISMATCH') {
    return `Connect by a name the certificate carries (--server NAME:PORT), give the server a certificate for ${err.identity}, or skip the check with --insecure`;
  }
  if (err.code === 'CERT_HAS_EXPIRED' || err.code === 'CERT_NOT_YET_VALID') {
    return 'The server needs a valid certificate (check its dates and this machine\'s clock), or skip the check with --insecure';
  }
  return 'Trust it with --ca FILE (the CA that signed it, or the server\'s own certificate when self-signed), or skip the check with --insecure';
}

/** Thrown to end the command with an exit code after the reason was printed. */
export class PhoneExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** What a phone's user can do about a SIP address that would not bind: it is set with --listen. */
function listenAdvice(err: ListenError): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `${err.message}. Choose another port with --listen (e.g. --listen ${hostPort({ address: err.endpoint.address, port: 0 })} for any free one).`;
    case 'EACCES':
      return `${err.message}. Use --listen with a port of 1024 or above.`;
    case 'EADDRNOTAVAIL':
      return `${err.message}. Use --listen with an address of this machine (e.g. 127.0.0.1:0).`;
    case 'EAFNOSUPPORT':
      return `${err.message}. Use --listen with an IPv4 address.`;
    default:
      return `${err.message}. Check --listen.`;
  }
}
