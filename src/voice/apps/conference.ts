/** `conference`: PIN, then into the room until the caller hangs up or is kicked. */
import type { ConferenceConfig } from '../../config/pbx-schema.js';
import type { ConferenceRoom } from '../../pbx/conference.js';
import { HANGUP, NEXT, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';

export interface ConferenceDeps {
  room(name: string): ConferenceRoom | undefined;
  config(name: string): ConferenceConfig | undefined;
}

const PIN_TRIES = 3;

export function conferenceApp(deps: ConferenceDeps): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'conference') return NEXT;
    const ch = script.channel;
    const name = script.sub(verb.room);
    const cfg = deps.config(name);
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    if (!cfg) {
      script.services.log.warn({ room: name }, 'conference: no such room');
      await ch.play(await script.services.speak('That conference does not exist.'));
      return HANGUP;
    }
    let leader = verb.leader;
    if (cfg.pin !== undefined || cfg.leaderPin !== undefined) {
      let ok = false;
      for (let i = 0; i < PIN_TRIES && !ok && !ch.ended; i++) {
        const pin = await script.collect({
          prompts: [{ say: i === 0 ? 'Please enter the conference PIN, then press pound.' : 'That PIN is not right. Please try again.' }],
          timeout: 6,
          finish_on_key: '#',
          dialplan: false,
        });
        if (cfg.leaderPin !== undefined && pin === cfg.leaderPin) {
          leader = true;
          ok = true;
        } else if (cfg.pin === undefined || pin === cfg.pin) ok = pin !== '' || cfg.pin === undefined;
      }
      if (!ok) {
        if (!ch.ended) await ch.play(await script.services.speak('Goodbye.'));
        return HANGUP;
      }
    }
    const room = deps.room(name);
    if (!room) return HANGUP;
    if (room.size >= cfg.maxMembers) {
      await ch.play(await script.services.speak('The conference is full.'));
      return HANGUP;
    }
    await room.join(ch, { muted: verb.muted, leader });
    return HANGUP;
  };
}
