/**
 * A CometBFT v0.38 chain whose validators run partly on Switchboard, through `cometbft-switchboard`.
 *
 * `cometbft testnet --v 4 --n 1` (equal power, kvstore, ~500 ms blocks), on 127.0.0.1:
 *
 *   node0, node1   plain `cometbft start` (validators)
 *   node2, node3   Switchboard node + `cometbft-switchboard start` on the CometBFT home (validators)
 *   node4          Switchboard node + `cometbft-switchboard start` (full node, non-validator), started after height 50
 *
 *   cometbft ◀──p2p──▶ Switchboard ◀──gRPC── cometbft-switchboard (consensus, mempool, blocksync, evidence, statesync)
 *
 * Checks, with real processes only:
 * 1. Blocks are produced and the commits carry the hosted validators' signatures; 100 kvstore txs sent round-robin
 *    to the four validators' RPCs are all committed; with plain validator 1 stopped the chain still commits (3 of 4
 *    power, so both hosted validators sign every one of those commits); validator 1 restarted catches up.
 * 2. The late joiner blocksyncs from height 1 to the tip through the gateway, switches to consensus and follows.
 * 3. Every hosted reactor's trace (`--switchboard.trace`, one line per call the host made on the reactor) is a
 *    complete word of the reactor grammar (server/test/support/reactor-trace.ts), after a graceful stop (exit 0).
 *
 * Needs: `bash scripts/install-cometbft.sh` (or COMETBFT_BIN), `bash scripts/install-cometbft-switchboard.sh` (or
 * COMETBFT_SWITCHBOARD_BIN) and `npm run build`. Logs and traces: .cache/interop-logs/mixed-*. Takes ~75 s.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkReactorTrace, formatTraceViolation, type ReactorEvent } from "../support/reactor-trace.js";
import { txHashHex } from "./support/cometbft-node.js";
import {
  HOSTED_REACTORS,
  readTraceFile,
  sleep,
  Testnet,
  type TestnetNode,
  type TraceLine,
} from "./support/testnet.js";

const PLAIN_VALIDATORS = [0, 1] as const;
const HOSTED_VALIDATORS = [2, 3] as const;
const LATE_JOINER = 4;
const TXS = 100;
/** The late joiner starts once the chain is past this height. */
const LATE_JOIN_HEIGHT = 50;
/** CometBFT's BlockIDFlag: the validator's precommit for the block is in the commit. */
const FLAG_COMMIT = 2;
/** The channels each reactor of CometBFT v0.38 registers (GetChannels). */
const EXPECTED_CHANNELS: Readonly<Record<(typeof HOSTED_REACTORS)[number], readonly number[]>> = {
  CONSENSUS: [0x20, 0x21, 0x22, 0x23],
  MEMPOOL: [0x30],
  BLOCKSYNC: [0x40],
  EVIDENCE: [0x38],
  STATESYNC: [0x60, 0x61],
};

/** Maps the trace lines of one reactor to the checker's events. */
function toReactorEvents(lines: readonly TraceLine[]): ReactorEvent[] {
  return lines.map((l): ReactorEvent => {
    switch (l.kind) {
      case "GetChannels":
        return l.channelIds === undefined ? { kind: "GetChannels" } : { kind: "GetChannels", channelIds: l.channelIds };
      case "SetSwitch":
      case "OnStart":
      case "OnStop":
        return { kind: l.kind };
      case "InitPeer":
      case "AddPeer":
      case "RemovePeer":
        return { kind: l.kind, peerId: String(l.peerId), connection: String(l.connection) };
      case "Receive":
        return { kind: "Receive", peerId: String(l.peerId), connection: String(l.connection), channelId: Number(l.channelId) };
      default:
        throw new Error(`unknown trace kind ${JSON.stringify(l.kind)} in ${JSON.stringify(l)}`);
    }
  });
}

/** Signers (block_id_flag 2) of the commit for `height`, as read from `node`'s RPC. */
async function signersAt(node: TestnetNode, height: number): Promise<Set<string>> {
  const commit = await node.rpc.commit(height);
  return new Set(
    commit.signed_header.commit.signatures
      .filter((s) => s.block_id_flag === FLAG_COMMIT)
      .map((s) => s.validator_address.toUpperCase()),
  );
}

describe("mixed validators: plain CometBFT and CometBFT hosted on Switchboard, on one chain", () => {
  let net: Testnet | undefined;
  const n = (i: number): TestnetNode => net!.node(i);
  const txs: string[] = [];
  /** node0's height when the late joiner started. */
  let lateJoinTip = 0;

  /** The first step that failed: the steps after it build on it, so they are skipped (the trace check still runs). */
  let failed: string | undefined;
  /** Runs a step; on failure prints every process's log tail. */
  const diagnosed =
    (name: string, body: () => Promise<void>) =>
    async (): Promise<void> => {
      try {
        await body();
      } catch (err) {
        failed ??= name;
        if (net !== undefined) console.error(`[mixed-validators] ${name} failed; log tails:\n${net.logTails(30)}`);
        throw err;
      }
    };
  const step = (title: string, body: () => Promise<void>, timeoutMs: number, opts: { evenAfterFailure?: boolean } = {}): void => {
    it(
      title,
      async ({ skip }) => {
        if (failed !== undefined && opts.evenAfterFailure !== true) skip(`an earlier step failed: ${failed}`);
        await diagnosed(title, body)();
      },
      timeoutMs,
    );
  };

  beforeAll(
    diagnosed("starting the testnet", async () => {
      const started = Date.now();
      net = await Testnet.create({
        validators: 4,
        nonValidators: 1,
        hosted: [...HOSTED_VALIDATORS, LATE_JOINER],
        logPrefix: "mixed",
        configOverrides: { "consensus.timeout_propose": "2s" },
      });
      // The hosted ones first: their Switchboard nodes wait for the five reactors before they start the Switch.
      for (const i of HOSTED_VALIDATORS) await net.start(i);
      for (const i of PLAIN_VALIDATORS) await net.start(i);
      await Promise.all([...PLAIN_VALIDATORS, ...HOSTED_VALIDATORS].map((i) => net!.waitForHeight(i, 2, 90_000)));
      console.log(
        `[mixed-validators] chain ${net.chainId} up in ${Date.now() - started} ms: ` +
          net.nodes
            .filter((x) => x.runs.length > 0)
            .map((x) => `${x.name}=${x.kind} p2p:${x.p2pPort} rpc:${x.rpcPort}`)
            .join(", "),
      );
    }),
    150_000,
  );

  afterAll(async () => {
    await net?.cleanup();
  }, 90_000);

  step(
    "produces blocks whose commits carry the hosted validators' signatures",
    async () => {
      const net0 = n(0);
      const vals = await net0.rpc.validators();
      expect(vals.validators.map((v) => v.address).sort()).toEqual(net!.validators.map((v) => v.validatorAddress).sort());
      expect(new Set(vals.validators.map((v) => v.voting_power))).toEqual(new Set(["1"]));

      const tip = await net!.waitForHeight(0, 8, 60_000);
      // Every validator's RPC answers for the same chain and node, and is in consensus.
      for (const i of [...PLAIN_VALIDATORS, ...HOSTED_VALIDATORS]) {
        const status = await n(i).rpc.status();
        expect(status.node_info.network).toBe(net!.chainId);
        expect(status.node_info.id).toBe(n(i).nodeId);
        expect(status.sync_info.catching_up).toBe(false);
        expect(status.validator_info.address.toUpperCase()).toBe(n(i).validatorAddress);
      }
      // The hosted nodes see their peers through the gateway (CometBFT's own /net_info).
      for (const i of HOSTED_VALIDATORS) {
        const peers = await net!.waitFor(`${n(i).name} to report 3 peers in /net_info`, 20_000, async () => {
          const info = await n(i).rpc.netInfo();
          return info.peers.length >= 3 ? info.peers : undefined;
        });
        expect(new Set(peers.map((p) => p.node_info.id))).toEqual(
          new Set(net!.validators.filter((v) => v.index !== i).map((v) => v.nodeId)),
        );
      }

      // A plain validator sees each hosted one as the Switchboard node: its address, the host's moniker, and the
      // channels of the five hosted reactors.
      const seen = await net!.waitFor("node0 to report 3 peers in /net_info", 20_000, async () => {
        const info = await net0.rpc.netInfo();
        return info.peers.length >= 3 ? info.peers : undefined;
      });
      for (const i of HOSTED_VALIDATORS) {
        const peer = seen.find((p) => p.node_info.id === n(i).nodeId);
        expect(peer, `${n(i).name} in node0's /net_info`).toBeDefined();
        expect(peer!.node_info.listen_addr).toMatch(new RegExp(`:${n(i).p2pPort}$`));
        expect(peer!.node_info.network).toBe(net!.chainId);
        const channels = new Set(Buffer.from(peer!.node_info.channels, "hex"));
        for (const ch of Object.values(EXPECTED_CHANNELS).flat()) expect(channels.has(ch), `channel ${ch} of ${n(i).name}`).toBe(true);
      }

      const signed = new Map<string, number>(net!.validators.map((v) => [v.validatorAddress, 0]));
      const heights = Array.from({ length: tip - 2 }, (_, k) => k + 2); // commits of heights 2..tip-1
      for (const h of heights) {
        const signers = await signersAt(net0, h);
        expect(signers.size, `signers of height ${h}`).toBeGreaterThanOrEqual(3);
        for (const a of signers) signed.set(a, (signed.get(a) ?? 0) + 1);
      }
      console.log(
        `[mixed-validators] commits of heights 2..${tip - 1}, signatures per validator: ` +
          net!.validators.map((v) => `${v.name}(${v.kind})=${signed.get(v.validatorAddress)}`).join(" "),
      );
      for (const i of HOSTED_VALIDATORS) {
        expect(signed.get(n(i).validatorAddress), `${n(i).name}'s signatures`).toBeGreaterThanOrEqual(Math.ceil(heights.length / 2));
      }
      // The last commit of a block names the same signers (checked on a hosted node's RPC).
      const block = await n(2).rpc.block(tip);
      const lastCommit = block.block.last_commit!.signatures.filter((s) => s.block_id_flag === FLAG_COMMIT).map((s) => s.validator_address);
      expect(new Set(lastCommit)).toEqual(await signersAt(net0, tip - 1));
    },
    90_000,
  );

  step(
    `commits all of ${TXS} kvstore txs sent round-robin to the four validators' RPCs`,
    async () => {
      const tag = randomBytes(4).toString("hex");
      const targets = [...PLAIN_VALIDATORS, ...HOSTED_VALIDATORS].map((i) => n(i));
      for (let k = 0; k < TXS; k++) txs.push(`k${k}-${tag}=v${k}`);
      const started = Date.now();
      // Four in flight at once, one per RPC.
      await Promise.all(
        targets.map(async (node, t) => {
          for (let k = t; k < TXS; k += targets.length) {
            const res = await node.rpc.broadcastTxSync(txs[k]!);
            expect(res.code, `CheckTx of tx ${k} on ${node.name}: ${res.log}`).toBe(0);
            expect(res.hash).toBe(txHashHex(txs[k]!));
          }
        }),
      );
      const heights = new Map<string, number>();
      await net!.waitFor(`all ${TXS} txs committed`, 60_000, async () => {
        for (const tx of txs) {
          if (heights.has(tx)) continue;
          const res = await n(0).rpc.tx(txHashHex(tx));
          if (res === undefined) return false;
          expect(res.tx_result.code).toBe(0);
          expect(Buffer.from(res.tx, "base64").toString("utf8")).toBe(tx);
          heights.set(tx, Number(res.height));
        }
        return true;
      });
      // A hosted node indexed them too.
      for (const tx of txs) expect((await n(3).rpc.tx(txHashHex(tx)))?.height).toBe(String(heights.get(tx)));
      const blocks = new Set(heights.values());
      console.log(
        `[mixed-validators] ${TXS} txs committed in ${Date.now() - started} ms, in ${blocks.size} blocks ` +
          `(heights ${Math.min(...blocks)}..${Math.max(...blocks)})`,
      );
    },
    90_000,
  );

  step(
    "keeps committing with plain validator 1 stopped (both hosted validators sign), and validator 1 catches up",
    async () => {
      const v1 = n(1);
      const stoppedAt = await n(0).rpc.latestHeight();
      await net!.stop(1);
      const downFrom = (await n(0).rpc.latestHeight()) + 2;
      const tip = await net!.waitForHeight(0, downFrom + 6, 90_000);
      const needed = new Set(
        [0, ...HOSTED_VALIDATORS].map((i) => n(i).validatorAddress),
      );
      for (let h = downFrom; h < tip; h++) {
        const signers = await signersAt(n(0), h);
        expect(signers.has(v1.validatorAddress), `validator 1 signed height ${h} while stopped`).toBe(false);
        expect(signers, `signers of height ${h}`).toEqual(needed);
      }
      console.log(
        `[mixed-validators] validator 1 stopped at height ${stoppedAt}; heights ${downFrom}..${tip - 1} committed by ` +
          `node0, node2, node3 alone`,
      );

      await net!.start(1);
      const target = await n(0).rpc.latestHeight();
      await net!.waitFor(`validator 1 to catch up to height ${target}`, 90_000, async () => {
        const status = await v1.rpc.status();
        return !status.sync_info.catching_up && Number(status.sync_info.latest_block_height) >= target;
      });
      const h = target - 1;
      expect((await v1.rpc.block(h)).block_id.hash).toBe((await n(2).rpc.block(h)).block_id.hash);
      // Back in consensus: it signs again.
      const back = (await n(0).rpc.latestHeight()) + 1;
      await net!.waitFor("validator 1 to sign a commit again", 60_000, async () => {
        const now = await n(0).rpc.latestHeight();
        for (let x = back; x < now; x++) if ((await signersAt(n(0), x)).has(v1.validatorAddress)) return true;
        return false;
      });
    },
    180_000,
  );

  step(
    `a late full node on Switchboard blocksyncs from height 1 past ${LATE_JOIN_HEIGHT}, then follows in consensus`,
    async () => {
      const late = n(LATE_JOINER);
      await net!.waitForHeight(0, LATE_JOIN_HEIGHT + 1, 120_000);
      lateJoinTip = await n(0).rpc.latestHeight();
      const started = Date.now();
      await net!.start(LATE_JOINER);
      const first = await net!.waitFor(`${late.name}'s RPC`, 60_000, () => late.rpc.status(), 100);
      const synced = await net!.waitFor(`${late.name} to blocksync to ${lateJoinTip} and switch to consensus`, 120_000, async () => {
        const s = await late.rpc.status();
        return !s.sync_info.catching_up && Number(s.sync_info.latest_block_height) >= lateJoinTip ? s : undefined;
      });
      // CometBFT's own blocksync reactor says when it hands over to consensus (blocks below that height came by
      // blocksync, through the gateway).
      const switchedAt = await net!.waitFor(
        `"Time to switch to consensus reactor!" in ${late.cometbft!.logPath}`,
        10_000,
        () => /Time to switch to consensus reactor!.*?height\W+(\d+)/.exec(readFileSync(late.cometbft!.logPath, "utf8"))?.[1],
      );
      console.log(
        `[mixed-validators] late joiner: chain at ${lateJoinTip} when started; first /status height ` +
          `${first.sync_info.latest_block_height} catching_up=${first.sync_info.catching_up}; blocksync handed over ` +
          `to consensus at height ${switchedAt}; caught up at ${synced.sync_info.latest_block_height} after ` +
          `${Date.now() - started} ms`,
      );
      expect(Number(switchedAt)).toBeGreaterThanOrEqual(lateJoinTip);
      expect(synced.node_info.id).toBe(late.nodeId);
      expect(synced.validator_info.voting_power).toBe("0");
      expect(synced.sync_info.earliest_block_height).toBe("1");
      // The same blocks as the validators', from height 1.
      const mine = await late.rpc.blockHashes(1, lateJoinTip);
      const theirs = await n(0).rpc.blockHashes(1, lateJoinTip);
      expect(mine.size).toBe(lateJoinTip);
      expect(mine).toEqual(theirs);
      // It executed them: the txs are indexed.
      for (const tx of txs) expect(await late.rpc.tx(txHashHex(tx)), `tx ${tx} on ${late.name}`).toBeDefined();

      // Follows new blocks in step with the validators.
      const v = await n(0).rpc.latestHeight();
      await net!.waitForHeight(LATE_JOINER, v + 5, 60_000);
      let maxLag = 0;
      for (let k = 0; k < 8; k++) {
        const [h0, h4] = await Promise.all([n(0).rpc.latestHeight(), late.rpc.latestHeight()]);
        maxLag = Math.max(maxLag, Math.abs(h0 - h4));
        await sleep(500);
      }
      console.log(`[mixed-validators] late joiner follows: max height difference to node0 over 4 s = ${maxLag}`);
      expect(maxLag).toBeLessThanOrEqual(2);
      const s = await late.rpc.status();
      expect(s.sync_info.catching_up).toBe(false);
      const h = Number(s.sync_info.latest_block_height) - 1;
      expect((await late.rpc.block(h)).block_id.hash).toBe((await n(0).rpc.block(h)).block_id.hash);
    },
    240_000,
  );

  step(
    "every hosted reactor's trace is a complete word of the reactor grammar after a graceful stop",
    async () => {
      expect(net!.nodes.filter((x) => x.kind === "hosted").map((x) => x.index)).toEqual([...HOSTED_VALIDATORS, LATE_JOINER]);
      // The hosted nodes that ran (all of them, unless an earlier step failed before the late joiner started). After
      // such a failure only the grammar is checked: the connections the scenario makes did not all happen.
      const hosted = net!.nodes.filter((x) => x.kind === "hosted" && x.cometbft !== undefined);
      const fullRun = failed === undefined;
      // The hosts first (flushing their traces), then their Switchboard nodes.
      const hostExits = await Promise.all(hosted.map((x) => x.cometbft!.stop({ timeoutMs: 30_000 })));
      hostExits.forEach((exit, k) => expect(exit, `${hosted[k]!.name}/cometbft-switchboard exit`).toEqual({ code: 0, signal: null }));
      const sbExits = await Promise.all(hosted.map((x) => x.switchboard!.stop({ timeoutMs: 30_000 })));
      sbExits.forEach((exit, k) => expect(exit, `${hosted[k]!.name}/switchboard exit`).toEqual({ code: 0, signal: null }));

      const summary: string[] = [];
      for (const node of hosted) {
        const lines = await readTraceFile(node.tracePath!);
        const byReactor = new Map<string, TraceLine[]>();
        for (const l of lines) {
          const list = byReactor.get(l.reactor) ?? [];
          list.push(l);
          byReactor.set(l.reactor, list);
        }
        expect([...byReactor.keys()].sort(), `reactors in ${node.tracePath}`).toEqual([...HOSTED_REACTORS].sort());
        const parts: string[] = [];
        for (const reactor of HOSTED_REACTORS) {
          const events = toReactorEvents(byReactor.get(reactor)!);
          const verdict = checkReactorTrace(events);
          if (!verdict.ok) {
            throw new Error(`${node.name} ${reactor} (${node.tracePath}): ${formatTraceViolation(events, verdict)}`);
          }
          const first = events[0];
          expect(first?.kind === "GetChannels" ? [...(first.channelIds ?? [])].sort((a, b) => a - b) : undefined, `${node.name} ${reactor} channels`).toEqual(
            EXPECTED_CHANNELS[reactor],
          );
          const receives = events.filter((e) => e.kind === "Receive");
          const inits = events.filter((e) => e.kind === "InitPeer");
          const peers = new Set(inits.map((e) => e.peerId));
          parts.push(`${reactor}=${events.length} (${inits.length} conns/${peers.size} peers, ${receives.length} receives)`);

          if (reactor === "CONSENSUS") {
            expect(receives.length, `${node.name} CONSENSUS receives`).toBeGreaterThan(0);
            expect(peers.size, `${node.name} CONSENSUS peers`).toBeGreaterThanOrEqual(3);
            if (fullRun && node.validator) {
              // Every other node connected to it, and validator 1's restart is a new connection.
              const others = net!.nodes.filter((x) => x.index !== node.index).map((x) => x.nodeId);
              expect([...peers].sort(), `${node.name} CONSENSUS peers`).toEqual([...others].sort());
              const v1Conns = inits.filter((e) => e.peerId === n(1).nodeId).length;
              expect(v1Conns, `${node.name}: connections of validator 1 (stopped and restarted)`).toBeGreaterThanOrEqual(2);
            }
          }
          if (fullRun && reactor === "MEMPOOL" && node.validator) {
            // The txs sent to the other validators' RPCs were gossiped to it through the gateway.
            expect(receives.filter((e) => e.channelId === 0x30).length, `${node.name} MEMPOOL receives`).toBeGreaterThan(0);
          }
          if (fullRun && reactor === "BLOCKSYNC" && node.index === LATE_JOINER) {
            // Its blocks 1..lateJoinTip came through the gateway: one BlockResponse each, on 0x40.
            const onChannel = receives.filter((e) => e.channelId === 0x40).length;
            expect(onChannel, `${node.name} BLOCKSYNC receives`).toBeGreaterThanOrEqual(lateJoinTip - 2);
          }
        }
        summary.push(`  ${node.name} (${lines.length} events): ${parts.join(", ")}`);
      }
      console.log(`[mixed-validators] reactor traces (all complete words):\n${summary.join("\n")}`);
      if (fullRun) expect(hosted.map((x) => x.index), "hosted nodes that ran").toEqual([...HOSTED_VALIDATORS, LATE_JOINER]);
    },
    120_000,
    { evenAfterFailure: true },
  );
});
