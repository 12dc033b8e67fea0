/**
 * The verb engine: runs a call's verbs on its channel, one after another,
 * jumping between dialplan extensions as Asterisk's pbx_exec loop does.
 * Verbs that only need the channel (answer, play, say, gather, pause ...)
 * live here; the ones that need a PBX service (dial, voicemail, queues,
 * conferences, park) are handed to `VoiceServices`, so TwiML can later drive
 * the same engine with its own front end.
 */
import type { AudioSourceSpec } from '../media/players/index.js';
import type { Channel } from '../pbx/channel.js';
import type { Logger } from '../util/log.js';
import { substitute } from './dialplan/substitute.js';
import type { GatherVerb, Prompt, Step, Target, Verb } from './verbs.js';

/** An extension found in the dialplan. */
export interface DialplanMatch {
  context: string;
  pattern: string;
  steps: readonly Step[];
}

/** What the engine asks of a dialplan (voice/dialplan/dialplan.ts). */
export interface DialplanView {
  hasContext(name: string): boolean;
  find(context: string, exten: string): DialplanMatch | undefined;
  canMatchMore(context: string, prefix: string): boolean;
}

/** Where a verb sends the call next. */
export type Flow = { next: true } | { jump: Target } | { hangup: true };

export const NEXT: Flow = { next: true };
export const HANGUP: Flow = { hangup: true };

/** The PBX services verbs use; each returns how the call goes on. */
export interface VoiceServices {
  readonly dialplan: DialplanView;
  readonly log: Logger;
  /** Spoken text as audio (TTS, cached). */
  speak(text: string, voice?: string): Promise<AudioSourceSpec>;
  /** A WAV file as audio (read once, cached). */
  file(path: string): Promise<AudioSourceSpec>;
  /** Verbs the engine does not run itself. */
  run(script: CallScript, verb: Verb): Promise<Flow>;
  /** Whether the script may take another verb: a script is bounded in jumps. */
  isCalendarOpen?(calendar: string): boolean;
}

/** Jumps between extensions without a verb that waits for the caller: a dialplan loop, ended here. */
const MAX_JUMPS_WITHOUT_WAIT = 50;
/** Times the same menu may be entered again before the caller is let go (bounded IVR retries). */
const MAX_MENU_VISITS = 4;

export class CallScript {
  readonly vars = new Map<string, string>();
  context: string;
  exten: string;
  private jumpsWithoutWait = 0;
  private readonly visits = new Map<string, number>();

  constructor(
    readonly services: VoiceServices,
    readonly channel: Channel,
    start: { context: string; exten: string },
  ) {
    this.context = start.context;
    this.exten = start.exten;
    this.vars.set('CALLERID', channel.caller.number);
    this.vars.set('CALLERID(num)', channel.caller.number);
    this.vars.set('CALLERID(name)', channel.caller.name ?? '');
    this.vars.set('UNIQUEID', channel.id);
  }

  /** `${VAR}` references in `text`, resolved now. */
  sub(text: string): string {
    return substitute(text, (name) => {
      if (name === 'EXTEN') return this.exten;
      if (name === 'CONTEXT') return this.context;
      return this.vars.get(name);
    });
  }

  /** Notes that the caller was waited for (a gather, a dial ...): jumps may go on. */
  waited(): void {
    this.jumpsWithoutWait = 0;
  }

  /** Runs the call until its verbs end it, it hangs up, or the verbs run out (then it is hung up). */
  async run(): Promise<void> {
    const ch = this.channel;
    const log = this.services.log;
    const generation = ch.generation;
    try {
      for (;;) {
        if (ch.ended || ch.generation !== generation) return;
        const match = this.lookup();
        if (!match) {
          log.info({ callId: ch.call.callId, context: this.context, exten: this.exten }, 'no such extension; call refused');
          ch.hangup(404, 'Not Found');
          return;
        }
        this.vars.set('EXTEN', this.exten);
        const flow = await this.runSteps(match);
        if ('hangup' in flow) break;
        if ('next' in flow) break;
        const target = flow.jump;
        if (++this.jumpsWithoutWait > MAX_JUMPS_WITHOUT_WAIT) {
          log.warn({ callId: ch.call.callId, context: target.context }, 'dialplan loop: too many jumps without waiting for the caller; hanging up');
          break;
        }
        const key = `${target.context},${target.exten ?? 's'}`;
        const n = (this.visits.get(key) ?? 0) + 1;
        this.visits.set(key, n);
        if (n > MAX_MENU_VISITS && (target.exten ?? 's') === 's') {
          await this.sayQuietly('Goodbye.');
          break;
        }
        this.context = target.context;
        this.exten = target.exten ?? 's';
      }
    } catch (err) {
      log.error({ err, callId: ch.call.callId }, 'a verb failed; the call is hung up');
    }
    if (ch.generation !== generation) return;
    // An unanswered call whose last dial failed is refused with what that dial met (Asterisk's hangup cause).
    const refusal: Record<string, number> = { BUSY: 486, CONGESTION: 503, CHANUNAVAIL: 480, NOANSWER: 480 };
    ch.hangup(refusal[ch.dialStatus ?? ''] ?? 480);
  }

  private lookup(): DialplanMatch | undefined {
    const dp = this.services.dialplan;
    return dp.find(this.context, this.exten) ?? (this.exten !== 'i' ? this.invalid() : undefined);
  }

  /** Asterisk sends an unknown extension to `i` when the context has one. */
  private invalid(): DialplanMatch | undefined {
    const m = this.services.dialplan.find(this.context, 'i');
    if (m) this.vars.set('INVALID_EXTEN', this.exten);
    return m;
  }

  private async runSteps(match: DialplanMatch): Promise<Flow> {
    for (const step of match.steps) {
      if (this.channel.ended) return HANGUP;
      this.channel.lastApp = step.verb;
      const flow = await this.exec(step);
      if (!('next' in flow)) return flow;
    }
    return HANGUP;
  }

  /** Runs one verb. */
  async exec(verb: Verb): Promise<Flow> {
    const ch = this.channel;
    switch (verb.verb) {
      case 'answer':
        return (await ch.answer()) ? NEXT : HANGUP;
      case 'hangup':
        ch.hangup(verb.status);
        return HANGUP;
      case 'reject':
        ch.hangup(verb.reason === 'busy' ? 486 : 603);
        return HANGUP;
      case 'pause':
        if (!(await ch.answer())) return HANGUP;
        await ch.sleep(verb.length * 1000);
        return ch.ended ? HANGUP : NEXT;
      case 'set':
        for (const [k, v] of Object.entries(verb.vars)) this.vars.set(k, this.sub(v));
        return NEXT;
      case 'goto':
        return { jump: this.target(verb.target) };
      case 'goto_if_time': {
        const open = this.services.isCalendarOpen?.(verb.calendar) ?? true;
        const t = open ? verb.then : verb.else;
        return t ? { jump: this.target(t) } : NEXT;
      }
      case 'play':
        return this.play(verb.files, verb.loop, verb.tone ? { kind: 'tone', hz: verb.tone.freqs[0] } : undefined, verb.digits);
      case 'say':
        return this.say(verb.text, verb.voice, verb.loop);
      case 'gather':
        return this.gather(verb);
      default:
        return this.services.run(this, verb);
    }
  }

  private target(t: Target): Target {
    return { context: this.sub(t.context), exten: t.exten === undefined ? undefined : this.sub(t.exten) };
  }

  private async play(files: string[], loop: number, tone: AudioSourceSpec | undefined, digits: string | undefined): Promise<Flow> {
    const ch = this.channel;
    if (!(await ch.answer())) return HANGUP;
    this.waited();
    if (digits) {
      try {
        ch.media?.sendDigits(this.sub(digits));
      } catch {
        /* the far end takes no RFC 4733: nothing to send */
      }
      await ch.sleep(digits.length * 250);
      return ch.ended ? HANGUP : NEXT;
    }
    const specs = tone ? [tone] : await Promise.all(files.map((f) => this.services.file(this.sub(f))));
    for (let i = 0; loop === 0 || i < loop; i++) {
      for (const spec of specs) {
        const r = await ch.play(spec);
        if (r === 'hangup') return HANGUP;
      }
    }
    return NEXT;
  }

  private async say(text: string, voice: string | undefined, loop: number): Promise<Flow> {
    const ch = this.channel;
    if (!(await ch.answer())) return HANGUP;
    this.waited();
    const spec = await this.services.speak(this.sub(text), voice);
    for (let i = 0; i < Math.max(1, loop); i++) {
      if ((await ch.play(spec)) === 'hangup') return HANGUP;
    }
    return NEXT;
  }

  /** Says `text` if the call is still there, ignoring failures (a goodbye). */
  private async sayQuietly(text: string): Promise<void> {
    try {
      if (this.channel.up) await this.channel.play(await this.services.speak(text));
    } catch {
      /* a goodbye that cannot be spoken is not worth an error */
    }
  }

  /** A prompt as audio. */
  async prompt(p: Prompt): Promise<AudioSourceSpec> {
    if ('say' in p) return this.services.speak(this.sub(p.say), p.voice);
    if ('play' in p) return this.services.file(this.sub(p.play));
    return { kind: 'tone', hz: p.tone.freqs[0] };
  }

  /**
   * Plays prompts (cut off by the first key) and collects keys. Without `var`
   * the keys are dialled in this context, as Asterisk's Background +
   * WaitExten: an extension that matches runs, `i` takes an invalid entry,
   * `t` a silence; with neither the next verb runs.
   */
  private async gather(v: GatherVerb): Promise<Flow> {
    const ch = this.channel;
    if (!(await ch.answer())) return HANGUP;
    this.waited();
    const digits = await this.collect(v);
    if (ch.ended) return HANGUP;
    if (v.var !== undefined) {
      this.vars.set(v.var, digits);
      return NEXT;
    }
    const dp = this.services.dialplan;
    if (digits === '') return dp.find(this.context, 't') ? { jump: { context: this.context, exten: 't' } } : NEXT;
    if (dp.find(this.context, digits)) return { jump: { context: this.context, exten: digits } };
    this.vars.set('INVALID_EXTEN', digits);
    return dp.find(this.context, 'i') ? { jump: { context: this.context, exten: 'i' } } : NEXT;
  }

  /** The keys of one gather: prompts first (interruptible), then waiting per key. */
  async collect(v: Pick<GatherVerb, 'prompts' | 'num_digits' | 'timeout' | 'finish_on_key'> & { dialplan?: boolean }): Promise<string> {
    const ch = this.channel;
    let digits = '';
    for (const p of v.prompts) {
      const r = await ch.play(await this.prompt(p), { interrupt: true });
      if (r === 'hangup') return '';
      if (r === 'key') break;
    }
    const dp = this.services.dialplan;
    const toDialplan = v.dialplan ?? true;
    for (;;) {
      const key = await ch.nextKey(v.timeout * 1000);
      if (key === undefined) break;
      if (v.finish_on_key !== '' && v.finish_on_key.includes(key)) break;
      digits += key;
      if (v.num_digits !== undefined && digits.length >= v.num_digits) break;
      // Asterisk's WaitExten: a number that matches and cannot grow is complete at once.
      if (toDialplan && v.num_digits === undefined && dp.find(this.context, digits) && !dp.canMatchMore(this.context, digits)) break;
    }
    return digits;
  }
}
