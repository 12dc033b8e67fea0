/**
 * Compiles the dialplan's raw steps (config RawStep: `answer`, `{ dial: {...} }`)
 * into the engine's verbs (voice/verbs.ts). Everything that can be wrong
 * before a call arrives is refused here, at start, with the file, the line
 * and a hint: unknown verbs (with a suggestion), bad arguments, jumps to
 * contexts or extensions that do not exist, missing WAV files, and queues,
 * rooms, calendars, trunks and mailboxes that are not configured. Arguments
 * holding `${...}` are only known when the call runs and are not checked
 * against the config.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../config/reader.js';
import type { RawStep } from '../../config/pbx-schema.js';
import type { Config } from '../../config/schema.js';
import type { FeatureName, Prompt, Step, Target, ToneSpec, Verb } from '../verbs.js';
import { checkReferences, hasVariables } from './substitute.js';

/** What compiling needs to know about the dialplan it is part of. */
export interface DialplanShape {
  hasContext(name: string): boolean;
  /** Whether `exten` runs something in `context` (its includes searched too). */
  hasExtension(context: string, exten: string): boolean;
}

export interface CompileScope {
  config: Config;
  dialplan: DialplanShape;
  /** The file errors name. */
  file: string;
}

type Args = Record<string, unknown>;

/** The verbs a dialplan may use, as written in YAML. */
export const VERB_NAMES = [
  'answer', 'hangup', 'reject', 'pause', 'play', 'say', 'gather', 'record', 'dial', 'goto', 'goto_if_time', 'set',
  'voicemail', 'voicemail_main', 'enqueue', 'conference', 'park', 'parked_call', 'directory', 'feature',
] as const;

const FEATURES: readonly FeatureName[] = [
  'queue_login', 'queue_logout', 'queue_pause', 'queue_unpause', 'forward_always', 'forward_busy', 'forward_noanswer',
  'forward_off', 'dnd_on', 'dnd_off',
];

/** Asterisk's and Twilio's names for our verbs, for "did you mean". */
const OTHER_NAMES: Record<string, string> = {
  playback: 'play', background: 'gather', waitexten: 'gather', read: 'gather', queue: 'enqueue', confbridge: 'conference',
  meetme: 'conference', wait: 'pause', voicemailmain: 'voicemail_main', gotoiftime: 'goto_if_time', parkedcall: 'parked_call',
  redirect: 'goto', number: 'dial', sip: 'dial', saytext: 'say', festival: 'say', playtones: 'play', busy: 'hangup',
  congestion: 'hangup', mixmonitor: 'record', monitor: 'record', setvar: 'set', vm: 'voicemail', callpark: 'park',
};

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest known name, when one is close enough to be what was meant. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  // 7000 for 6000 is a different room, not a typo.
  if (/^[\d*#+]+$/.test(word)) return undefined;
  const w = word.toLowerCase().replace(/[\s()]/g, '');
  if (OTHER_NAMES[w] && known.includes(OTHER_NAMES[w])) return OTHER_NAMES[w];
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(w, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return bestD <= Math.max(1, Math.floor(w.length / 3)) ? best : undefined;
}

/** Compiles one step list; `where` is the key path errors name (`dialplan.main-menu.s`, `queues.support.after`). */
export function compileSteps(raw: readonly RawStep[], scope: CompileScope, where: string): Step[] {
  return raw.map((step, i) => new StepCompiler(step, scope, `${where}.${i}`).compile());
}

const WAV_HINT = 'relative paths start from the directory switchboard runs in';

class StepCompiler {
  constructor(
    private readonly step: RawStep,
    private readonly scope: CompileScope,
    private readonly where: string,
  ) {}

  fail(detail: string, argKey?: string): never {
    const line = (argKey !== undefined ? this.step.argLines?.[argKey] : undefined) ?? this.step.line;
    throw new ConfigError(this.scope.file, line, `${this.where}.${this.step.name}${argKey ? `.${argKey}` : ''}`, detail);
  }

  compile(): Step {
    const verb = this.verb();
    return { ...verb, line: this.step.line } as Step;
  }

  private verb(): Verb {
    const { name } = this.step;
    switch (name) {
      case 'answer':
        this.noArgs();
        return { verb: 'answer' };
      case 'hangup':
        return this.hangup();
      case 'reject':
        return this.reject();
      case 'pause':
        return this.pause();
      case 'play':
        return this.play();
      case 'say':
        return this.say();
      case 'gather':
        return this.gather();
      case 'record':
        return this.record();
      case 'dial':
        return this.dial();
      case 'goto':
        return { verb: 'goto', target: this.target(this.shortOr('context', ['context', 'exten']), undefined) };
      case 'goto_if_time':
        return this.gotoIfTime();
      case 'set':
        return this.set();
      case 'voicemail':
        return this.voicemail();
      case 'voicemail_main':
        return this.voicemailMain();
      case 'enqueue':
        return { verb: 'enqueue', queue: this.configured(this.required(this.shortOr('queue', ['queue']), 'queue'), 'queue') };
      case 'conference':
        return this.conference();
      case 'park':
        return this.park();
      case 'parked_call':
        return this.parkedCall();
      case 'directory':
        return this.directory();
      case 'feature':
        return this.feature();
      default: {
        const guess = didYouMean(name, VERB_NAMES);
        this.fail(`unknown verb "${name}"${guess ? `; did you mean ${guess}?` : ''} The verbs are: ${VERB_NAMES.join(', ')}`);
      }
    }
  }

  // ---- argument helpers ----

  private get args(): unknown {
    return this.step.args;
  }

  private isBare(): boolean {
    return this.args === undefined || this.args === null;
  }

  private noArgs(): void {
    const a = this.args;
    if (!this.isBare() && !(typeof a === 'object' && !Array.isArray(a) && Object.keys(a as Args).length === 0)) {
      this.fail(`takes no arguments: write it as a bare word (- ${this.step.name})`);
    }
  }

  /** The argument mapping, refusing keys it does not know. */
  private map(keys: readonly string[], example: string): Args {
    const a = this.args;
    if (this.isBare()) return {};
    if (typeof a !== 'object' || Array.isArray(a)) this.fail(`expected a mapping, e.g. ${example}`);
    for (const k of Object.keys(a as Args)) {
      if (!keys.includes(k)) {
        const guess = didYouMean(k, keys);
        this.fail(`unknown key "${k}"${guess ? ` (did you mean ${guess}?)` : ''}; expected one of ${keys.join(', ')}`, k);
      }
    }
    return a as Args;
  }

  /**
   * The short form (`enqueue: support`) as the mapping it stands for
   * (`{ queue: support }`), or the mapping itself.
   */
  private shortOr(key: string, keys: readonly string[]): Args {
    const a = this.args;
    if (typeof a === 'string' || typeof a === 'number') return { [key]: a };
    return this.map(keys, `${this.step.name}: { ${key}: ... }`);
  }

  private text(obj: Args, key: string, required = false): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (required) this.fail(`needs ${key}`, key);
      return undefined;
    }
    if (typeof v !== 'string' && typeof v !== 'number') this.fail(`expected text, got ${describe(v)}`, key);
    const s = String(v);
    const bad = checkReferences(s);
    if (bad) this.fail(bad, key);
    return s;
  }

  private required(obj: Args, key: string): string {
    const s = this.text(obj, key, true) as string;
    if (s.trim() === '') this.fail(`${key} is empty`, key);
    return s;
  }

  private num(obj: Args, key: string, def: number, min: number, max: number, whole = true): number {
    const v = obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || (whole && !Number.isInteger(v))) this.fail(`expected ${whole ? 'a whole number' : 'a number'}, got ${describe(v)}`, key);
    if (v < min || v > max) this.fail(`must be between ${min} and ${max}, got ${v}`, key);
    return v;
  }

  private bool(obj: Args, key: string, def: boolean): boolean {
    const v = obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(`expected true or false, got ${describe(v)}`, key);
    return v;
  }

  private keys(obj: Args, key: string, def: string): string {
    const s = this.text(obj, key) ?? def;
    if (!/^[0-9*#]*$/.test(s)) this.fail(`expected keys of 0-9, * and #, got ${JSON.stringify(s)}`, key);
    return s;
  }

  private varName(obj: Args, key: string, def?: string): string | undefined {
    const s = this.text(obj, key) ?? def;
    if (s !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) this.fail(`expected a variable name (letters, digits, _), got ${JSON.stringify(s)}`, key);
    return s;
  }

  /** A configured queue / conference / calendar / trunk / mailbox, unless only known at run time. */
  private configured(name: string, kind: 'queue' | 'conference' | 'calendar' | 'trunk' | 'mailbox', key: string = kind): string {
    if (hasVariables(name)) return name;
    const pbx = this.scope.config.pbx;
    const table: Record<typeof kind, { has(n: string): boolean; names(): string[]; section: string }> = {
      queue: { has: (n) => pbx.queues.has(n), names: () => [...pbx.queues.keys()], section: 'queues' },
      conference: { has: (n) => pbx.conferences.has(n), names: () => [...pbx.conferences.keys()], section: 'conferences' },
      calendar: { has: (n) => pbx.calendars.has(n), names: () => [...pbx.calendars.keys()], section: 'calendars' },
      trunk: { has: (n) => pbx.trunks.has(n), names: () => [...pbx.trunks.keys()], section: 'trunks' },
      mailbox: {
        has: (n) => pbx.users.get(n)?.voicemail !== undefined,
        names: () => [...pbx.users].filter(([, u]) => u.voicemail).map(([n]) => n),
        section: 'users',
      },
    };
    const t = table[kind];
    if (!t.has(name)) {
      const known = t.names();
      const list = known.length ? `configured: ${known.join(', ')}` : 'none is configured';
      if (kind === 'mailbox') {
        const hint = this.scope.config.pbx.users.has(name)
          ? `user ${name} has no voicemail: add voicemail: { pin: "..." } to users.${name}`
          : `add a user ${name} with voicemail: { pin: "..." }`;
        this.fail(`no mailbox "${name}" (${list}); ${hint}`, key);
      }
      const guess = didYouMean(name, known);
      this.fail(`no ${kind} "${name}" in ${t.section}${guess ? ` (did you mean ${guess}?)` : ''} (${list})`, key);
    }
    return name;
  }

  private wav(file: string, key: string): string {
    if (hasVariables(file)) return file;
    const full = path.resolve(file);
    if (!existsSync(full)) this.fail(`no such file: ${full} (${WAV_HINT})`, key);
    if (!statSync(full).isFile()) this.fail(`${full} is a folder; expected a WAV file`, key);
    return full;
  }

  private tone(spec: unknown, key: string): ToneSpec {
    const s = typeof spec === 'number' ? String(spec) : spec;
    const m = typeof s === 'string' ? /^(\d{1,5}(?:\+\d{1,5})*)(?:\/(\d{1,6}))?$/.exec(s.replace(/\s/g, '')) : null;
    if (!m) this.fail(`expected a tone such as "350+440" (dial tone) or "1000/200" (1000 Hz for 200 ms), got ${describe(spec)}`, key);
    const freqs = m[1].split('+').map(Number);
    if (freqs.some((f) => f < 1 || f > 20_000)) this.fail('tone frequencies are 1 to 20000 Hz', key);
    return m[2] === undefined ? { freqs } : { freqs, ms: Number(m[2]) };
  }

  private strings(v: unknown, key: string): string[] {
    const list = Array.isArray(v) ? v : [v];
    return list.map((x, i) => {
      if (typeof x !== 'string' && typeof x !== 'number') this.fail(`expected text${Array.isArray(v) ? ` at item ${i + 1}` : ''}, got ${describe(x)}`, key);
      const s = String(x);
      const bad = checkReferences(s);
      if (bad) this.fail(bad, key);
      return s;
    });
  }

  /** `ctx`, `"ctx,exten"` or `{ context, exten }`: checked against the dialplan when literal. */
  private target(obj: Args, key: string | undefined): Target {
    const ctxText = this.text(obj, 'context');
    if (ctxText === undefined) this.fail('needs a context to go to, e.g. goto: main-menu or goto: "main-menu,s"', key);
    const parts = ctxText.split(',').map((p) => p.trim());
    if (parts.length > 2 || (parts.length === 2 && obj.exten !== undefined)) {
      this.fail(`expected "context" or "context,extension", got ${JSON.stringify(ctxText)}`, key);
    }
    const context = parts[0];
    const exten = parts[1] ?? this.text(obj, 'exten');
    if (!context) this.fail(`no context in ${JSON.stringify(ctxText)}`, key);
    const d = this.scope.dialplan;
    if (!hasVariables(context)) {
      if (!d.hasContext(context)) {
        const known = [...this.scope.config.pbx.dialplan.keys()];
        const guess = didYouMean(context, known);
        this.fail(`no context "${context}" in the dialplan${guess ? ` (did you mean ${guess}?)` : ''}; contexts: ${known.join(', ')}`, key);
      }
      const e = exten ?? 's';
      if (!hasVariables(e) && !d.hasExtension(context, e)) {
        this.fail(
          exten === undefined
            ? `context "${context}" has no s extension, where a jump without an extension starts: add s, or write "${context},EXTENSION"`
            : `context "${context}" has no extension matching "${e}"`,
          key,
        );
      }
    }
    return exten === undefined ? { context } : { context, exten };
  }

  // ---- the verbs ----

  private hangup(): Verb {
    if (this.isBare()) return { verb: 'hangup' };
    const obj = typeof this.args === 'number' ? { status: this.args } : this.map(['status'], 'hangup: 486');
    const status = this.num(obj, 'status', 0, 400, 699);
    return status ? { verb: 'hangup', status } : { verb: 'hangup' };
  }

  private reject(): Verb {
    const obj = this.isBare() ? {} : this.shortOr('reason', ['reason']);
    const reason = this.text(obj, 'reason') ?? 'rejected';
    if (reason !== 'busy' && reason !== 'rejected') this.fail(`expected busy or rejected, got ${JSON.stringify(reason)}`, 'reason');
    return { verb: 'reject', reason };
  }

  private pause(): Verb {
    const obj = this.isBare() ? {} : typeof this.args === 'number' ? { length: this.args } : this.map(['length'], 'pause: 2');
    return { verb: 'pause', length: this.num(obj, 'length', 1, 0, 3600, false) };
  }

  private play(): Verb {
    const a = this.args;
    if (this.isBare()) this.fail('needs a WAV file, e.g. play: sounds/welcome.wav, or a tone: play: { tone: "350+440" }');
    const obj: Args = typeof a === 'string' || Array.isArray(a) ? { files: a } : this.map(['file', 'files', 'loop', 'tone', 'digits'], 'play: { file: hello.wav, loop: 2 }');
    if (obj.file !== undefined && obj.files !== undefined) this.fail('give file or files, not both', 'files');
    const which = obj.file !== undefined ? 'file' : 'files';
    const files = obj[which] === undefined ? [] : this.strings(obj[which], which).map((f) => this.wav(f, which));
    const verb: Verb = { verb: 'play', files, loop: this.num(obj, 'loop', 1, 0, 1000) };
    if (obj.tone !== undefined) verb.tone = this.tone(obj.tone, 'tone');
    if (obj.digits !== undefined) verb.digits = this.keys(obj, 'digits', '');
    const kinds = [files.length > 0, verb.tone !== undefined, verb.digits !== undefined].filter(Boolean).length;
    if (kinds !== 1) this.fail('plays exactly one of: files (file), a tone, or digits', kinds ? 'tone' : undefined);
    return verb;
  }

  private say(): Verb {
    const obj = this.shortOr('text', ['text', 'voice', 'loop']);
    const verb: Verb = { verb: 'say', text: this.required(obj, 'text'), loop: this.num(obj, 'loop', 1, 0, 1000) };
    const voice = this.text(obj, 'voice');
    if (voice !== undefined) verb.voice = voice;
    return verb;
  }

  private prompt(item: unknown, key: string, voice: string | undefined): Prompt {
    if (typeof item !== 'object' || item === null || Array.isArray(item) || Object.keys(item).length !== 1) {
      this.fail(`each prompt is one of { say: "text" }, { play: file.wav } or { tone: "440/500" }, got ${describe(item)}`, key);
    }
    const [[kind, value]] = Object.entries(item as Args);
    if (kind === 'say') {
      const [text] = this.strings(value, key);
      return voice === undefined ? { say: text } : { say: text, voice };
    }
    if (kind === 'play') return { play: this.wav(this.strings(value, key)[0], key) };
    if (kind === 'tone') return { tone: this.tone(value, key) };
    return this.fail(`a prompt is say, play or tone, not "${kind}"`, key);
  }

  private gather(): Verb {
    const obj = this.map(['num_digits', 'timeout', 'finish_on_key', 'say', 'play', 'prompts', 'voice', 'var'], 'gather: { num_digits: 1, timeout: 5, say: "For sales, press 1." }');
    const given = ['say', 'play', 'prompts'].filter((k) => obj[k] !== undefined);
    if (given.length > 1) this.fail(`give one of say, play or prompts (a list, for several), not ${given.join(' and ')}`, given[1]);
    const voice = this.text(obj, 'voice');
    let prompts: Prompt[] = [];
    if (obj.say !== undefined) prompts = this.strings(obj.say, 'say').map((say) => (voice === undefined ? { say } : { say, voice }));
    else if (obj.play !== undefined) prompts = this.strings(obj.play, 'play').map((f) => ({ play: this.wav(f, 'play') }));
    else if (obj.prompts !== undefined) {
      if (!Array.isArray(obj.prompts)) this.fail('expected a list, e.g. prompts: [ { say: "Hello" }, { play: menu.wav } ]', 'prompts');
      prompts = obj.prompts.map((p) => this.prompt(p, 'prompts', voice));
    }
    const finish = this.keys(obj, 'finish_on_key', '#');
    if (finish.length > 1) this.fail('expected one key (or "" for none)', 'finish_on_key');
    const verb: Verb = { verb: 'gather', timeout: this.num(obj, 'timeout', 5, 1, 600), finish_on_key: finish, prompts };
    if (obj.num_digits !== undefined) verb.num_digits = this.num(obj, 'num_digits', 1, 1, 64);
    const v = this.varName(obj, 'var');
    if (v !== undefined) verb.var = v;
    return verb;
  }

  private record(): Verb {
    const obj = this.map(['max_length', 'timeout', 'finish_on_key', 'play_beep', 'var'], 'record: { max_length: 60, var: MESSAGE }');
    return {
      verb: 'record',
      max_length: this.num(obj, 'max_length', 3600, 1, 14_400),
      timeout: this.num(obj, 'timeout', 5, 0, 3600),
      finish_on_key: this.keys(obj, 'finish_on_key', '1234567890*#'),
      play_beep: this.bool(obj, 'play_beep', true),
      var: this.varName(obj, 'var', 'RECORDING') as string,
    };
  }

  private dial(): Verb {
    const a = this.args;
    const obj: Args =
      typeof a === 'string' || typeof a === 'number' || Array.isArray(a)
        ? { to: a }
        : this.map(['to', 'timeout', 'caller_id', 'strategy', 'trunk', 'time_limit', 'ringback'], 'dial: { to: "${EXTEN}", timeout: 20 }');
    if (obj.to === undefined || obj.to === null) this.fail('needs to: the extension, user, number or sip: URI to ring, e.g. dial: { to: "1001" }');
    const targets = this.strings(obj.to, 'to').map((to) => {
      if (to.trim() === '') this.fail('a target is empty', 'to');
      return { to };
    });
    if (targets.length === 0) this.fail('needs at least one target', 'to');
    const strategy = this.text(obj, 'strategy') ?? 'simultaneous';
    if (strategy !== 'simultaneous' && strategy !== 'sequential') this.fail(`expected simultaneous or sequential, got ${JSON.stringify(strategy)}`, 'strategy');
    const verb: Verb = {
      verb: 'dial',
      targets,
      strategy,
      timeout: this.num(obj, 'timeout', 30, 1, 600),
      time_limit: this.num(obj, 'time_limit', 14_400, 0, 86_400),
    };
    const callerId = this.text(obj, 'caller_id');
    if (callerId !== undefined) verb.caller_id = callerId;
    const trunk = this.text(obj, 'trunk');
    if (trunk !== undefined) verb.trunk = this.configured(trunk, 'trunk');
    const ringback = this.text(obj, 'ringback');
    if (ringback !== undefined) {
      if (ringback !== 'ring' && ringback !== 'moh') this.fail(`expected ring or moh, got ${JSON.stringify(ringback)}`, 'ringback');
      verb.ringback = ringback;
    }
    return verb;
  }

  private gotoIfTime(): Verb {
    const obj = this.map(['calendar', 'then', 'else'], 'goto_if_time: { calendar: office, then: open-menu, else: closed }');
    const calendar = this.configured(this.required(obj, 'calendar'), 'calendar');
    if (obj.then === undefined && obj.else === undefined) this.fail('needs then (where to go when open) or else (when closed), or both');
    const verb: Verb = { verb: 'goto_if_time', calendar };
    for (const side of ['then', 'else'] as const) {
      const v = obj[side];
      if (v === undefined || v === null) continue;
      const t = typeof v === 'string' ? { context: v } : typeof v === 'object' && !Array.isArray(v) ? (v as Args) : undefined;
      if (!t) this.fail(`expected a context, "context,extension" or { context, exten }, got ${describe(v)}`, side);
      verb[side] = this.target(t, side);
    }
    return verb;
  }

  private set(): Verb {
    const a = this.args;
    if (typeof a !== 'object' || a === null || Array.isArray(a) || Object.keys(a).length === 0) {
      this.fail('expected variables and their values, e.g. set: { LANGUAGE: en, TRIES: "1" }');
    }
    const vars: Record<string, string> = {};
    for (const [k, v] of Object.entries(a as Args)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) this.fail(`"${k}" is not a variable name (letters, digits, _)`, k);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') this.fail(`expected a value, got ${describe(v)}`, k);
      const s = String(v);
      const bad = checkReferences(s);
      if (bad) this.fail(bad, k);
      vars[k] = s;
    }
    return { verb: 'set', vars };
  }

  private voicemail(): Verb {
    const obj = this.shortOr('mailbox', ['mailbox', 'greeting']);
    const mailbox = this.configured(this.required(obj, 'mailbox'), 'mailbox');
    const greeting = this.text(obj, 'greeting') ?? 'unavailable';
    if (greeting !== 'unavailable' && greeting !== 'busy') this.fail(`expected unavailable or busy, got ${JSON.stringify(greeting)}`, 'greeting');
    return { verb: 'voicemail', mailbox, greeting };
  }

  private voicemailMain(): Verb {
    if (this.isBare()) return { verb: 'voicemail_main' };
    const obj = this.shortOr('mailbox', ['mailbox']);
    const mailbox = this.text(obj, 'mailbox');
    return mailbox === undefined ? { verb: 'voicemail_main' } : { verb: 'voicemail_main', mailbox: this.configured(mailbox, 'mailbox') };
  }

  private conference(): Verb {
    const obj = this.shortOr('room', ['room', 'muted', 'leader']);
    const room = this.configured(this.required(obj, 'room'), 'conference', 'room');
    return { verb: 'conference', room, muted: this.bool(obj, 'muted', false), leader: this.bool(obj, 'leader', false) };
  }

  private slot(s: string, key: string): string {
    if (hasVariables(s)) return s;
    const { first, last } = this.scope.config.pbx.park;
    if (!/^\d+$/.test(s) || Number(s) < first || Number(s) > last) this.fail(`"${s}" is not a park slot (park.slots: ${first}-${last})`, key);
    return s;
  }

  private park(): Verb {
    if (this.isBare()) return { verb: 'park' };
    const slot = this.text(this.shortOr('slot', ['slot']), 'slot');
    return slot === undefined ? { verb: 'park' } : { verb: 'park', slot: this.slot(slot, 'slot') };
  }

  private parkedCall(): Verb {
    const slot = this.isBare() ? '${EXTEN}' : (this.text(this.shortOr('slot', ['slot']), 'slot') ?? '${EXTEN}');
    return { verb: 'parked_call', slot: this.slot(slot, 'slot') };
  }

  private directory(): Verb {
    if (this.isBare()) return { verb: 'directory' };
    const context = this.text(this.shortOr('context', ['context']), 'context');
    if (context === undefined) return { verb: 'directory' };
    if (!hasVariables(context) && !this.scope.dialplan.hasContext(context)) {
      this.fail(`no context "${context}" in the dialplan, where the chosen extension would be dialled`, 'context');
    }
    return { verb: 'directory', context };
  }

  private feature(): Verb {
    const obj = this.shortOr('name', ['name', 'arg']);
    const name = this.required(obj, 'name');
    if (!(FEATURES as readonly string[]).includes(name)) {
      const guess = didYouMean(name, FEATURES);
      this.fail(`unknown feature "${name}"${guess ? ` (did you mean ${guess}?)` : ''}; features: ${FEATURES.join(', ')}`, 'name');
    }
    const arg = this.text(obj, 'arg');
    if ((name === 'queue_login' || name === 'queue_logout' || name === 'queue_pause' || name === 'queue_unpause') && arg !== undefined) {
      this.configured(arg, 'queue', 'arg');
    }
    return arg === undefined ? { verb: 'feature', name: name as FeatureName } : { verb: 'feature', name: name as FeatureName, arg };
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
