/** SRTP/SRTCP (RFC 3711) with SDES keying (RFC 4568): the public surface of media/srtp. */
export { SrtpContext, type SrtpContextOptions, type SrtpStats } from './context.js';
export { SRTP_SUITES, isSrtpSuite, type SrtpSuite, type SrtpSuiteParams } from './suites.js';
export { SdesKeyError, formatSdesKey, generateSdesKey, parseSdesKey, tryParseSdesKey, type SdesKey } from './sdes.js';
export { SRTP_LABEL, deriveSessionKeys, deriveSrtpKey, type SessionKeys } from './kdf.js';
export { AesCm, writeSrtpIv } from './aes-cm.js';
export { REPLAY_WINDOW_SIZE, ReplayWindow, estimatePacketIndex } from './replay.js';
