/**
 * `voicemail_main` (*98): Asterisk's VoiceMailMain(). The PIN, the count of
 * new and old messages, then each new message plays at once (old ones when
 * there are no new), with the keys Asterisk users know after each: 5 repeat,
 * 6 next, 7 delete, 9 save, 0 mailbox options (1 record the unavailable
 * greeting, 2 the busy greeting, 5 change the PIN), # exit.
 */
import type { VoicemailBoxConfig } from '../../config/pbx-schema.js';
import { BEEP } from '../../media/players/index.js';
import { discardRecording, recordChannel } from '../../pbx/record.js';
import type { VoicemailMessage, VoicemailStore } from '../../store/voicemail.js';
import { HANGUP, NEXT, type CallScript, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';

export interface VoicemailMainDeps {
  store: VoicemailStore;
  box(mailbox: string): VoicemailBoxConfig | undefined;
}

const LOGIN_TRIES = 3;
const MENU = 'Press 5 to repeat, 6 for the next message, 7 to delete, 9 to save, 0 for mailbox options, or pound to exit.';

export function voicemailMainApp(deps: VoicemailMainDeps): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'voicemail_main') return NEXT;
    const ch = script.channel;
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    const say = async (text: string, interrupt = false): Promise<boolean> => (await ch.play(await script.services.speak(text), { interrupt })) !== 'hangup';

    let mailbox = verb.mailbox !== undefined ? script.sub(verb.mailbox) : ch.user;
    if (!mailbox || !deps.box(mailbox)) {
      mailbox = await script.collect({ prompts: [{ say: 'Please enter your mailbox number, then press pound.' }], timeout: 6, finish_on_key: '#', dialplan: false });
    }
    const box = mailbox ? deps.box(mailbox) : undefined;
    let ok = false;
    for (let i = 0; i < LOGIN_TRIES && !ch.ended && !ok; i++) {
      const pin = await script.collect({ prompts: [{ say: i === 0 ? 'Please enter your PIN, then press pound.' : 'Login incorrect. Please enter your PIN, then press pound.' }], timeout: 6, finish_on_key: '#', dialplan: false });
      ok = !!box && !!mailbox && pin !== '' && pin === deps.store.pin(mailbox, box.pin);
    }
    if (!ok || !mailbox || !box) {
      if (!ch.ended) await say('Goodbye.');
      return HANGUP;
    }
    const counts = deps.store.counts(mailbox);
    if (!(await say(`You have ${counts.new} new and ${counts.old} old message${counts.new + counts.old === 1 ? '' : 's'}.`))) return HANGUP;
    const folder = counts.new > 0 ? 'new' : 'old';
    const messages = deps.store.list(mailbox, folder);
    const exit = await browse(script, deps, mailbox, box, messages);
    if (exit === 'hangup' || ch.ended) return HANGUP;
    if (messages.length > 0) await say('No more messages.');
    await menuLoop(script, deps, mailbox, box);
    if (!ch.ended) await say('Goodbye.');
    return HANGUP;
  };
}

/** Plays each message with its menu; 'exit' when the caller pressed #. */
async function browse(script: CallScript, deps: VoicemailMainDeps, mailbox: string, box: VoicemailBoxConfig, messages: VoicemailMessage[]): Promise<'done' | 'exit' | 'hangup'> {
  const ch = script.channel;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const header = await script.services.speak(`Message ${i + 1}.${m.callerNumber ? ` From ${m.callerNumber.split('').join(' ')}.` : ''}`);
    if ((await ch.play(header, { interrupt: true })) === 'hangup') return 'hangup';
    let again = true;
    while (again) {
      again = false;
      ch.clearKeys();
      const audio = await script.services.file(m.path);
      const r = await ch.play(audio, { interrupt: true });
      if (r === 'hangup') return 'hangup';
      if (m.folder === 'new') await deps.store.markOld(m.id).catch(() => undefined);
      const key = r === 'key' ? await ch.nextKey(0) : (await script.collect({ prompts: [{ say: MENU }], num_digits: 1, timeout: 5, finish_on_key: '', dialplan: false }))[0];
      switch (key) {
        case '5':
          again = true;
          break;
        case '7':
          await deps.store.delete(m.id).catch(() => false);
          if (!(await sayQuick(script, 'Message deleted.'))) return 'hangup';
          break;
        case '9':
          await deps.store.save(m.id).catch(() => undefined);
          if (!(await sayQuick(script, 'Message saved.'))) return 'hangup';
          break;
        case '0':
          await options(script, deps, mailbox, box);
          break;
        case '#':
          return 'exit';
        default:
          break;
      }
      if (ch.ended) return 'hangup';
    }
  }
  return 'done';
}

async function menuLoop(script: CallScript, deps: VoicemailMainDeps, mailbox: string, box: VoicemailBoxConfig): Promise<void> {
  const ch = script.channel;
  for (let i = 0; i < 3 && !ch.ended; i++) {
    const key = await script.collect({ prompts: [{ say: 'Press 0 for mailbox options, or pound to exit.' }], num_digits: 1, timeout: 5, finish_on_key: '', dialplan: false });
    if (key !== '0') return;
    await options(script, deps, mailbox, box);
  }
}

async function sayQuick(script: CallScript, text: string): Promise<boolean> {
  return (await script.channel.play(await script.services.speak(text))) !== 'hangup';
}

/** Mailbox options: record greetings, change the PIN. */
async function options(script: CallScript, deps: VoicemailMainDeps, mailbox: string, box: VoicemailBoxConfig): Promise<void> {
  const ch = script.channel;
  const key = await script.collect({
    prompts: [{ say: 'Press 1 to record your unavailable message, 2 to record your busy message, 5 to change your PIN, or star to return.' }],
    num_digits: 1,
    timeout: 5,
    finish_on_key: '',
    dialplan: false,
  });
  if (key === '1' || key === '2') {
    const kind = key === '1' ? 'unavailable' : 'busy';
    if (!(await sayQuick(script, 'Record your greeting after the tone, then press pound.'))) return;
    if ((await ch.play(BEEP)) === 'hangup') return;
    const rec = await recordChannel(ch, { path: deps.store.recordingPath(mailbox, 'greeting'), maxSeconds: 60, silenceSeconds: 5, finishKeys: '#' });
    if (!rec) return;
    if (rec.seconds < 1 || rec.reason === 'hangup') {
      discardRecording(rec);
      return;
    }
    await deps.store.setGreeting(mailbox, kind, rec.path);
    await sayQuick(script, 'Your greeting has been saved.');
  } else if (key === '5') {
    const first = await script.collect({ prompts: [{ say: 'Enter your new PIN, then press pound.' }], timeout: 6, finish_on_key: '#', dialplan: false });
    const second = await script.collect({ prompts: [{ say: 'Enter it again, then press pound.' }], timeout: 6, finish_on_key: '#', dialplan: false });
    if (first.length >= 4 && first === second) {
      deps.store.setPin(mailbox, first, box.pin);
      await sayQuick(script, 'Your PIN has been changed.');
    } else if (!ch.ended) await sayQuick(script, 'The PINs did not match or were too short. Your PIN is unchanged.');
  }
}
