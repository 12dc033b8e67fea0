/**
 * Music on hold: a folder of WAV files played in turn, looping. The folder
 * is read and decoded once per process (every held call and queue caller
 * shares the decoded audio, and its conversion to each call's rate); files
 * added later are seen after clearMohCache(). A default folder ships with
 * Switchboard (assets/moh, made by scripts/make-moh.ts).
 */
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readWavFile, type PcmAudio } from '../wav.js';
import type { AudioSourceSpec } from './source.js';

export interface WavFolder {
  folder: string;
  /** File names, sorted: the order they play in. */
  names: string[];
  audios: PcmAudio[];
}

export class MohError extends Error {
  override name = 'MohError';
}

/**
 * The .wav files of `folder` (sorted by name; other files ignored), decoded.
 * A missing or empty folder, or a file that is not a WAV we read, is an
 * error naming it.
 */
export async function loadWavFolder(folder: string): Promise<WavFolder> {
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MohError(`music on hold folder ${folder}: no such folder`);
    if (code === 'ENOTDIR') throw new MohError(`music on hold folder ${folder}: not a folder`);
    throw err;
  }
  const names = entries.filter((n) => n.toLowerCase().endsWith('.wav')).sort();
  if (names.length === 0) throw new MohError(`music on hold folder ${folder} has no .wav files`);
  const audios: PcmAudio[] = [];
  for (const name of names) audios.push(await readWavFile(path.join(folder, name)));
  return { folder, names, audios };
}

const loaded = new Map<string, Promise<WavFolder>>();

export interface MohOptions {
  /** A new random order on every pass (default: in name order). */
  shuffle?: boolean;
}

/**
 * A looping source over the folder's WAV files (the shipped default when
 * `folder` is omitted). The first call for a folder reads it; later calls
 * share that read, and a failed read is retried next time.
 */
export async function mohSource(folder: string = defaultMohFolder(), opts: MohOptions = {}): Promise<AudioSourceSpec> {
  const key = path.resolve(folder);
  let p = loaded.get(key);
  if (!p) {
    p = loadWavFolder(key);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  const f = await p;
  return { kind: 'files', audios: f.audios, names: f.names, loop: true, shuffle: opts.shuffle ?? false };
}

/** Forgets what mohSource read (one folder, or all), so the next call reads the folder again. */
export function clearMohCache(folder?: string): void {
  if (folder === undefined) loaded.clear();
  else loaded.delete(path.resolve(folder));
}

/**
 * The shipped music on hold folder, `assets/moh` at the package root,
 * found from src/ (tsx) and from dist/ (compiled) alike.
 */
export function defaultMohFolder(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, 'assets', 'moh');
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new MohError(`the shipped music on hold folder (assets/moh) was not found above ${fileURLToPath(import.meta.url)}`);
}
