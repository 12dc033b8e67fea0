/** `park` (700) and `parked_call` (701-720): Asterisk's Park() and ParkedCall(). */
import { joinUntilHangup } from '../../pbx/bridge.js';
import type { ParkingLot } from '../../pbx/park.js';
import { HANGUP, NEXT, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';

export function parkApp(lot: ParkingLot): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'park') return NEXT;
    const ch = script.channel;
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    const wanted = verb.slot === undefined ? undefined : Number(script.sub(verb.slot));
    // Whoever transferred this call here is the parker it rings back (REFER's Referred-By, else the caller's user).
    const parker = script.vars.get('PARKER') ?? ch.user;
    const parked = lot.park(ch, parker, wanted);
    if (!parked) {
      await ch.play(await script.services.speak('All parking spaces are taken.'));
      return HANGUP;
    }
    script.vars.set('PARKINGSLOT', String(parked.slot));
    ch.stopPlaying();
    await ch.play(await script.services.speak(`You are parked at ${spell(String(parked.slot))}.`));
    if (ch.ended) return HANGUP;
    ch.playForever(lot.moh);
    const how = await parked.released;
    if (how === 'retrieved') {
      await ch.whenEnded();
      return HANGUP;
    }
    return how === 'hangup' ? HANGUP : NEXT;
  };
}

export function parkedCallApp(lot: ParkingLot): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'parked_call') return NEXT;
    const ch = script.channel;
    const slot = Number(script.sub(verb.slot));
    const parked = lot.retrieve(slot);
    if (!parked || parked.ended) {
      if (!(await ch.answer())) return HANGUP;
      await ch.play(await script.services.speak(`There is no call parked at ${spell(String(slot))}.`));
      return HANGUP;
    }
    if (!(await ch.answer())) {
      // The retriever gave up at once: the call goes back to its slot's music.
      parked.hangup();
      return HANGUP;
    }
    script.waited();
    await joinUntilHangup(ch, parked);
    return HANGUP;
  };
}

/** Digits read one by one: "7 0 1", as a phone system says a slot. */
export function spell(digits: string): string {
  return digits.split('').join(' ');
}
