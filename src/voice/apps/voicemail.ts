/**
 * `voicemail`: Asterisk's VoiceMail(). The mailbox's greeting (recorded, or
 * spoken by TTS), a beep, then the caller's message until `#`, silence, the
 * length limit or a hang-up; a message of a second or more is kept, and the
 * mailbox's owner is told (MWI, e-mail) by whoever listens to the store.
 */
import { BEEP } from '../../media/players/index.js';
import { discardRecording, recordChannel } from '../../pbx/record.js';
import type { VoicemailStore } from '../../store/voicemail.js';
import type { VoicemailBoxConfig } from '../../config/pbx-schema.js';
import { HANGUP, NEXT, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';
import { spell } from './park.js';

export interface VoicemailDeps {
  store: VoicemailStore;
  box(mailbox: string): VoicemailBoxConfig | undefined;
  /** A message was saved (MWI and e-mail follow). */
  saved(mailbox: string, id: number): void;
  clockNow(): number;
}

/** Asterisk's minsecs: shorter recordings are a hang-up at the beep, not a message. */
const MIN_MESSAGE_SECONDS = 1;
/** Asterisk's maxsilence default. */
const MAX_SILENCE_SECONDS = 10;

export function voicemailApp(deps: VoicemailDeps): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'voicemail') return NEXT;
    const ch = script.channel;
    const mailbox = script.sub(verb.mailbox);
    const box = deps.box(mailbox);
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    if (!box) {
      script.services.log.warn({ mailbox }, 'voicemail: no such mailbox');
      await ch.play(await script.services.speak('That mailbox is not available.'));
      return HANGUP;
    }
    const recorded = deps.store.greetingPath(mailbox, verb.greeting);
    const greeting = recorded
      ? await script.services.file(recorded)
      : await script.services.speak(
          verb.greeting === 'busy'
            ? `The person at extension ${spell(mailbox)} is on the phone. Please leave a message after the tone. When done, hang up or press the pound key.`
            : `The person at extension ${spell(mailbox)} is not available. Please leave a message after the tone. When done, hang up or press the pound key.`,
        );
    // `#` skips the greeting, as in Asterisk.
    const g = await ch.play(greeting, { interrupt: true });
    if (g === 'hangup') return HANGUP;
    ch.clearKeys();
    if ((await ch.play(BEEP)) === 'hangup') return HANGUP;
    const received = deps.clockNow();
    const rec = await recordChannel(ch, {
      path: deps.store.recordingPath(mailbox),
      maxSeconds: box.maxMessageSeconds,
      silenceSeconds: MAX_SILENCE_SECONDS,
      finishKeys: '#',
    });
    if (!rec) return HANGUP;
    if (rec.seconds < MIN_MESSAGE_SECONDS) {
      discardRecording(rec);
      return HANGUP;
    }
    const msg = await deps.store.add({
      mailbox,
      file: rec.path,
      callerNumber: ch.caller.number,
      callerName: ch.caller.name,
      received,
      durationSeconds: Math.round(rec.seconds),
    });
    script.services.log.info({ mailbox, id: msg.id, seconds: msg.durationSeconds, caller: ch.caller.number }, `voicemail for ${mailbox} saved`);
    deps.saved(mailbox, msg.id);
    if (!ch.ended) {
      await ch.play(await script.services.speak('Your message has been saved. Goodbye.'));
    }
    return HANGUP;
  };
}
