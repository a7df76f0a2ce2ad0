/**
 * The Switch as its owners drive it: the composition root and the gRPC
 * gateway, which add reactors and answer operators. Reactors get only
 * {@link SwitchApi}.
 */
import type { ChannelDescriptor } from "../wire/mconnection/channel-descriptor.js";
import type { Reactor } from "./reactor.js";
import type { SwitchApi } from "./switch-api.js";

/** Where the Switch is in its life: reactors are added while `created`; start and stop happen once. */
export type SwitchState = "created" | "starting" | "running" | "stopping" | "stopped";

/**
 * What the node's owners (the composition root, the gRPC gateway) may do
 * with the Switch besides what its reactors get: add reactors before it
 * starts, and look at its state, channels and listener. The gateway depends
 * on this and on {@link SwitchApi}, never on the Switch class, so that a
 * remote reactor's commands provably use the in-process reactors' contract.
 */
export interface SwitchControl extends SwitchApi {
  readonly lifecycle: SwitchState;
  /** The address the listener is bound to, once started. */
  readonly listenAddress: { readonly host: string; readonly port: number } | null;
  /**
   * Registers a reactor under a unique name, before start only: calls its
   * `getChannels` then `setSwitch`. Throws SwitchConfigError for a duplicate
   * name, a channel another reactor owns, or more channels than a NodeInfo lists.
   */
  addReactor(name: string, reactor: Reactor): void;
  /** The name of the reactor that owns channel `id`, if any. */
  channelOwner(id: number): string | undefined;
  /** Our channels, in registration order. */
  channels(): readonly ChannelDescriptor[];
}
