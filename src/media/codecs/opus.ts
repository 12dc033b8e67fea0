/**
 * Opus (RFC 6716) for RTP (RFC 7587) through the libopus builds shipped in
 * `@evan/opus`: a native addon and a WebAssembly module.
 *
 * The package's own classes return a fresh copy (`slice`) of every packet and
 * every decoded frame, and its native decoder can neither conceal a lost
 * packet (it rejects an empty one) nor decode in-band FEC (it always passes
 * decode_fec = 0). So this file goes one level down:
 *
 * - Encoding calls the native encoder's raw method, which writes into one
 *   static buffer inside the addon and returns the length; the bytes are
 *   copied into the caller's packet. Measured about twice as fast as the
 *   WebAssembly encoder, which is the fallback where the addon does not load.
 * - Decoding runs in our own instance of the WebAssembly build, calling
 *   opus_decode directly, so a lost packet is concealed by libopus (data =
 *   NULL) or recovered from the FEC in the next packet (decode_fec = 1).
 *   Each codec owns a packet and a PCM region in WebAssembly memory.
 *
 * Nothing is allocated per packet on either path.
 *
 * The PCM handed in and out is mono at `sampleRate` (8, 12, 16, 24 or 48 kHz:
 * libopus encodes and decodes at these natively, which spares a resampler);
 * the RTP clock is 48 kHz whatever the rate, and SDP says opus/48000/2 (RFC
 * 7587 §7) while the decoder downmixes a stereo sender.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString as setV8Flags } from 'node:v8';
import { createRequire } from 'node:module';
import type { Codec } from './types.js';

export type OpusSampleRate = 8000 | 12000 | 16000 | 24000 | 48000;

export interface OpusOptions {
  /** Rate of the PCM we encode and decode (default 48000). The RTP clock stays 48 kHz. */
  sampleRate?: OpusSampleRate;
  /** Target bitrate, bit/s (default 32000: room for FEC on top of wideband speech). */
  bitrate?: number;
  /** In-band FEC (LBRR) in what we send (default true). */
  fec?: boolean;
  /** Loss the encoder plans FEC for, percent (default 10 with FEC, else 0; FEC is only sent when > 0). */
  expectedLossPercent?: number;
  /** Discontinuous transmission: silence shrinks to 1–2 byte packets (default false). */
  dtx?: boolean;
  /** Encoder complexity 0–10 (default 5: most of the quality of 10 at about half the CPU). */
  complexity?: number;
  /**
   * 'native' (the default where the addon loads) or 'wasm'. The native addon
   * encodes into one buffer shared by the whole process, so codecs used from
   * several worker threads at once must use 'wasm' (an instance per thread).
   */
  encoder?: 'native' | 'wasm';
}

// libopus constants (opus_defines.h).
const APPLICATION_VOIP = 2048;
const SET_BITRATE = 4002;
const SET_COMPLEXITY = 4010;
const SET_INBAND_FEC = 4012;
const SET_PACKET_LOSS_PERC = 4014;
const SET_DTX = 4016;
const SET_SIGNAL = 4024;
const SIGNAL_VOICE = 3001;
const OPUS_BUFFER_TOO_SMALL = -2;

/** Longest Opus packet duration, ms (RFC 6716 §3.2.5). */
const MAX_PACKET_MS = 120;
/** Room for one received packet; RTP over UDP never carries more. */
const MAX_PACKET_BYTES = 4000;
/** Durations opus_encode accepts, ms. */
const ENCODE_MS = [2.5, 5, 10, 20, 40, 60, 80, 100, 120];
const SAMPLE_RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];

/** The C API of the package's WebAssembly build (its exports, by name). */
interface OpusWasm {
  memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  _initialize?(): void;
  opus_strerror(code: number): number;
  opus_decoder_get_size(channels: number): number;
  opus_decoder_init(st: number, rate: number, channels: number): number;
  opus_decode(st: number, data: number, len: number, pcm: number, frameSize: number, decodeFec: number): number;
  opus_encoder_get_size(channels: number): number;
  opus_encoder_init(st: number, rate: number, channels: number, application: number): number;
  opus_encode(st: number, pcm: number, frameSize: number, data: number, maxBytes: number): number;
  opus_encoder_ctl_set(st: number, cmd: number, value: number): number;
}

interface NativeEncoder {
  ctl(cmd: number, value?: number): number;
}

interface NativeAddon {
  Encoder: new (opts: { channels: number; sample_rate: number; application: string }) => NativeEncoder;
  buffers: { encoder(): Uint8Array };
}

interface NativeBinding {
  Encoder: NativeAddon['Encoder'];
  /** The addon's own encode: writes into `out` below, returns the length. */
  encode: (this: NativeEncoder, pcm: ArrayBufferView) => number;
  out: Uint8Array;
}

const requireCjs = createRequire(import.meta.url);
let wasm: OpusWasm | undefined;
let native: NativeBinding | null | undefined;

/** One WebAssembly instance per thread, shared by every codec (each has its own state in it). */
function opusWasm(): OpusWasm {
  if (wasm) return wasm;
  const bytes = readFileSync(requireCjs.resolve('@evan/opus/wasm/opus.wasm'));
  // Compile the module fully (TurboFan) before it runs. With V8's default
  // dynamic tiering, hot functions are recompiled on background threads, and
  // Node 20 can deadlock at exit when such a job waits for a GC while the main
  // thread drains platform tasks (seen: 1 exit in 7 hung forever). Fully
  // optimised code from the first call is what a media path wants anyway.
  setV8Flags('--no-liftoff');
  setV8Flags('--no-wasm-dynamic-tiering');
  const noop = (): number => 0;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    wasi_snapshot_preview1: {
      fd_seek: noop,
      fd_write: noop,
      fd_close: noop,
      proc_exit: (code: number) => {
        throw new Error(`libopus aborted (${code})`);
      },
    },
    // Views are checked against memory.buffer on use, so growth needs no notice.
    env: { emscripten_notify_memory_growth: noop },
  });
  const w = instance.exports as unknown as OpusWasm;
  w._initialize?.();
  wasm = w;
  return w;
}

function nativeBinding(): NativeBinding | null {
  if (native !== undefined) return native;
  try {
    const addon = requireCjs('@evan/opus/node/index.js') as NativeAddon;
    // The package subclasses the addon's Encoder only to slice a copy out of the shared buffer.
    const raw = Object.getPrototypeOf(addon.Encoder.prototype) as { encode?: unknown };
    const out = addon.buffers.encoder();
    if (typeof raw.encode !== 'function' || !(out instanceof Uint8Array)) throw new Error('unexpected @evan/opus layout');
    native = { Encoder: addon.Encoder, encode: raw.encode as NativeBinding['encode'], out };
  } catch {
    native = null;
  }
  return native;
}

function opusError(w: OpusWasm, code: number, what: string): Error {
  const u8 = new Uint8Array(w.memory.buffer);
  let msg = '';
  for (let p = w.opus_strerror(code); p < u8.length && u8[p] !== 0 && msg.length < 100; p++) msg += String.fromCharCode(u8[p]);
  const text = `${what}: ${msg || `opus error ${code}`}`;
  return code === OPUS_BUFFER_TOO_SMALL ? new RangeError(text) : new Error(text);
}

/** Frees a codec's WebAssembly allocations when the codec is collected without close(). */
const finalizer = new FinalizationRegistry<number[]>((ptrs) => {
  if (wasm) for (const p of ptrs) wasm.free(p);
});

/** How lost frames were concealed. */
export interface OpusConcealStats {
  /**
   * Lost frames decoded from the next packet's in-band FEC. A next packet
   * without FEC data (CELT mode, or FEC off at the sender) counts here too:
   * libopus then falls back to its PLC by itself.
   */
  fromNext: number;
  /** Lost frames extrapolated by libopus with no next packet at hand. */
  plc: number;
}

/** Encoder complexity when none is asked for: most of the quality of 10 at about half the CPU. */
export const DEFAULT_OPUS_COMPLEXITY = 5;

export class OpusCodec implements Codec {
  readonly name = 'opus';
  readonly clockRate = 48000;
  readonly sampleRate: OpusSampleRate;
  readonly channels = 1;
  readonly options: Readonly<Required<Omit<OpusOptions, 'encoder'>>> & { encoder: 'native' | 'wasm' };
  readonly concealed: OpusConcealStats = { fromNext: 0, plc: 0 };

  private readonly w: OpusWasm;
  private readonly dec: number;
  private readonly enc: number;
  private readonly nativeEnc: NativeEncoder | undefined;
  private readonly pcmPtr: number;
  private readonly pktPtr: number;
  private readonly maxFrame: number;
  /** Samples in 2.5 ms, the unit of every Opus frame duration. */
  private readonly unit: number;
  private pcmView: Int16Array;
  private pktView: Uint8Array;
  private closed = false;

  constructor(opts: OpusOptions = {}) {
    const sampleRate = opts.sampleRate ?? 48000;
    if (!SAMPLE_RATES.includes(sampleRate)) throw new RangeError(`Opus runs at 8, 12, 16, 24 or 48 kHz, not ${sampleRate}`);
    const fec = opts.fec ?? true;
    const bin = opts.encoder === 'wasm' ? null : nativeBinding();
    if (opts.encoder === 'native' && !bin) throw new Error('the native @evan/opus addon did not load');
    this.options = {
      sampleRate,
      bitrate: opts.bitrate ?? 32000,
      fec,
      expectedLossPercent: opts.expectedLossPercent ?? (fec ? 10 : 0),
      dtx: opts.dtx ?? false,
      complexity: opts.complexity ?? DEFAULT_OPUS_COMPLEXITY,
      encoder: bin ? 'native' : 'wasm',
    };
    const o = this.options;
    if (!(o.bitrate >= 500 && o.bitrate <= 512000)) throw new RangeError(`Opus bitrate must be 500–512000 bit/s, got ${o.bitrate}`);
    if (!(o.complexity >= 0 && o.complexity <= 10)) throw new RangeError(`Opus complexity must be 0–10, got ${o.complexity}`);
    if (!(o.expectedLossPercent >= 0 && o.expectedLossPercent <= 100)) {
      throw new RangeError(`expectedLossPercent must be 0–100, got ${o.expectedLossPercent}`);
    }
    this.sampleRate = sampleRate;
    this.unit = sampleRate / 400;
    this.maxFrame = (sampleRate * MAX_PACKET_MS) / 1000;

    const w = opusWasm();
    this.w = w;
    const ptrs: number[] = [];
    const alloc = (size: number): number => {
      const p = w.malloc(size);
      if (p === 0) throw new Error('Opus: out of WebAssembly memory');
      ptrs.push(p);
      return p;
    };
    try {
      this.dec = alloc(w.opus_decoder_get_size(1));
      const rc = w.opus_decoder_init(this.dec, sampleRate, 1);
      if (rc < 0) throw opusError(w, rc, 'opus_decoder_init');
      this.pcmPtr = alloc(this.maxFrame * 2);
      this.pktPtr = alloc(MAX_PACKET_BYTES);
      if (bin) {
        this.enc = 0;
        this.nativeEnc = new bin.Encoder({ channels: 1, sample_rate: sampleRate, application: 'voip' });
      } else {
        this.enc = alloc(w.opus_encoder_get_size(1));
        const erc = w.opus_encoder_init(this.enc, sampleRate, 1, APPLICATION_VOIP);
        if (erc < 0) throw opusError(w, erc, 'opus_encoder_init');
      }
      this.encoderCtl(SET_SIGNAL, SIGNAL_VOICE);
      this.encoderCtl(SET_BITRATE, Math.round(o.bitrate));
      this.encoderCtl(SET_COMPLEXITY, Math.round(o.complexity));
      this.encoderCtl(SET_INBAND_FEC, o.fec ? 1 : 0);
      this.encoderCtl(SET_PACKET_LOSS_PERC, Math.round(o.expectedLossPercent));
      this.encoderCtl(SET_DTX, o.dtx ? 1 : 0);
    } catch (err) {
      for (const p of ptrs) w.free(p);
      throw err;
    }
    finalizer.register(this, ptrs, this);
    this.pcmView = new Int16Array(w.memory.buffer, this.pcmPtr, this.maxFrame);
    this.pktView = new Uint8Array(w.memory.buffer, this.pktPtr, MAX_PACKET_BYTES);
  }

  frameSamples(ptimeMs: number): number {
    if (!(ptimeMs > 0) || !Number.isFinite(ptimeMs)) throw new RangeError(`ptime must be positive, got ${ptimeMs}`);
    return Math.round((ptimeMs * this.sampleRate) / 1000);
  }

  /** Encodes one frame of 2.5, 5, 10, 20, 40, 60, 80, 100 or 120 ms; returns the packet length. */
  encode(pcm: Int16Array, out: Uint8Array): number {
    this.checkOpen();
    const n = pcm.length;
    if (!ENCODE_MS.includes((n * 1000) / this.sampleRate)) {
      throw new RangeError(`Opus encodes 2.5–120 ms frames; ${n} samples at ${this.sampleRate} Hz is not one`);
    }
    let len: number;
    let src: Uint8Array;
    if (this.nativeEnc) {
      const bin = native as NativeBinding;
      len = bin.encode.call(this.nativeEnc, pcm);
      src = bin.out;
    } else {
      this.refreshViews();
      this.pcmView.set(pcm);
      len = this.w.opus_encode(this.enc, this.pcmPtr, n, this.pktPtr, MAX_PACKET_BYTES);
      if (len < 0) throw opusError(this.w, len, 'opus_encode');
      src = this.pktView;
    }
    if (out.length < len) throw new RangeError(`Opus encode: output holds ${out.length}, needs ${len}`);
    for (let i = 0; i < len; i++) out[i] = src[i];
    return len;
  }

  /** Decodes one packet; `out` must hold its duration (20 ms = 960 samples at 48 kHz). */
  decode(payload: Uint8Array, out: Int16Array): number {
    this.checkOpen();
    const len = payload.length;
    if (len === 0) throw new RangeError('Opus decode: empty payload');
    if (len > MAX_PACKET_BYTES) throw new RangeError(`Opus decode: ${len} byte packet exceeds ${MAX_PACKET_BYTES}`);
    this.refreshViews();
    this.pktView.set(payload);
    const n = this.w.opus_decode(this.dec, this.pktPtr, len, this.pcmPtr, Math.min(out.length, this.maxFrame), 0);
    if (n < 0) throw opusError(this.w, n, 'opus_decode');
    return this.copyOut(n, out);
  }

  /**
   * Fills `out` in place of a lost packet of the same duration: from the FEC
   * in `next` (the packet after the lost one) when given and it carries any,
   * else by libopus's concealment, which continues the decoder's own signal
   * model and fades out over a long loss. A length that is not a multiple of
   * 2.5 ms is concealed to the multiple below and padded with silence.
   */
  conceal(out: Int16Array, next?: Uint8Array): number {
    this.checkOpen();
    const frame = Math.min(Math.floor(out.length / this.unit) * this.unit, this.maxFrame);
    if (frame === 0) {
      out.fill(0);
      return out.length;
    }
    this.refreshViews();
    let n = -1;
    if (next && next.length > 0 && next.length <= MAX_PACKET_BYTES) {
      this.pktView.set(next);
      n = this.w.opus_decode(this.dec, this.pktPtr, next.length, this.pcmPtr, frame, 1);
      if (n >= 0) this.concealed.fromNext++;
    }
    if (n < 0) {
      n = this.w.opus_decode(this.dec, 0, 0, this.pcmPtr, frame, 0);
      if (n < 0) throw opusError(this.w, n, 'opus_decode (PLC)');
      this.concealed.plc++;
    }
    const written = this.copyOut(n, out);
    out.fill(0, written);
    return out.length;
  }

  /** Frees the WebAssembly memory now instead of at garbage collection; the codec is unusable after. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    finalizer.unregister(this);
    this.w.free(this.dec);
    this.w.free(this.pcmPtr);
    this.w.free(this.pktPtr);
    if (this.enc) this.w.free(this.enc);
  }

  private encoderCtl(cmd: number, value: number): void {
    const rc = this.nativeEnc ? this.nativeEnc.ctl(cmd, value) : this.w.opus_encoder_ctl_set(this.enc, cmd, value);
    if (rc < 0) throw opusError(this.w, rc, `opus_encoder_ctl(${cmd}, ${value})`);
  }

  private copyOut(n: number, out: Int16Array): number {
    const pcm = this.pcmView;
    for (let i = 0; i < n; i++) out[i] = pcm[i];
    return n;
  }

  /** Memory growth (another codec allocating) detaches old views. */
  private refreshViews(): void {
    const buf = this.w.memory.buffer;
    if (this.pcmView.buffer === buf) return;
    this.pcmView = new Int16Array(buf, this.pcmPtr, this.maxFrame);
    this.pktView = new Uint8Array(buf, this.pktPtr, MAX_PACKET_BYTES);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('OpusCodec is closed');
  }
}

