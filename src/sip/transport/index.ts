/**
 * The SIP transport layer (RFC 3261 §18), as the layers above see it: the
 * TransportLayer (layer.ts) and the shapes, errors and helpers that go with it.
 */
export {
  TransportLayer, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS,
  type TransportHandlers, type TransportOptions, type TransportStats, type TransportTlsOptions,
} from './layer.js';
export { parseListen, formatEndpoint, canonicalAddress } from '../../util/listen.js';
export { StreamFramer, MAX_BODY_BYTES, type FramerSink } from './framer.js';
export { ensureSelfSignedCertificate, CERT_FILE_NAME, KEY_FILE_NAME, type CertificateFiles } from './cert.js';
export type { Inbound, LocalEndpoint, Peer, Proto } from './types.js';
export { TlsVerifyError, systemRoots, type ClientCertMode } from './tls.js';
export { isReliable, isWebSocket } from './types.js';
export { ListenError } from './errors.js';
export { DEFAULT_WS_MAX_MESSAGE_BYTES, DEFAULT_WS_PING_INTERVAL_MS, SIP_SUBPROTOCOL, type HttpHandler } from './ws.js';
