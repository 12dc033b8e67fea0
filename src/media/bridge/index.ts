/** Media bridges: join two call legs packet by packet (relay) or through a transcoder. */
export { RtpRelay, type LegName, type RtpRelayOptions, type RtpRelayStats } from './relay.js';
export {
  BRIDGE_DROP_REASONS,
  BridgeLeg,
  OutboundStream,
  type BridgeDropReason,
  type BridgeLegConfig,
  type BridgeLegStats,
  type PacketTimer,
} from './leg.js';
export {
  TranscodeBridge,
  type TranscodeBridgeOptions,
  type TranscodeBridgeStats,
  type TranscodeLegConfig,
} from './transcode-bridge.js';
