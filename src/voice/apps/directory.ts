/**
 * `directory`: dial by name, as Asterisk's Directory(). The caller keys the
 * first three letters of the last name on the phone's letter keys; each
 * match is offered ("for Alice Archer, press 1"), and the chosen extension is
 * dialled in the context the directory names.
 */
import { HANGUP, NEXT, type Flow } from '../engine.js';
import type { AppHandler } from '../services.js';

/** ITU E.161 letter keys. */
const KEYS: Record<string, string> = { a: '2', b: '2', c: '2', d: '3', e: '3', f: '3', g: '4', h: '4', i: '4', j: '5', k: '5', l: '5', m: '6', n: '6', o: '6', p: '7', q: '7', r: '7', s: '7', t: '8', u: '8', v: '8', w: '9', x: '9', y: '9', z: '9' };

/** The keys that spell the start of `name` (`Archer` → 272...). */
export function keysOf(name: string): string {
  return [...name.toLowerCase()].map((c) => KEYS[c] ?? '').join('');
}

export interface DirectoryEntry {
  exten: string;
  name: string;
}

/** Entries whose last name starts with the letters behind `digits`. */
export function matchDirectory(entries: readonly DirectoryEntry[], digits: string): DirectoryEntry[] {
  return entries
    .filter((e) => {
      const parts = e.name.trim().split(/\s+/);
      const last = parts[parts.length - 1] ?? '';
      return keysOf(last).startsWith(digits);
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const MAX_OFFERED = 8;

export function directoryApp(entries: () => readonly DirectoryEntry[]): AppHandler {
  return async (script, verb): Promise<Flow> => {
    if (verb.verb !== 'directory') return NEXT;
    const ch = script.channel;
    if (!(await ch.answer())) return HANGUP;
    script.waited();
    const context = verb.context === undefined ? script.context : script.sub(verb.context);
    for (let attempt = 0; attempt < 3 && !ch.ended; attempt++) {
      const digits = await script.collect({
        prompts: [{ say: "Please enter the first three letters of the person's last name." }],
        num_digits: 3,
        timeout: 5,
        finish_on_key: '#',
        dialplan: false,
      });
      if (ch.ended) return HANGUP;
      if (digits === '') continue;
      const found = matchDirectory(entries(), digits).slice(0, MAX_OFFERED);
      if (found.length === 0) {
        await ch.play(await script.services.speak('No name matches. Please try again.'));
        continue;
      }
      const menu = found.map((e, i) => `For ${e.name}, press ${i + 1}.`).join(' ');
      const choice = await script.collect({ prompts: [{ say: menu }], num_digits: 1, timeout: 5, finish_on_key: '', dialplan: false });
      const picked = found[Number(choice) - 1];
      if (picked) return { jump: { context, exten: picked.exten } };
    }
    return ch.ended ? HANGUP : NEXT;
  };
}
