/** DTMF for media endpoints: RFC 4733 events, SIP INFO bodies and in-band tones, all reported as DtmfDigitEvent. */
export { digitToEvent, eventToDigit, toDigit, type DtmfDigit, type DtmfDigitEvent, type DtmfListener, type DtmfSource } from './digits.js';
export { decodeEvent, encodeEvent, MAX_EVENT_DURATION, TELEPHONE_EVENT_LENGTH, type TelephoneEvent } from './telephone-event.js';
export { DtmfSender, type DtmfPacket, type DtmfSenderOptions } from './sender.js';
export { DtmfReceiver, type DtmfReceiverOptions } from './receiver.js';
export { DEFAULT_INFO_DURATION_MS, parseDtmfInfo } from './info-body.js';
export { InbandDtmfDetector, type InbandDtmfOptions } from './inband.js';
