/**
 * The codecs a phone can use, under the names the CLI takes, with what each
 * says about itself in SDP (RFC 3551 for the static ones, RFC 7587 for Opus)
 * and the reverse lookup from a negotiated a=rtpmap to a codec.
 *
 * Codecs keep state (G.722's ADPCM, Opus's encoder and decoder), so every
 * call returns a fresh instance: one per stream.
 */
import type { CodecSpec } from '../../sdp/negotiate.js';
import { PcmaCodec, PcmuCodec } from './g711.js';
import { G722Codec } from './g722.js';
import { OpusCodec, type OpusOptions } from './opus.js';
import type { Codec } from './types.js';

export const CODEC_NAMES = ['pcmu', 'pcma', 'g722', 'opus'] as const;
export type CodecName = (typeof CODEC_NAMES)[number];

/** Options for the codecs that have any; today only Opus (the others ignore them). */
export type CodecOptions = OpusOptions;

interface Entry {
  /** Encoding name as in a=rtpmap. */
  rtpName: string;
  clockRate: number;
  /** Channel count as in a=rtpmap (Opus always says 2). */
  channels: number;
  payloadType?: number;
  create(opts: CodecOptions): Codec;
}

const ENTRIES: Record<CodecName, Entry> = {
  pcmu: { rtpName: 'PCMU', clockRate: 8000, channels: 1, payloadType: 0, create: () => new PcmuCodec() },
  pcma: { rtpName: 'PCMA', clockRate: 8000, channels: 1, payloadType: 8, create: () => new PcmaCodec() },
  // RFC 3551 §4.5.2: G.722 samples at 16 kHz but its RTP clock is 8000.
  g722: { rtpName: 'G722', clockRate: 8000, channels: 1, payloadType: 9, create: () => new G722Codec() },
  opus: { rtpName: 'opus', clockRate: 48000, channels: 2, create: (opts) => new OpusCodec(opts) },
};

function entry(name: CodecName): Entry {
  // Checked at run time too: names come from the command line and config files.
  if (!isCodecName(name)) throw new RangeError(`unknown codec '${String(name)}' (known: ${CODEC_NAMES.join(', ')})`);
  return ENTRIES[name];
}

export function isCodecName(name: string): name is CodecName {
  return (CODEC_NAMES as readonly string[]).includes(name);
}

/** A new codec instance for one stream. Throws RangeError for a name not in CODEC_NAMES. */
export function createCodec(name: CodecName, opts: CodecOptions = {}): Codec {
  const e = entry(name);
  return e.create(opts);
}

/**
 * What we declare in SDP for `name`. For Opus (RFC 7587 §6.1) the fmtp
 * states our receive side: we decode in-band FEC, so we ask for it
 * (useinbandfec=1); a decoder running below 48 kHz says so
 * (maxplaybackrate), so the sender need not spend bits on bands we drop;
 * DTX is asked for when we use it ourselves. Everything else stays at the
 * RFC's defaults (mono is fine: we downmix a stereo sender).
 */
export function sdpSpec(name: CodecName, opts: CodecOptions = {}): CodecSpec {
  const e = entry(name);
  if (name !== 'opus') return { name: e.rtpName, clockRate: e.clockRate, channels: e.channels, payloadType: e.payloadType };
  const params: string[] = [];
  const rate = opts.sampleRate ?? 48000;
  if (rate < 48000) params.push(`maxplaybackrate=${rate}`, `sprop-maxcapturerate=${rate}`);
  if (opts.fec ?? true) params.push('useinbandfec=1');
  if (opts.dtx) params.push('usedtx=1');
  const spec: CodecSpec = { name: e.rtpName, clockRate: e.clockRate, channels: e.channels };
  if (params.length > 0) spec.fmtp = params.join(';');
  return spec;
}

/**
 * Our name for a codec the far end declared as `name/clockRate[/channels]`
 * (encoding names compare case-insensitively, RFC 4855 §3); undefined when
 * we do not carry it. Opus is accepted with 1 or no channel count too, which
 * some endpoints send despite RFC 7587.
 */
export function codecNameForRtpmap(name: string, clockRate: number, channels?: number): CodecName | undefined {
  const lower = name.toLowerCase();
  for (const n of CODEC_NAMES) {
    const e = ENTRIES[n];
    if (e.rtpName.toLowerCase() !== lower || e.clockRate !== clockRate) continue;
    const ch = channels ?? e.channels;
    if (ch === e.channels || (n === 'opus' && ch === 1)) return n;
  }
  return undefined;
}

/** A fresh codec for a negotiated a=rtpmap, or undefined when we do not carry it. */
export function codecForRtpmap(name: string, clockRate: number, channels?: number, opts: CodecOptions = {}): Codec | undefined {
  const n = codecNameForRtpmap(name, clockRate, channels);
  return n === undefined ? undefined : createCodec(n, opts);
}
