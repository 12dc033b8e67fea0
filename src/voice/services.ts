/**
 * The PBX's side of the verb engine: how `dial`, `voicemail`, `enqueue`,
 * `conference`, `park` and the other PBX verbs reach the services of `pbx/`.
 * Each application verb lives in its own file under voice/apps/; this class
 * routes to them and holds what they share (users, prompts, the dialplan).
 */
import type { Config } from '../config/schema.js';
import type { UserPbxConfig } from '../config/pbx-schema.js';
import type { AudioSourceSpec } from '../media/players/index.js';
import { readWavFile } from '../media/wav.js';
import type { Party } from '../pbx/channel.js';
import type { Pbx } from '../pbx/pbx.js';
import type { Logger } from '../util/log.js';
import { bridgeUntilHangup, ringParties, type DialAttempt, type DialParty } from './dial.js';
import { HANGUP, NEXT, type CallScript, type DialplanView, type Flow, type VoiceServices } from './engine.js';
import type { DialVerb, Verb } from './verbs.js';
import { watchFeatures, type FeatureHost } from './features.js';

/** A verb implemented outside this file (voicemail, queues, conferences ...). */
export type AppHandler = (script: CallScript, verb: Verb) => Promise<Flow>;

/** Numbers that leave through a trunk: the attempts in failover order, or why not. */
export interface OutboundRouter {
  /** `trunk`: the dial verb named one (the number goes there as dialled, not by the routes). */
  attempts(number: string, script: CallScript, from: Party, trunk?: string): DialParty;
}

/** Counts and caps a new outgoing leg may hit (toll fraud): undefined when allowed, else the refusal. */
export interface CallGuard {
  admitDial(script: CallScript, target: string, outbound: boolean): string | undefined;
}

export interface PbxVoiceOptions {
  config: Config;
  pbx: Pbx;
  dialplan: DialplanView;
  log: Logger;
  speak(text: string, voice?: string): Promise<AudioSourceSpec>;
  isCalendarOpen?(name: string): boolean;
}

const MAX_FORWARD_HOPS = 3;

export class PbxVoice implements VoiceServices {
  readonly dialplan: DialplanView;
  readonly log: Logger;
  readonly pbx: Pbx;
  readonly config: Config;
  private readonly apps = new Map<string, AppHandler>();
  private readonly files = new Map<string, Promise<AudioSourceSpec>>();
  router: OutboundRouter | undefined;
  guard: CallGuard | undefined;
  /** In-call feature codes (## and *2 transfers) for bridges made by `dial`. */
  features: FeatureHost | undefined;

  constructor(private readonly opts: PbxVoiceOptions) {
    this.dialplan = opts.dialplan;
    this.log = opts.log;
    this.pbx = opts.pbx;
    this.config = opts.config;
  }

  isCalendarOpen(name: string): boolean {
    return this.opts.isCalendarOpen?.(name) ?? true;
  }

  /** Installs the handler of an application verb. */
  register(verb: Verb['verb'], handler: AppHandler): void {
    this.apps.set(verb, handler);
  }

  speak(text: string, voice?: string): Promise<AudioSourceSpec> {
    return this.opts.speak(text, voice);
  }

  file(path: string): Promise<AudioSourceSpec> {
    let p = this.files.get(path);
    if (!p) {
      p = readWavFile(path).then((audio) => ({ kind: 'wav', path, audio }) as AudioSourceSpec);
      this.files.set(path, p);
      p.catch(() => this.files.delete(path));
    }
    return p;
  }

  async run(script: CallScript, verb: Verb): Promise<Flow> {
    if (verb.verb === 'dial') return this.dial(script, verb);
    const app = this.apps.get(verb.verb);
    if (!app) {
      this.log.error({ verb: verb.verb }, 'verb not available in this build; the call is hung up');
      return HANGUP;
    }
    return app(script, verb);
  }

  user(name: string): UserPbxConfig | undefined {
    return this.config.pbx.users.get(name);
  }

  displayName(user: string): string | undefined {
    return this.config.users.get(user)?.displayName ?? this.user(user)?.name;
  }

  isUser(name: string): boolean {
    return this.config.users.has(name);
  }

  /** The caller ID a leg placed for `script` shows. */
  callerOf(script: CallScript, override?: string): Party {
    const ch = script.channel;
    if (override) return { number: script.sub(override), name: undefined };
    return ch.caller;
  }

  /** How to ring `to`: a user (DND, forward always), a SIP URI, or a number through the routes. */
  party(script: CallScript, to: string, from: Party, depth = 0, trunk?: string): DialParty {
    const domain = this.pbx.domain;
    if (trunk !== undefined && this.router && !/^sips?:/i.test(to)) return this.router.attempts(to, script, from, trunk);
    if (/^sips?:/i.test(to)) {
      return { attempts: [{ label: to, place: () => this.pbx.dial(to, { from, endpoint: to }) }] };
    }
    if (this.isUser(to)) {
      const u = this.user(to);
      if (u?.dnd) return { refused: 'BUSY', why: `${to} is on do-not-disturb` };
      if (u?.forward.always && depth < MAX_FORWARD_HOPS) return this.party(script, u.forward.always, from, depth + 1);
      const refusal = this.guard?.admitDial(script, to, false);
      if (refusal) return { refused: 'CONGESTION', why: refusal };
      return { attempts: [{ label: to, place: () => this.pbx.dial(`sip:${to}@${domain}`, { from, endpoint: to, user: to }) }] };
    }
    if (this.router) return this.router.attempts(to, script, from);
    return { refused: 'CHANUNAVAIL', why: `${to} is neither a user nor reachable through a trunk` };
  }

  private async dial(script: CallScript, v: DialVerb): Promise<Flow> {
    const ch = script.channel;
    const from = this.callerOf(script, v.caller_id);
    const targets = v.targets.map((t) => script.sub(t.to)).filter((t) => t !== '');
    script.waited();
    const timeoutMs = v.timeout * 1000;
    let outcome;
    if (v.strategy === 'sequential') {
      outcome = { status: 'CHANUNAVAIL' as const } as Awaited<ReturnType<typeof ringParties>>;
      for (const t of targets) {
        outcome = await ringParties(script, [this.party(script, t, from, 0, v.trunk)], timeoutMs);
        if (outcome.status === 'ANSWER' || outcome.status === 'CANCEL') break;
      }
    } else {
      const parties = targets.map((t) => this.party(script, t, from, 0, v.trunk));
      // Follow-me: a user's outside number rings beside the phones once they had half the time to answer.
      for (const t of targets) {
        const follow = this.isUser(t) ? this.user(t)?.followMe : undefined;
        if (!follow) continue;
        const p = this.party(script, follow, from, 1);
        if ('attempts' in p) parties.push({ attempts: p.attempts.map((a, i) => (i === 0 ? { ...a, delayMs: timeoutMs / 2 } : a)) });
      }
      outcome = await ringParties(script, parties, timeoutMs);
      // Forward on busy / no answer, as the single called user asked.
      const single = targets.length === 1 && this.isUser(targets[0]) ? this.user(targets[0]) : undefined;
      const fwd = outcome.status === 'BUSY' ? single?.forward.busy : outcome.status === 'NOANSWER' ? single?.forward.noAnswer : undefined;
      if (fwd && !ch.ended) outcome = await ringParties(script, [this.party(script, fwd, from, 1)], timeoutMs);
    }
    script.vars.set('DIALSTATUS', outcome.status);
    ch.dialStatus = outcome.status;
    if (outcome.status !== 'ANSWER' || !outcome.answered) return ch.ended ? HANGUP : NEXT;
    const stop = this.features ? watchFeatures(this.features, ch, outcome.answered) : undefined;
    await bridgeUntilHangup(ch, outcome.answered, v.time_limit * 1000);
    stop?.();
    return HANGUP;
  }
}

export type { DialAttempt };
