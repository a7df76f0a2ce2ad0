/**
 * Defaults of the Switch, owned here and imported by everything else (PEX,
 * the config layer, CONFIG.md). Values follow CometBFT v0.38
 * (`config.DefaultP2PConfig`, `p2p/switch.go`) where CometBFT has the setting.
 */

/** `max_num_inbound_peers`: inbound peers, unconditional ones not counted. */
export const DEFAULT_MAX_NUM_INBOUND_PEERS = 40;
/** `max_num_outbound_peers`: outbound peers plus dials in progress; ensure-peers dials up to this many. */
export const DEFAULT_MAX_NUM_OUTBOUND_PEERS = 10;
/** `allow_duplicate_ip`: one peer per IP unless turned on (local testnets). */
export const DEFAULT_ALLOW_DUPLICATE_IP = false;
/**
 * `dialPeersAsync` sleeps a random 0..n ms before each dial
 * (`dialRandomizerIntervalMilliseconds`), so that nodes started together do
 * not dial each other at the same instant.
 */
export const DEFAULT_DIAL_RANDOMIZER_MS = 3_000;
/** Sustained inbound connection attempts per second from one IP (`accept_rate_per_ip`). */
export const DEFAULT_ACCEPT_RATE_PER_IP_PER_SECOND = 5;
/** Inbound connection attempts one IP may make in a burst (`accept_burst_per_ip`). */
export const DEFAULT_ACCEPT_BURST_PER_IP = 20;
/** IPs the accept rate limiter remembers; past it the least recently seen is forgotten. */
export const DEFAULT_MAX_TRACKED_IPS = 10_000;
