/**
 * Who may start an inbound handshake while others are in progress.
 *
 * The transport caps inbound handshakes in progress (`max`); a single cap
 * shared by every source lets a few addresses hold all of it with
 * connections that never finish (half-open, slow senders, one new
 * connection per second per address held to the handshake timeout), which
 * locks honest peers out. So the slots are shared:
 *
 * - **per address and per network**: one address holds at most
 *   `perAddress` slots, one /24 (IPv4) or /64 (IPv6) at most `perNetwork`;
 *   a connection beyond its share is refused at once;
 * - **reserved**: `reserved` slots are kept for preferred hosts (persistent
 *   peers' hosts and addresses the address book has seen behave), which may
 *   take any free slot and, when none is free, evict an ordinary handshake;
 * - **eviction when full**: a newcomer whose network holds fewer slots than
 *   the network holding the most (by two or more) takes the oldest
 *   handshake of that network; otherwise the oldest ordinary handshake goes
 *   if it has run for `stalledMs` (an honest handshake needs a few round
 *   trips); otherwise the newcomer is refused.
 *
 * An honest peer from an address that is not flooding therefore finds a
 * slot during any of those floods: its network holds none, the attackers'
 * hold the most, or their handshakes are old. What a flood from many
 * networks at once (more networks than slots, each fast) can still do is
 * keep every slot young; the per-address accept rate limiter and the
 * handshake timeout bound that.
 */
import { isIPv4, isIPv6 } from "node:net";

/** How long a handshake may run before it counts as stalled and may be evicted for a newcomer. */
export const STALLED_HANDSHAKE_MS = 3_000;

/** The shares of `max` inbound handshake slots (see the module's comment). */
export interface HandshakeShares {
  readonly perAddress: number;
  readonly perNetwork: number;
  readonly reserved: number;
}

/** Shares for a cap of `max`: 1/16 per address, 1/8 per network, 1/8 reserved (64: 4, 8, 8). */
export function handshakeShares(max: number): HandshakeShares {
  return {
    perAddress: Math.max(1, Math.floor(max / 16)),
    perNetwork: Math.max(1, Math.floor(max / 8)),
    reserved: max >= 8 ? Math.floor(max / 8) : 0,
  };
}

/** The network an address belongs to for the shares: its /24 (IPv4, IPv4-mapped IPv6 included) or /64 (IPv6). */
export function networkOf(host: string): string {
  const mapped = host.toLowerCase().startsWith("::ffff:") ? host.slice(7) : host;
  if (isIPv4(mapped)) return `${mapped.slice(0, mapped.lastIndexOf("."))}.0/24`;
  if (isIPv6(host)) return `${expandIPv6(host).slice(0, 4).join(":")}::/64`;
  return host; // not an IP literal (tests): its own network
}

function expandIPv6(host: string): string[] {
  const [head = "", tail] = host.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...zeros, ...t].map((g) => g.replace(/^0+(?=.)/, ""));
}

/** One handshake holding a slot. */
export interface HandshakeSlot {
  readonly host: string;
  readonly network: string;
  readonly preferred: boolean;
  readonly started: number;
  /** Why the slot was taken for another handshake; null while it holds it. */
  evictedBecause: string | null;
}

export type Admission =
  | { readonly slot: HandshakeSlot; readonly evicted: HandshakeSlot | null }
  | { readonly refused: string };

export class HandshakeSlots {
  private readonly shares: HandshakeShares;
  /** Oldest first (insertion order). */
  private readonly slots = new Set<HandshakeSlot>();
  private readonly byAddress = new Map<string, number>();
  private readonly byNetwork = new Map<string, Set<HandshakeSlot>>();
  private ordinary = 0;
  /** Slots taken from a handshake for a newcomer, since start. */
  evictions = 0;

  constructor(
    readonly max: number,
    private readonly now: () => number = Date.now,
    shares?: HandshakeShares,
  ) {
    this.shares = shares ?? handshakeShares(max);
  }

  get inUse(): number {
    return this.slots.size;
  }

  /**
   * Gives `host` a slot, evicting another handshake if the shares say so
   * (the caller closes the evicted one's socket), or says why not.
   */
  admit(host: string, preferred: boolean): Admission {
    const network = networkOf(host);
    const fromAddress = this.byAddress.get(host) ?? 0;
    const fromNetwork = this.byNetwork.get(network)?.size ?? 0;
    if (!preferred) {
      if (fromAddress >= this.shares.perAddress) return { refused: `${fromAddress} handshakes from ${host} already in progress (at most ${this.shares.perAddress} per address)` };
      if (fromNetwork >= this.shares.perNetwork) return { refused: `${fromNetwork} handshakes from ${network} already in progress (at most ${this.shares.perNetwork} per network)` };
    }
    let evicted: HandshakeSlot | null = null;
    const full = this.slots.size >= this.max || (!preferred && this.ordinary >= this.max - this.shares.reserved);
    if (full) {
      const victim = this.victim(fromNetwork, preferred);
      if (victim === null) return { refused: `all ${this.max} handshake slots are in use (${this.shares.reserved} kept for persistent peers and known-good addresses), none stalled` };
      this.release(victim.slot);
      victim.slot.evictedBecause = victim.why;
      evicted = victim.slot;
      this.evictions++;
    }
    const slot: HandshakeSlot = { host, network, preferred, started: this.now(), evictedBecause: null };
    this.slots.add(slot);
    this.byAddress.set(host, fromAddress + 1);
    let set = this.byNetwork.get(network);
    if (set === undefined) this.byNetwork.set(network, (set = new Set()));
    set.add(slot);
    if (!preferred) this.ordinary++;
    return { slot, evicted };
  }

  /** Frees a slot; a slot released twice (evicted, then its handshake ended) is freed once. */
  release(slot: HandshakeSlot): void {
    if (!this.slots.delete(slot)) return;
    const n = (this.byAddress.get(slot.host) as number) - 1; // present: the slot was held
    if (n === 0) this.byAddress.delete(slot.host);
    else this.byAddress.set(slot.host, n);
    const set = this.byNetwork.get(slot.network);
    set?.delete(slot);
    if (set?.size === 0) this.byNetwork.delete(slot.network);
    if (!slot.preferred) this.ordinary--;
  }

  /** The ordinary handshake to evict for a newcomer whose network holds `fromNetwork` slots, or null. */
  private victim(fromNetwork: number, preferred: boolean): { slot: HandshakeSlot; why: string } | null {
    // The network holding the most ordinary slots, and its oldest handshake.
    let largest: HandshakeSlot | null = null;
    let largestCount = 0;
    for (const set of this.byNetwork.values()) {
      let count = 0;
      let oldest: HandshakeSlot | null = null;
      for (const s of set) {
        if (s.preferred) continue;
        count++;
        oldest ??= s;
      }
      if (count > largestCount) {
        largestCount = count;
        largest = oldest;
      }
    }
    if (largest !== null && largestCount >= fromNetwork + 2) {
      return { slot: largest, why: `its network ${largest.network} held ${largestCount} handshake slots, the most` };
    }
    let oldest: HandshakeSlot | null = null;
    for (const s of this.slots) {
      if (!s.preferred) {
        oldest = s;
        break;
      }
    }
    if (oldest === null) return null;
    const age = this.now() - oldest.started;
    if (preferred) return { slot: oldest, why: "a persistent or known-good peer needed its slot" };
    if (age >= STALLED_HANDSHAKE_MS) return { slot: oldest, why: `it had run for ${age} ms (stalled) while every slot was in use` };
    return null;
  }
}
