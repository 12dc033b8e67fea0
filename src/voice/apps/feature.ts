/**
 * Feature codes dialled by users: queue log in / out / pause, call forwarding
 * and do-not-disturb (Asterisk's *45 / *72 / *78 family). Each answers,
 * says what changed, and hangs up.
 */
import type { UserPbxConfig } from '../../config/pbx-schema.js';
import type { CallQueue } from '../../pbx/queue.js';
import { HANGUP, NEXT, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';

export interface FeatureDeps {
  queues: ReadonlyMap<string, CallQueue>;
  user(name: string): UserPbxConfig | undefined;
  /**
   * Whether `user` may forward calls to `number`: a forward dials out on the
   * user's behalf, so it must stay within the user's class of service (no
   * international forward for a user who cannot dial international).
   */
  mayForwardTo?(user: string, number: string): boolean;
}

export function featureApp(deps: FeatureDeps): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'feature') return NEXT;
    const ch = script.channel;
    const who = ch.user;
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    const arg = verb.arg === undefined ? '' : script.sub(verb.arg);
    const u = who ? deps.user(who) : undefined;
    let said: string;
    if (!who || !u) said = 'This feature is for registered extensions only.';
    else {
      const queues = arg ? [deps.queues.get(arg)].filter((q): q is CallQueue => q !== undefined) : [...deps.queues.values()];
      switch (verb.name) {
        case 'queue_login':
          said = queues.map((q) => q.login(who)).some(Boolean) ? 'Agent logged in.' : 'You were already logged in.';
          break;
        case 'queue_logout':
          said = queues.map((q) => q.logout(who)).some(Boolean) ? 'Agent logged out.' : 'You were not logged in.';
          break;
        case 'queue_pause':
          queues.forEach((q) => q.pause(who, true));
          said = 'Agent paused.';
          break;
        case 'queue_unpause':
          queues.forEach((q) => q.pause(who, false));
          said = 'Agent unpaused.';
          break;
        case 'forward_always':
        case 'forward_busy':
        case 'forward_noanswer': {
          const number = arg || (await script.collect({ prompts: [{ say: 'Enter the number to forward to, then press pound.' }], timeout: 6, finish_on_key: '#', dialplan: false }));
          if (!number) {
            said = 'No number entered. Forwarding unchanged.';
            break;
          }
          if (deps.mayForwardTo && !deps.mayForwardTo(who, number)) {
            said = 'You may not forward calls to that number. Forwarding unchanged.';
            break;
          }
          const key = verb.name === 'forward_always' ? 'always' : verb.name === 'forward_busy' ? 'busy' : 'noAnswer';
          u.forward[key] = number;
          said = `Calls are now forwarded to ${number.split('').join(' ')}.`;
          break;
        }
        case 'forward_off':
          u.forward.always = u.forward.busy = u.forward.noAnswer = undefined;
          said = 'Call forwarding is off.';
          break;
        case 'dnd_on':
          u.dnd = true;
          said = 'Do not disturb is on.';
          break;
        case 'dnd_off':
          u.dnd = false;
          said = 'Do not disturb is off.';
          break;
      }
      script.services.log.info({ user: who, feature: verb.name, arg: arg || undefined }, `feature code: ${verb.name}`);
    }
    await ch.play(await script.services.speak(said));
    return HANGUP;
  };
}
