/**
 * RIFF WAVE files for prompts, music on hold, voicemail and recordings:
 * 16-bit PCM, and G.711 µ-law (format 7) / A-law (format 6) so an 8 kHz
 * prompt can go out as PCMU/PCMA without transcoding.
 *
 * Reading walks the chunks, so LIST/fact/junk chunks and odd-size padding do
 * not matter, and takes what is there when a recorder died before fixing up
 * the sizes. Anything else gets an error that says what was found and how to
 * convert it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { decodeAlaw, decodeUlaw, encodeAlaw, encodeUlaw } from './codecs/g711.js';

export type WavEncoding = 'pcm16' | 'ulaw' | 'alaw';

export interface WavFormat {
  encoding: WavEncoding;
  sampleRate: number;
  channels: number;
}

export interface WavInfo extends WavFormat {
  /** The data chunk as stored (a view into the input, not a copy). */
  data: Uint8Array;
  /** Samples per channel. */
  frames: number;
}

/** Linear audio: interleaved 16-bit samples. */
export interface PcmAudio {
  sampleRate: number;
  channels: number;
  samples: Int16Array;
}

export class WavError extends Error {
  override name = 'WavError';
}

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_ALAW = 0x0006;
const FORMAT_ULAW = 0x0007;
const FORMAT_EXTENSIBLE = 0xfffe;

const FORMAT_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0040: 'G.721 ADPCM',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer 3',
  0x0064: 'G.726 ADPCM',
  0x0065: 'G.722 ADPCM',
};

const TO_PCM16 = 'convert with: sox in.wav -b 16 -e signed-integer out.wav';
const MAX_CHANNELS = 8;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fourcc(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off], b[off + 1], b[off + 2], b[off + 3]);
}

interface FmtChunk {
  tag: number;
  channels: number;
  rate: number;
  bits: number;
}

function readFmt(view: DataView, body: number, size: number): FmtChunk {
  if (size < 16) throw new WavError(`WAV fmt chunk is ${size} bytes, expected at least 16`);
  let tag = view.getUint16(body, true);
  const fmt = {
    channels: view.getUint16(body + 2, true),
    rate: view.getUint32(body + 4, true),
    bits: view.getUint16(body + 14, true),
  };
  if (tag === FORMAT_EXTENSIBLE) {
    // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the
    // sub-format GUID, after cbSize (2), valid bits (2) and channel mask (4).
    if (size < 40) throw new WavError(`WAV extensible fmt chunk is ${size} bytes, expected 40`);
    tag = view.getUint16(body + 24, true);
  }
  return { tag, ...fmt };
}

function encodingOf(fmt: FmtChunk): WavEncoding {
  const { tag, bits } = fmt;
  if (tag === FORMAT_PCM) {
    if (bits === 16) return 'pcm16';
    throw new WavError(`${bits}-bit PCM is not supported; convert with: sox in.wav -b 16 out.wav`);
  }
  if (tag === FORMAT_ULAW || tag === FORMAT_ALAW) {
    const name = tag === FORMAT_ULAW ? 'µ-law' : 'A-law';
    if (bits !== 8) throw new WavError(`${name} WAV with ${bits} bits per sample is not supported (expected 8); ${TO_PCM16}`);
    return tag === FORMAT_ULAW ? 'ulaw' : 'alaw';
  }
  if (tag === FORMAT_FLOAT) throw new WavError(`${bits}-bit floating-point WAV is not supported; ${TO_PCM16}`);
  const hex = `0x${tag.toString(16).padStart(4, '0')}`;
  const name = FORMAT_NAMES[tag];
  throw new WavError(`WAV format ${hex}${name ? ` (${name})` : ''} is not supported; ${TO_PCM16}`);
}

/** Parses a WAV file's header and locates its audio, without decoding it. */
export function parseWav(buf: Uint8Array): WavInfo {
  if (buf.length < 12) throw new WavError(`not a WAV file: only ${buf.length} bytes`);
  const riff = fourcc(buf, 0);
  if (riff === 'RIFX') throw new WavError(`big-endian WAV (RIFX) is not supported; ${TO_PCM16}`);
  if (riff === 'RF64') throw new WavError(`RF64 (over 4 GiB) WAV is not supported; ${TO_PCM16}`);
  if (riff !== 'RIFF' || fourcc(buf, 8) !== 'WAVE') {
    throw new WavError(`not a WAV file: starts with "${riff}", expected "RIFF....WAVE"`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let fmt: FmtChunk | null = null;
  let data: Uint8Array | null = null;
  let off = 12;
  // Every step moves at least 8 bytes forward, so this ends.
  while (off + 8 <= buf.length && !(fmt && data)) {
    const id = fourcc(buf, off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    const avail = buf.length - body;
    if (id === 'fmt ') {
      if (size > avail) throw new WavError(`WAV fmt chunk is cut short (${avail} of ${size} bytes)`);
      fmt = readFmt(view, body, size);
    } else if (id === 'data') {
      // A recorder that never fixed up its header leaves 0 or 0xFFFFFFFF,
      // and a cut-off file claims more than there is: take what is there.
      const len = size === 0 || size > avail ? avail : size;
      data = buf.subarray(body, body + len);
      if (len !== size) break;
    }
    // Chunks are padded to an even length; the pad is not in `size`.
    off = body + size + (size & 1);
  }
  if (!fmt) throw new WavError('WAV file has no fmt chunk');
  if (!data) throw new WavError('WAV file has no data chunk');
  const encoding = encodingOf(fmt);
  if (fmt.channels < 1 || fmt.channels > MAX_CHANNELS) {
    throw new WavError(`WAV with ${fmt.channels} channels is not supported (1 to ${MAX_CHANNELS}); convert with: sox in.wav -c 1 out.wav`);
  }
  if (fmt.rate < 1) throw new WavError('WAV sample rate is 0');
  const frameBytes = fmt.channels * (encoding === 'pcm16' ? 2 : 1);
  const frames = Math.floor(data.length / frameBytes);
  // A trailing partial frame (cut-off file) is dropped.
  data = data.subarray(0, frames * frameBytes);
  return { encoding, sampleRate: fmt.rate, channels: fmt.channels, data, frames };
}

/** Reads a WAV file into 16-bit linear samples, decoding G.711 if needed. */
export function readWav(buf: Uint8Array): PcmAudio & { encoding: WavEncoding } {
  const info = parseWav(buf);
  const n = info.frames * info.channels;
  const samples = new Int16Array(n);
  if (info.encoding === 'ulaw') decodeUlaw(info.data, samples);
  else if (info.encoding === 'alaw') decodeAlaw(info.data, samples);
  else if (LITTLE_ENDIAN) new Uint8Array(samples.buffer).set(info.data);
  else {
    const view = new DataView(info.data.buffer, info.data.byteOffset, info.data.byteLength);
    for (let i = 0; i < n; i++) samples[i] = view.getInt16(2 * i, true);
  }
  return { encoding: info.encoding, sampleRate: info.sampleRate, channels: info.channels, samples };
}

function checkFormat(f: WavFormat): void {
  if (!Number.isInteger(f.sampleRate) || f.sampleRate < 1) throw new RangeError(`bad sample rate ${f.sampleRate}`);
  if (!Number.isInteger(f.channels) || f.channels < 1 || f.channels > MAX_CHANNELS) {
    throw new RangeError(`bad channel count ${f.channels}`);
  }
}

/**
 * The header for `dataBytes` of audio in `format`. A recorder writes it
 * first with its best guess and rewrites it with the real size at the end.
 * The data that follows must be padded with one zero byte if its length is odd.
 */
export function wavHeader(format: WavFormat, dataBytes: number): Uint8Array {
  checkFormat(format);
  const pcm = format.encoding === 'pcm16';
  const bytesPerSample = pcm ? 2 : 1;
  // Non-PCM formats carry cbSize in fmt and a fact chunk (sample frames), per the RIFF spec.
  const fmtSize = pcm ? 16 : 18;
  const headerSize = 12 + 8 + fmtSize + (pcm ? 0 : 12) + 8;
  const h = new Uint8Array(headerSize);
  const v = new DataView(h.buffer);
  const put = (off: number, s: string) => {
    for (let i = 0; i < 4; i++) h[off + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  v.setUint32(4, headerSize - 8 + dataBytes + (dataBytes & 1), true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, pcm ? FORMAT_PCM : format.encoding === 'ulaw' ? FORMAT_ULAW : FORMAT_ALAW, true);
  v.setUint16(22, format.channels, true);
  v.setUint32(24, format.sampleRate, true);
  v.setUint32(28, format.sampleRate * format.channels * bytesPerSample, true);
  v.setUint16(32, format.channels * bytesPerSample, true);
  v.setUint16(34, bytesPerSample * 8, true);
  let off = 36;
  if (!pcm) {
    v.setUint16(off, 0, true); // cbSize
    off += 2;
    put(off, 'fact');
    v.setUint32(off + 4, 4, true);
    v.setUint32(off + 8, Math.floor(dataBytes / format.channels), true);
    off += 12;
  }
  put(off, 'data');
  v.setUint32(off + 4, dataBytes, true);
  return h;
}

/** A complete WAV file holding `audio`, stored as `encoding` (default 16-bit PCM). */
export function writeWav(audio: PcmAudio, encoding: WavEncoding = 'pcm16'): Uint8Array {
  const format = { encoding, sampleRate: audio.sampleRate, channels: audio.channels };
  checkFormat(format);
  const n = audio.samples.length;
  if (n % audio.channels !== 0) throw new RangeError(`${n} samples do not divide into ${audio.channels} channels`);
  const dataBytes = encoding === 'pcm16' ? 2 * n : n;
  const header = wavHeader(format, dataBytes);
  const file = new Uint8Array(header.length + dataBytes + (dataBytes & 1));
  file.set(header);
  const body = file.subarray(header.length, header.length + dataBytes);
  if (encoding === 'ulaw') encodeUlaw(audio.samples, body);
  else if (encoding === 'alaw') encodeAlaw(audio.samples, body);
  else if (LITTLE_ENDIAN) body.set(new Uint8Array(audio.samples.buffer, audio.samples.byteOffset, dataBytes));
  else {
    const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let i = 0; i < n; i++) v.setInt16(2 * i, audio.samples[i], true);
  }
  return file;
}

export async function readWavFile(path: string): Promise<PcmAudio & { encoding: WavEncoding }> {
  try {
    return readWav(await readFile(path));
  } catch (e) {
    if (e instanceof WavError) throw new WavError(`${path}: ${e.message}`);
    throw e;
  }
}

export async function writeWavFile(path: string, audio: PcmAudio, encoding: WavEncoding = 'pcm16'): Promise<void> {
  await writeFile(path, writeWav(audio, encoding));
}
