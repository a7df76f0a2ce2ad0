/**
 * Defaults of the PEX reactor and its address book, in one place, with units
 * and the reason for each value. They follow CometBFT v0.38
 * (`p2p/pex/params.go`, `p2p/pex/pex_reactor.go`, `config.DefaultP2PConfig`);
 * values that CometBFT leaves unbounded carry our own bound and say so.
 */

/**
 * Seed dials back off while they bring nothing: after each ensure-peers
 * period that dialed the seeds (the book had nothing to dial) and before a
 * seed's answer adds an address, the number of periods skipped before the
 * next seed dial doubles (0, 1, 2, 4, …), up to this many (8 periods of
 * 30 s: a seed that knows nobody new is dialed every 4.5 min instead of
 * every 30 s; CometBFT dials it every period).
 */
export const MAX_SEED_DIAL_SKIPPED_PERIODS = 8;

/** The PEX channel on the wire. */
export const PEX_CHANNEL_ID = 0x00;
/** Scheduler priority of the PEX channel, as CometBFT registers it. */
export const PEX_CHANNEL_PRIORITY = 1;
/** PEX messages queued for sending per peer before `send` waits. */
export const PEX_SEND_QUEUE_CAPACITY = 10;
/** Upper estimate of one encoded address (`maxAddressSize`). */
export const MAX_ADDRESS_SIZE_BYTES = 256;
/** Addresses in one reply, at most (`maxGetSelection`). */
export const MAX_GET_SELECTION = 250;
/** Largest PEX message accepted: room for a full selection (64000; CometBFT's `maxMsgSize`). */
export const PEX_RECV_MESSAGE_CAPACITY_BYTES = MAX_ADDRESS_SIZE_BYTES * MAX_GET_SELECTION;

/** Addresses in a reply when the book is small (`minGetSelection`). */
export const MIN_GET_SELECTION = 32;
/** Share of the book in a reply, in percent (`getSelectionPercent`). */
export const GET_SELECTION_PERCENT = 23;

/** Number of "new" buckets (untried or unproven addresses). */
export const NEW_BUCKET_COUNT = 256;
/** Addresses per "new" bucket. A full bucket evicts one entry to make room. */
export const NEW_BUCKET_SIZE = 64;
/** Number of "old" buckets (addresses that proved good). */
export const OLD_BUCKET_COUNT = 64;
/** Addresses per "old" bucket. A full bucket demotes its oldest entry to a new bucket. */
export const OLD_BUCKET_SIZE = 64;
/** New buckets one source group can reach, so one source cannot flood the book. */
export const NEW_BUCKETS_PER_GROUP = 32;
/** Old buckets one address group can reach. */
export const OLD_BUCKETS_PER_GROUP = 4;
/** New buckets one address may sit in at the same time. */
export const MAX_NEW_BUCKETS_PER_ADDRESS = 4;
/** Most addresses the book can hold: every bucket full. */
export const MAX_BOOK_ENTRIES = NEW_BUCKET_COUNT * NEW_BUCKET_SIZE + OLD_BUCKET_COUNT * OLD_BUCKET_SIZE;

/** Below this many addresses the book asks peers for more (`needAddressThreshold`). */
export const DEFAULT_NEED_ADDRESS_THRESHOLD = 1000;
/** How often the book is written to disk (`dumpAddressInterval`, 2 min). It is also written on stop. */
export const DEFAULT_ADDRBOOK_SAVE_INTERVAL_MS = 2 * 60_000;
/** Where the book lives, relative to the node's home (`addr_book_file`). */
export const DEFAULT_ADDRBOOK_FILE = "config/addrbook.json";
/** `addr_book_strict`: drop private and local addresses. Turn off for local testnets. */
export const DEFAULT_ADDRBOOK_STRICT = true;
/**
 * Largest address book file we read. A full book of 20480 entries is about
 * 10 MB of JSON; a bigger file is reported as corrupt instead of being parsed.
 */
export const MAX_ADDRBOOK_FILE_BYTES = 32 * 1024 * 1024;
/**
 * Banned addresses remembered at once. CometBFT does not bound its ban list;
 * we do, and when it is full the ban that ends soonest is forgotten first.
 */
export const DEFAULT_MAX_BANNED = 4096;
/** Addresses recorded as our own (CometBFT: unbounded). Past this, new ones are not recorded. */
export const MAX_OUR_ADDRESSES = 256;

/** How long `markBad` bans an address unless told otherwise (`defaultBanTime`, 24 h). */
export const DEFAULT_BAN_MS = 24 * 60 * 60_000;
/** A new address tried within this window is never judged bad. */
export const BAD_RECENT_ATTEMPT_MS = 60_000;
/** A new address not tried for this long is bad (`numMissingDays`, 7 days). */
export const BAD_MISSING_MS = 7 * 24 * 60 * 60_000;
/** A new address that never connected is bad after this many attempts (`numRetries`). */
export const BAD_NUM_RETRIES = 3;
/** A new address is bad after this many failures ... (`maxFailures`) */
export const BAD_MAX_FAILURES = 10;
/** ... without a success in this long (`minBadDays`, 7 days). */
export const BAD_MIN_SUCCESS_AGE_MS = 7 * 24 * 60 * 60_000;

/** Period of the ensure-peers routine (`defaultEnsurePeersPeriod`, 30 s). */
export const DEFAULT_ENSURE_PEERS_PERIOD_MS = 30_000;
/**
 * From a peer's third PexRequest on, requests must be at least
 * `ensurePeersPeriodMs / REQUEST_INTERVAL_DIVISOR` apart (10 s by default);
 * a Go node applies the same rule to us, so we never ask more often.
 */
export const REQUEST_INTERVAL_DIVISOR = 3;
/**
 * We never send a peer its third (or later) PexRequest sooner than this after
 * the previous one: a Go peer with default settings bans for anything under
 * 10 s, and 1 s more absorbs network jitter. Matters only with a short
 * `ensurePeersPeriodMs`; the default period spaces requests 30 s apart.
 */
export const PEER_MIN_REQUEST_INTERVAL_MS = 11_000;
/** `max_num_outbound_peers`; ensure-peers dials up to this many outbound peers (the Switch's default). */
export { DEFAULT_MAX_NUM_OUTBOUND_PEERS } from "../defaults.js";
/** After this many failed dials, a non-persistent address is banned (`maxAttemptsToDial`). */
export const MAX_ATTEMPTS_TO_DIAL = 16;
/** Random extra delay added to each dial backoff, at most (1 s). */
export const DIAL_BACKOFF_JITTER_MS = 1_000;
/** `persistent_peers_max_dial_period`: caps the backoff of persistent peers; 0 = no cap. */
export const DEFAULT_PERSISTENT_PEERS_MAX_DIAL_PERIOD_MS = 0;
/**
 * Dial-attempt records kept for backoff (CometBFT: unbounded). Every dialed
 * address comes from the book, so the book's capacity is enough; past it the
 * record dialed longest ago is forgotten.
 */
export const MAX_DIAL_ATTEMPT_RECORDS = MAX_BOOK_ENTRIES;
/** PEX bias towards new addresses used by a seed's replies (`biasToSelectNewPeers`). */
export const SEED_SELECTION_BIAS_PERCENT = 30;

// ---- Seed (crawler) mode (`seed_mode`)

/** `seed_mode`: crawl the network and answer requests once instead of keeping peers. */
export const DEFAULT_SEED_MODE = false;
/** How often a seed crawls and disconnects old peers (`crawlPeerPeriod`, 30 s). */
export const DEFAULT_CRAWL_PEER_PERIOD_MS = 30_000;
/** A seed dials one address at most this often (`minTimeBetweenCrawls`, 2 min). */
export const DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS = 2 * 60_000;
/**
 * A seed disconnects a (non-persistent) peer once connected this long
 * (`SeedDisconnectWaitPeriod`, set to 28 h by CometBFT's node setup): long
 * enough for a peer to be marked good before the seed lets it go, so that
 * it advertises proven peers.
 */
export const DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS = 28 * 60 * 60_000;
/** A crawl record not refreshed for this long is forgotten (CometBFT's `cleanupCrawlPeerInfos`, 24 h). */
export const CRAWL_RECORD_MAX_AGE_MS = 24 * 60 * 60_000;
/**
 * Crawl records (node ID → last crawl) kept at once (CometBFT: bounded only
 * by the 24 h clean-up). Every crawled address comes from the book, so its
 * capacity is enough; past it the record crawled longest ago is forgotten
 * (that address may then be crawled again sooner than 2 min).
 */
export const MAX_CRAWL_RECORDS = MAX_BOOK_ENTRIES;
