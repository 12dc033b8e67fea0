/** Interim TTS until voice/tts.ts lands: espeak-ng to a cached WAV. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AudioSourceSpec } from '../media/players/index.js';
import { readWavFile } from '../media/wav.js';

const run = promisify(execFile);

export async function speakWithEspeak(dataDir: string, text: string, voice = 'en-us'): Promise<AudioSourceSpec> {
  const dir = path.join(dataDir, 'tts-cache');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${createHash('sha256').update(`${voice}\n${text}`).digest('hex').slice(0, 32)}.wav`);
  if (!existsSync(file)) await run('espeak-ng', ['-v', voice, '-w', file, text]);
  return { kind: 'wav', path: file, audio: await readWavFile(file) };
}
