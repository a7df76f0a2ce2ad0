/**
 * The handshake with the NodeInfo exchange as its last step (one state
 * machine on the raw socket): against a second such machine, and against a
 * scripted raw peer that does each step itself.
 */
import { describe, expect, it } from "vitest";
import { generateEd25519Key, nodeIdFromPublicKey } from "../../src/wire/crypto/ed25519.js";
import { DeadlineExceededError, DecodeError, MessageTooLargeError, UnexpectedEofError } from "../../src/wire/errors.js";
import { NodeInfoHandshake } from "../../src/wire/node-info-exchange.js";
import { BLOCK_PROTOCOL_VERSION, type NodeInfo, P2P_PROTOCOL_VERSION, decodeNodeInfo, encodeNodeInfoDelimited } from "../../src/wire/node-info.js";
import { createDuplexPair } from "../support/duplex-pair.js";
import { RawPeer } from "./secret-connection/raw-peer.js";
import { createTcpPair, hex } from "./secret-connection/support.js";

function nodeInfo(nodeId: string, moniker: string): NodeInfo {
  return {
    protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0n },
    nodeId,
    listenAddr: "tcp://127.0.0.1:26656",
    network: "test-chain",
    version: "test",
    channels: [0x40],
    moniker,
    other: { txIndex: "off", rpcAddress: "" },
  };
}

const TIMEOUTS = { handshakeTimeoutMs: 2000, nodeInfoTimeoutMs: 2000 };

describe("NodeInfoHandshake", () => {
  it("two machines authenticate each other and swap NodeInfos, over a duplex pair and over TCP", async () => {
    for (const open of [
      () => {
        const [a, b] = createDuplexPair();
        return Promise.resolve({ a, b, close: () => Promise.resolve() });
      },
      async () => {
        const tcp = await createTcpPair();
        return { a: tcp.client, b: tcp.server, close: tcp.close };
      },
    ]) {
      const { a, b, close } = await open();
      const ka = generateEd25519Key();
      const kb = generateEd25519Key();
      const ia = nodeInfo(nodeIdFromPublicKey(ka.publicKey), "a");
      const ib = nodeInfo(nodeIdFromPublicKey(kb.publicKey), "b");
      const ha = new NodeInfoHandshake(a, ka, ia, TIMEOUTS);
      const hb = new NodeInfoHandshake(b, kb, ib, TIMEOUTS);
      const [ra, rb] = await Promise.all([ha.result, hb.result]);
      expect(ra.nodeInfo).toEqual(ib);
      expect(rb.nodeInfo).toEqual(ia);
      expect(ha.authenticatedId).toBe(ib.nodeId);
      expect(ra.conn.remoteNodeId).toBe(ib.nodeId);
      // The sessions go on after the handshake's frames.
      const got = new Promise<string>((resolve) => rb.conn.once("data", (d: Buffer) => resolve(d.toString())));
      ra.conn.write("after NodeInfo");
      expect(await got).toBe("after NodeInfo");
      ra.conn.destroy();
      rb.conn.destroy();
      await close();
    }
  });

  it("sends its NodeInfo only once the remote is authenticated, and keeps bytes sent behind the remote's NodeInfo", async () => {
    const [ours, theirs] = createDuplexPair();
    const key = generateEd25519Key();
    const mine = nodeInfo(nodeIdFromPublicKey(key.publicKey), "ours");
    const peer = new RawPeer(theirs);
    const theirInfo = nodeInfo(nodeIdFromPublicKey(peer.identity.publicKey), "theirs");
    const seen: string[] = [];
    const handshake = new NodeInfoHandshake(ours, key, mine, { ...TIMEOUTS, onAuthenticated: (id) => seen.push(id) });
    await peer.exchangeEphemeral();
    // Our AuthSig is frame 0; nothing else comes before the peer's AuthSig verifies.
    await peer.readFrame();
    expect(seen).toEqual([]);
    // AuthSig, NodeInfo and the first MConnection bytes in one write.
    await peer.write(Buffer.concat([peer.seal(peer.authSig()), peer.seal(Buffer.concat([encodeNodeInfoDelimited(theirInfo), Buffer.from("mconn")]))]));
    const { conn, nodeInfo: got } = await handshake.result;
    expect(seen).toEqual([theirInfo.nodeId]);
    expect(got).toEqual(theirInfo);
    // Our NodeInfo is the next frame (nonce 1).
    const frame = await peer.readFrame();
    expect(decodeNodeInfo(frame.subarray(1, 1 + (frame[0] as number)))).toEqual(mine);
    const rest = await new Promise<string>((resolve) => conn.once("data", (d: Buffer) => resolve(d.toString())));
    expect(rest).toBe("mconn");
    conn.destroy();
  });

  it("a check that throws once the remote is authenticated fails the handshake with its error and sends no NodeInfo", async () => {
    const [ours, theirs] = createDuplexPair();
    const key = generateEd25519Key();
    const peer = new RawPeer(theirs);
    const refusal = new Error("not the peer we dialed");
    const handshake = new NodeInfoHandshake(ours, key, nodeInfo(nodeIdFromPublicKey(key.publicKey), "ours"), {
      ...TIMEOUTS,
      onAuthenticated: () => {
        throw refusal;
      },
    });
    await peer.exchangeEphemeral();
    await peer.write(peer.seal(peer.authSig()));
    await expect(handshake.result).rejects.toBe(refusal);
    expect(handshake.authenticatedId).toBe(nodeIdFromPublicKey(peer.identity.publicKey));
    await peer.readFrame(); // our AuthSig
    expect(theirs.read()).toBeNull();
    expect(ours.destroyed).toBe(false);
    ours.destroy();
  });

  describe("hostile peers after the authentication", () => {
    async function authenticated(timeouts = TIMEOUTS): Promise<{ peer: RawPeer; handshake: NodeInfoHandshake; started: number; close: () => void }> {
      const [ours, theirs] = createDuplexPair();
      ours.on("error", () => undefined);
      theirs.on("error", () => undefined);
      const key = generateEd25519Key();
      const peer = new RawPeer(theirs);
      const handshake = new NodeInfoHandshake(ours, key, nodeInfo(nodeIdFromPublicKey(key.publicKey), "ours"), timeouts);
      handshake.result.catch(() => undefined);
      await peer.exchangeEphemeral();
      await peer.write(peer.seal(peer.authSig()));
      const started = performance.now();
      return {
        peer,
        handshake,
        started,
        close: () => {
          ours.destroy();
          theirs.destroy();
        },
      };
    }

    it("a peer that never sends its NodeInfo meets the NodeInfo deadline, which starts at the authentication", async () => {
      const { handshake, started, close } = await authenticated({ handshakeTimeoutMs: 2000, nodeInfoTimeoutMs: 200 });
      const err = await handshake.result.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeadlineExceededError);
      expect((err as DeadlineExceededError).what).toBe("NodeInfo exchange");
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      close();
    });

    it("the handshake's own deadline still bounds a peer that stalls before authenticating", async () => {
      const [ours] = createDuplexPair();
      const key = generateEd25519Key();
      const handshake = new NodeInfoHandshake(ours, key, nodeInfo(nodeIdFromPublicKey(key.publicKey), "ours"), { handshakeTimeoutMs: 150, nodeInfoTimeoutMs: 5000 });
      const err = await handshake.result.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DeadlineExceededError);
      expect((err as DeadlineExceededError).what).toBe("secret connection handshake");
      expect(handshake.authenticatedId).toBeNull();
      ours.destroy();
    });

    it("a NodeInfo announced over 10240 bytes is refused at its prefix", async () => {
      const { peer, handshake, close } = await authenticated();
      await peer.write(peer.seal(hex("80a001"))); // uvarint(20480), and no body
      await expect(handshake.result).rejects.toMatchObject({ constructor: MessageTooLargeError, sizeBytes: 20480, limitBytes: 10240 });
      close();
    });

    it("an undecodable NodeInfo is a DecodeError", async () => {
      const { peer, handshake, close } = await authenticated();
      await peer.write(peer.seal(hex("030a0501")));
      await expect(handshake.result).rejects.toBeInstanceOf(DecodeError);
      close();
    });

    it("a peer that closes in the middle of its NodeInfo is an UnexpectedEofError", async () => {
      const { peer, handshake, close } = await authenticated();
      await peer.write(peer.seal(hex("2a0a0501")));
      peer.socket.end();
      const err = await handshake.result.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnexpectedEofError);
      expect((err as Error).message).toContain("NodeInfo");
      close();
    });
  });

  it("abort() fails the handshake with the reason and leaves the socket to the caller", async () => {
    const [ours] = createDuplexPair();
    const key = generateEd25519Key();
    const handshake = new NodeInfoHandshake(ours, key, nodeInfo(nodeIdFromPublicKey(key.publicKey), "ours"), TIMEOUTS);
    const reason = new Error("transport closed");
    handshake.abort(reason);
    await expect(handshake.result).rejects.toBe(reason);
    expect(ours.destroyed).toBe(false);
    expect(ours.listenerCount("data")).toBe(0);
    ours.destroy();
  });
});
