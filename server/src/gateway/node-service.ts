/**
 * NodeService: node-wide queries (NodeInfo, NetInfo, peers) for any caller
 * with valid credentials, and changes (dial, stop a peer) for the admin
 * credential only. Unary calls; every failure goes through the one mapping
 * to gRPC status (status-mapping.ts).
 */
import { type sendUnaryData, type ServerUnaryCall, status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ErrorReason, type NodeServiceServer } from "../gen/switchboard/gateway/v1/gateway.js";
import type { SwitchControl } from "../p2p/switch-control.js";
import { nodeInfoToApi, peerStatusOf } from "./convert.js";
import { GatewayError, invalidField } from "./errors.js";
import type { GatewayAuth } from "./security.js";
import { toServiceError } from "./status-mapping.js";

/** The gRPC service name of the NodeService, for health checks. */
export const NODE_SERVICE_NAME = "switchboard.gateway.v1.NodeService";

/** The NodeService's handlers, for `server.addService(NodeServiceService, ...)`. */
export function createNodeService(sw: SwitchControl, auth: GatewayAuth, logger: Logger): NodeServiceServer {
  const unary =
    <Req, Res>(fn: (req: Req) => Res | Promise<Res>, adminOnly = false, what = "") =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => {
          const identity = auth.identify(call);
          if (adminOnly) auth.requireAdmin(identity, what, call.getPeer());
          return fn(call.request);
        })
        .then(
          (res) => {
            callback(null, res);
          },
          (err: unknown) => {
            callback(toServiceError(err, logger));
          },
        );
    };
  return {
    getNodeInfo: unary(() => ({ nodeInfo: nodeInfoToApi(sw.nodeInfo()) })),
    getNetInfo: unary(() => {
      const listen = sw.listenAddress;
      const peers = sw.peers().list();
      return {
        listening: listen !== null,
        listeners: listen === null ? [] : [`Listener(@${sw.nodeInfo().listenAddr})`],
        nPeers: peers.length,
        peers: peers.map(peerStatusOf),
      };
    }),
    listPeers: unary(() => ({ peers: sw.peers().list().map(peerStatusOf) })),
    dialPeers: unary(
      async (req: { addresses: string[] }) => {
        if (req.addresses.length === 0) throw invalidField("addresses", "empty");
        const outcomes = await Promise.all(
          req.addresses.map(async (address) => {
            try {
              await sw.dialPeerWithAddress(address);
              return { address, connected: true, error: "" };
            } catch (err) {
              return { address, connected: false, error: (err as Error).message };
            }
          }),
        );
        return { outcomes };
      },
      true,
      "DialPeers",
    ),
    stopPeer: unary(
      (req: { peerId: string; reason: string }) => {
        if (req.peerId === "") throw invalidField("peer_id", "required");
        const peer = sw.peers().get(req.peerId);
        if (peer === undefined) throw new GatewayError(GrpcStatus.NOT_FOUND, ErrorReason.ERROR_REASON_UNKNOWN_PEER, `no connected peer ${req.peerId}`);
        if (req.reason === "") sw.stopPeerGracefully(peer);
        else sw.stopPeerForError(peer, new Error(req.reason));
        return {};
      },
      true,
      "StopPeer",
    ),
  };
}
