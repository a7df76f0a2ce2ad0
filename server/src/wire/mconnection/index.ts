/** MConnection: CometBFT's multiplexed connection. */
export type { Clock, ClockTimer } from "./clock.js";
export { systemClock } from "./clock.js";
export type { ChannelDescriptor, FilledChannelDescriptor } from "./channel-descriptor.js";
export { fillChannelDefaults, fillChannelList } from "./channel-descriptor.js";
export * from "./defaults.js";
export * from "./errors.js";
export type { FlowMonitorOptions, FlowStatus } from "./flow-rate.js";
export { FlowMonitor, FlowRateLimiter } from "./flow-rate.js";
export type { Packet } from "./packet.js";
export {
  PacketDecoder,
  decodePacketBody,
  encodePacket,
  encodePacketBody,
  encodePing,
  encodePong,
  maxPacketMsgSize,
  packetMsgWireSize,
  writePacketMsg,
} from "./packet.js";
export type {
  ChannelStatus,
  ConnectionStatus,
  MConnectionHandlers,
  MConnectionOptions,
  MConnectionState,
  MConnectionStatus,
  SendOptions,
} from "./mconnection.js";
export { MConnection } from "./mconnection.js";
