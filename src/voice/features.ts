/**
 * In-call feature codes, as Asterisk's features.conf: in a bridged call,
 * `##` then a number transfers the other party there at once (blind), and
 * `*2` then a number puts the other party on hold, calls the number, and
 * hands the other party over when the transferor hangs up (attended); if
 * the number does not answer, or hangs up first, the transferor gets the
 * other party back.
 */
import type { AudioSourceSpec } from '../media/players/index.js';
import { joinUntilHangup } from '../pbx/bridge.js';
import type { Channel } from '../pbx/channel.js';
import type { Clock } from '../util/clock.js';
import { detach, type Logger } from '../util/log.js';

export interface FeatureHost {
  readonly clock: Clock;
  readonly log: Logger;
  codes: { blindTransfer: string; attendedTransfer: string };
  speak(text: string): Promise<AudioSourceSpec>;
  moh(): AudioSourceSpec;
  /** Runs `exten` for `ch` in `by`'s context (a blind transfer). */
  blindTransfer(by: Channel, ch: Channel, exten: string): void;
  /** Places a leg from `by` to `exten` as dialling it would (users, routes); undefined when it cannot be rung. */
  consult(by: Channel, exten: string): Channel | undefined;
}

/** Keys further apart than this start a new code. */
const CODE_GAP_MS = 2000;
/** Seconds to wait for each digit of the target number. */
const DIGIT_TIMEOUT_S = 4;

/** Watches both legs of a bridge for feature codes; returns the function that stops watching. */
export function watchFeatures(host: FeatureHost, a: Channel, b: Channel): () => void {
  const stopA = watch(host, a, b);
  const stopB = watch(host, b, a);
  return () => {
    stopA();
    stopB();
  };
}

function watch(host: FeatureHost, me: Channel, other: Channel): () => void {
  let typed = '';
  let last = 0;
  const { blindTransfer, attendedTransfer } = host.codes;
  const filter = (digit: string): boolean => {
    const now = host.clock.now();
    if (now - last > CODE_GAP_MS) typed = '';
    last = now;
    typed = (typed + digit).slice(-8);
    const blind = blindTransfer !== '' && typed.endsWith(blindTransfer);
    const attended = attendedTransfer !== '' && typed.endsWith(attendedTransfer);
    if (!blind && !attended) return false;
    typed = '';
    me.keyFilter = undefined;
    // Keys pressed while talking (the code's first keys among them) are not the number.
    me.clearKeys();
    detach(blind ? blindByKeys(host, me, other) : attendedByKeys(host, me, other), host.log, 'a transfer by feature code');
    return true;
  };
  me.keyFilter = filter;
  return () => {
    if (me.keyFilter === filter) me.keyFilter = undefined;
  };
}

/** Asks `me` for the number: "Transfer", then digits until # or a pause. */
async function askNumber(host: FeatureHost, me: Channel): Promise<string> {
  // Keys typed right after the code (##2003#) are the number: they are kept, and cut the prompt short.
  await me.play(await host.speak('Transfer.'), { interrupt: true });
  let number = '';
  for (;;) {
    const key = await me.nextKey(DIGIT_TIMEOUT_S * 1000);
    if (key === undefined || key === '#') break;
    number += key;
  }
  return number;
}

/** Splits the bridge: `other` hears music while `me` is asked. */
function hold(host: FeatureHost, me: Channel, other: Channel): void {
  me.bridge?.close();
  other.playForever(host.moh());
}

async function blindByKeys(host: FeatureHost, me: Channel, other: Channel): Promise<void> {
  hold(host, me, other);
  const number = await askNumber(host, me);
  if (other.ended) return;
  if (number === '' || me.ended) {
    if (!me.ended) rejoin(host, me, other);
    else other.hangup();
    return;
  }
  host.log.info({ by: me.name, channel: other.name, exten: number }, 'blind transfer by feature code');
  host.blindTransfer(me, other, number);
  me.hangup();
}

async function attendedByKeys(host: FeatureHost, me: Channel, other: Channel): Promise<void> {
  hold(host, me, other);
  const number = await askNumber(host, me);
  if (other.ended) return;
  const target = number === '' || me.ended ? undefined : host.consult(me, number);
  if (!target) {
    if (me.ended) other.hangup();
    else rejoin(host, me, other);
    return;
  }
  const answered = await new Promise<boolean>((resolve) => {
    target.once('answered', () => resolve(true));
    target.once('ended', () => resolve(false));
    me.once('ended', () => resolve(false));
  });
  if (!answered || me.ended) {
    if (me.ended && answered) {
      // Hung up while it was ringing... and it answered: hand the other party over.
      complete(host, other, target);
      return;
    }
    target.hangup();
    if (me.ended) {
      // Asterisk's "blonde" transfer: the transferor left while it rang; the other party takes the call.
      other.hangup();
      return;
    }
    rejoin(host, me, other);
    return;
  }
  // Consultation: me talks to target; when me hangs up, other and target are joined.
  other.takeover();
  target.takeover();
  const consult = joinUntilHangup(me, target);
  detach(
    consult.then(() => {
      if (other.ended) {
        if (!target.ended) target.hangup();
        return;
      }
      if (target.ended) {
        if (!me.ended) rejoin(host, me, other);
        else other.hangup();
        return;
      }
      complete(host, other, target);
    }),
    host.log,
    'an attended transfer',
  );
  // The consultation's own hang-up logic must not end the target when me leaves: target is taken over again.
  me.once('ended', () => target.takeover());
}

function complete(host: FeatureHost, other: Channel, target: Channel): void {
  host.log.info({ channel: other.name, to: target.name }, 'attended transfer completed');
  other.takeover();
  target.takeover();
  detach(joinUntilHangup(other, target), host.log, 'a transferred call');
}

function rejoin(host: FeatureHost, me: Channel, other: Channel): void {
  other.stopPlaying();
  detach(
    joinUntilHangup(me, other).then(() => undefined),
    host.log,
    'a call after a cancelled transfer',
  );
  watchFeatures(host, me, other);
}
