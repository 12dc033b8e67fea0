/** WebRTC media legs: ICE + DTLS-SRTP (werift) under a plain-RTP media endpoint. */
export { webrtcCodecs } from './codecs.js';
export { WEBRTC_PEER, WebRtcPacketSocket } from './packet-socket.js';
export { fingerprintsOf, iceUfragOf, isWebRtcSdp, originVersionOf, webRtcSdpProblem, withDirection, type SdpFingerprint } from './sdp.js';
export { WebRtcTransport, type WebRtcTransportOptions } from './transport.js';
export {
  WEBRTC_FAILURES,
  type IceServer,
  type WebRtcConfig,
  type WebRtcCounters,
  type WebRtcFailure,
  type WebRtcState,
} from './types.js';
