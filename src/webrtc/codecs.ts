/**
 * What we offer and accept in a WebRTC m-line, as werift codec parameters:
 * our codecs in our order, and telephone-event/8000. Only that one: Chromium
 * offers telephone-event at 48000 and 8000 but sends its keys at 8000 even
 * beside Opus (seen with Chromium 156), so an answer naming both made us wait
 * for events on the wrong payload type.
 */
import { RTCRtpCodecParameters } from 'werift';
import type { CodecName } from '../media/codecs/registry.js';

const OPUS_PT = 111;
const TE_8000_PT = 101;

function codecParams(name: CodecName): RTCRtpCodecParameters {
  switch (name) {
    case 'opus':
      // RFC 7587 §6.1: we decode in-band FEC, so we ask for it.
      return new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: OPUS_PT, parameters: 'minptime=10;useinbandfec=1' });
    case 'pcmu':
      return new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 });
    case 'pcma':
      return new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, channels: 1, payloadType: 8 });
    case 'g722':
      return new RTCRtpCodecParameters({ mimeType: 'audio/G722', clockRate: 8000, channels: 1, payloadType: 9 });
  }
}

export function webrtcCodecs(codecs: readonly CodecName[], telephoneEvent: boolean): RTCRtpCodecParameters[] {
  const out = codecs.map(codecParams);
  if (telephoneEvent) out.push(new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, payloadType: TE_8000_PT, parameters: '0-16' }));
  return out;
}
