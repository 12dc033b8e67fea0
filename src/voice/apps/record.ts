/**
 * `record` (Twilio's <Record>, Asterisk's Record()): an optional beep, then
 * what the caller says until the finish key, a silence, the length limit or
 * a hang-up; the file's path goes into the verb's variable (RECORDING by
 * default) and its length into RECORDING_DURATION.
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { BEEP } from '../../media/players/index.js';
import { recordChannel } from '../../pbx/record.js';
import { HANGUP, NEXT, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';

export function recordApp(dir: string): AppHandler {
  let n = 0;
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'record') return NEXT;
    const ch = script.channel;
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    if (verb.play_beep && (await ch.play(BEEP)) === 'hangup') return HANGUP;
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${ch.id}-${++n}.wav`);
    const rec = await recordChannel(ch, { path: file, maxSeconds: verb.max_length, silenceSeconds: verb.timeout, finishKeys: verb.finish_on_key });
    script.vars.set(verb.var, rec?.path ?? '');
    script.vars.set('RECORDING_DURATION', rec ? String(Math.round(rec.seconds)) : '0');
    return ch.ended ? HANGUP : NEXT;
  };
}
