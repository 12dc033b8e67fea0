/** The media endpoint: RTP in, RTP out, a codec, a clock. */
export { MediaEndpoint } from './endpoint.js';
export {
  DROP_REASONS,
  type DropReason,
  type MediaEndpointConfig,
  type MediaEndpointHandlers,
  type MediaEndpointOpenOptions,
  type MediaEndpointSrtpConfig,
  type MediaEndpointStats,
  type PacketSocket,
  type PacketSource,
  type PortRange,
  type RemoteAddress,
  type SrtpKeyMaterial,
} from './types.js';
