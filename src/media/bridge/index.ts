/** Media bridges: join two call legs packet by packet (relay) or through a transcoder. */
export { RtpRelay, type RtpRelayOptions, type RtpRelayStats } from './relay.js';
export type { LegName } from './two-leg.js';
export {
  BRIDGE_DROP_REASONS,
  BridgeLeg,
  OutboundStream,
  type BridgeDropReason,
  type BridgeLegConfig,
  type BridgeLegHandlers,
  type BridgeLegStats,
  type PacketTimer,
} from './leg.js';
export {
  TranscodeBridge,
  type TranscodeBridgeOptions,
  type TranscodeBridgeStats,
  type TranscodeLegConfig,
} from './transcode-bridge.js';
