/**
 * Driving a call while it runs. On a terminal, single keys (0-9 * # and capital A-D
 * send DTMF, a answer, r reject, h hold/resume, t blind transfer, x attended transfer, s stats, q hang
 * up); on a pipe, one command per line, so scripts and tests can do the
 * same: `dtmf 12#`, `hold`, `resume`, `transfer sip:bob@host`,
 * `attended sip:carol@host`, `answer`, `reject`, `stats`, `hangup`, `quit`.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Call, IncomingCall, UserAgent } from '../../ua/index.js';
import { MediaSession } from '../../ua/media-session.js';
import type { CallView } from './call-view.js';

export interface CommandHost {
  ua: UserAgent;
  views: Map<Call, CallView>;
  answer(call: IncomingCall): void;
  follow(call: Call): void;
  quit(): void;
}

export const KEY_HELP =
  'keys: 0-9 * # A-D DTMF, a answer, r reject, h hold/resume, t transfer, x attended transfer, s stats, q hang up';

export class Commands {
  /** The call commands act on: the newest. */
  current: Call | undefined;
  private lines: Interface | undefined;
  private readonly onKey = (data: Buffer): void => this.key(data.toString('utf8'));
  private prompt: ((line: string) => void) | undefined;
  /** What was typed so far at the prompt. */
  private promptBuffer = '';

  constructor(
    private readonly print: (line: string) => void,
    private readonly host: CommandHost,
  ) {
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      stdin.on('data', this.onKey);
      print(KEY_HELP);
    } else if (!stdin.destroyed && !stdin.readableEnded) {
      this.lines = createInterface({ input: stdin, terminal: false });
      this.lines.on('line', (line) => this.submit(line.trim()));
    }
    // Never keep the process alive just for input.
    stdin.unref?.();
  }

  close(): void {
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.off('data', this.onKey);
      stdin.setRawMode(false);
    }
    this.lines?.close();
    stdin.pause();
  }

  private key(text: string): void {
    if (this.prompt) {
      // Reading a URI after t or x: echo what is typed, Enter ends it.
      this.promptLine(text);
      return;
    }
    for (const ch of text) {
      if (ch === '\u0003') process.kill(process.pid, 'SIGINT');
      else if (/[0-9*#A-D]/.test(ch)) this.submit(`dtmf ${ch}`);
      else if (ch === 'a') this.submit('answer');
      else if (ch === 'r') this.submit('reject');
      else if (ch === 'h') this.submit(this.current?.onHold ? 'resume' : 'hold');
      else if (ch === 's') this.submit('stats');
      else if (ch === 'q') this.submit('hangup');
      else if (ch === 't' || ch === 'x') this.ask(ch === 't' ? 'transfer' : 'attended');
    }
  }

  private ask(command: string): void {
    process.stdout.write(`${command} to (URI, Enter): `);
    this.promptBuffer = '';
    this.prompt = (line) => this.submit(`${command} ${line}`);
  }

  private promptLine(text: string): void {
    for (const ch of text) {
      if (ch === '\r' || ch === '\n') {
        process.stdout.write('\n');
        const done = this.prompt;
        this.prompt = undefined;
        done?.(this.promptBuffer.trim());
        return;
      }
      if (ch === '\u007f') this.promptBuffer = this.promptBuffer.slice(0, -1);
      else this.promptBuffer += ch;
      process.stdout.write(ch === '\u007f' ? '\b \b' : ch);
    }
  }

  /** Waits (at most `ms`) for commands still running, e.g. a transfer whose result is yet to be printed. */
  async settle(ms = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([Promise.allSettled([...this.pending]), cap]);
    clearTimeout(timer);
  }

  private readonly pending = new Set<Promise<void>>();

  /** Starts one command; settle() waits for it. Errors are printed, never thrown (the call goes on). */
  private submit(line: string): void {
    const job = this.execute(line);
    this.pending.add(job);
    const forget = (): void => {
      this.pending.delete(job);
    };
    job.then(forget, forget);
  }

  private async execute(line: string): Promise<void> {
    if (!line) return;
    const [word, ...rest] = line.split(/\s+/);
    const arg = rest.join(' ');
    const call = this.current;
    try {
      switch (word.toLowerCase()) {
        case 'dtmf': {
          const media = call?.media;
          if (!call || !(media instanceof MediaSession)) throw new Error('no call to send DTMF on');
          media.sendDigits(arg.toUpperCase());
          this.print(`DTMF sent: ${arg.toUpperCase()}`);
          break;
        }
        case 'hold':
          if (!call) throw new Error('no call to hold');
          await call.hold();
          this.print('on hold');
          break;
        case 'resume':
          if (!call) throw new Error('no call to resume');
          await call.resume();
          this.print('resumed');
          break;
        case 'transfer': {
          if (!call) throw new Error('no call to transfer');
          if (!arg) throw new Error('transfer needs a target, e.g. transfer sip:1003@127.0.0.1');
          this.print(`transferring to ${arg}`);
          const status = await call.transfer(arg);
          this.print(`transfer ${status < 300 ? 'done' : 'failed'}: the target answered ${status}`);
          break;
        }
        case 'attended':
          await this.attended(arg);
          break;
        case 'answer':
          if (!call || !('accept' in call)) throw new Error('no incoming call to answer');
          this.host.answer(call as IncomingCall);
          break;
        case 'reject':
          if (!call || !('reject' in call)) throw new Error('no incoming call to reject');
          (call as IncomingCall).reject(Number(arg) || 486);
          break;
        case 'stats': {
          const view = call && this.host.views.get(call);
          this.print(view?.statsLine() ?? 'no media yet');
          break;
        }
        case 'hangup':
          if (!call) throw new Error('no call to hang up');
          await call.hangup();
          break;
        case 'quit':
          if (call && call.state !== 'ended') await call.hangup();
          this.host.quit();
          break;
        default:
          this.print(`unknown command "${word}"; commands: dtmf KEYS, hold, resume, transfer URI, attended URI, answer, reject, stats, hangup, quit`);
      }
    } catch (err) {
      this.print(`${word}: ${(err as Error).message}`);
    }
  }

  /**
   * Attended transfer in one step: hold the current call, call the new
   * party, and once they answer hand our caller over to them (REFER with
   * Replaces), as a desk phone's "transfer, dial, transfer" does.
   */
  private async attended(target: string): Promise<void> {
    const first = this.current;
    if (!first) throw new Error('no call to transfer');
    if (!target) throw new Error('attended needs a target, e.g. attended sip:1003@127.0.0.1');
    await first.hold();
    this.print(`on hold; calling ${target} to consult`);
    const consult = this.host.ua.call(target);
    this.host.follow(consult);
    await new Promise<void>((resolve, reject) => {
      consult.once('answered', () => resolve());
      consult.once('ended', (end) => reject(new Error(`the consultation call ended (${end.status ?? 'hung up'})`)));
    });
    this.print(`${target} answered; transferring`);
    const status = await first.attendedTransfer(consult);
    this.print(`attended transfer ${status < 300 ? 'done' : 'failed'} (${status})`);
  }
}
