/**
 * Metrics of the PEX reactor and its address book: the sizes of their
 * bounded maps (server/docs/LIMITS.md, "PEX"). Read at scrape time.
 */
import { Gauge } from "prom-client";
import type { MetricsExtension } from "./metrics.js";

/** What the PEX metrics read; a `PexReactor` with its `AddressBook` provides it. */
export interface PexMetricsSource {
  /** Addresses in the book (bounded by its capacity). */
  readonly bookSize: number;
  /** Failed-dial records kept for backoff (bounded by the book's capacity). */
  readonly dialAttemptRecords: number;
  /** A seed's crawl records (0 when not a seed; bounded). */
  readonly crawlRecords: number;
}

export function pexMetrics(source: () => PexMetricsSource): MetricsExtension {
  return (registry, ns) => {
    const registers = [registry];
    new Gauge({
      name: `${ns}_p2p_address_book_size`,
      help: "Addresses in the address book (bounded by its capacity).",
      registers,
      collect() {
        this.set(source().bookSize);
      },
    });
    new Gauge({
      name: `${ns}_p2p_pex_dial_attempt_records`,
      help: "Addresses whose failed dials PEX remembers for backoff (bounded; the one dialed longest ago is forgotten).",
      registers,
      collect() {
        this.set(source().dialAttemptRecords);
      },
    });
    new Gauge({
      name: `${ns}_p2p_pex_crawl_records`,
      help: "Addresses a seed remembers crawling (bounded; the one crawled longest ago is forgotten; 0 when not a seed).",
      registers,
      collect() {
        this.set(source().crawlRecords);
      },
    });
  };
}
