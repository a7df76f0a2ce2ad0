"""Conversions between the generated messages and the SDK's types (the only place that knows both)."""

from __future__ import annotations

from collections.abc import Iterable

from ._gen.switchboard.gateway.v1 import gateway_pb2 as pb
from .types import (
    BroadcastResult,
    ChannelDescriptor,
    ChannelStatus,
    NodeInfo,
    Peer,
    PeerCounts,
    PeerStatus,
)


def channel_to_pb(c: ChannelDescriptor) -> pb.ChannelDescriptor:
    return pb.ChannelDescriptor(
        id=c.id,
        priority=c.priority,
        send_queue_capacity=c.send_queue_capacity,
        recv_buffer_capacity=c.recv_buffer_capacity,
        recv_message_capacity=c.recv_message_capacity,
        overflow_policy=int(c.overflow_policy),  # type: ignore[arg-type]
    )


def node_info(m: pb.NodeInfo) -> NodeInfo:
    return NodeInfo(
        node_id=m.node_id,
        listen_addr=m.listen_addr,
        network=m.network,
        version=m.version,
        channels=bytes(m.channels),
        moniker=m.moniker,
        p2p_version=m.p2p_version,
        block_version=m.block_version,
        app_version=m.app_version,
        tx_index=m.tx_index,
        rpc_address=m.rpc_address,
    )


def peer(m: pb.PeerInfo) -> Peer:
    return Peer(
        peer_id=m.peer_id,
        connection_id=m.connection_id,
        outbound=m.outbound,
        persistent=m.persistent,
        unconditional=m.unconditional,
        remote_address=m.remote_address,
        socket_address=m.socket_address,
        node_info=node_info(m.node_info) if m.HasField("node_info") else None,
    )


def broadcast(m: pb.BroadcastResult) -> list[BroadcastResult]:
    return [BroadcastResult(peer_id=e.peer_id, queued=e.queued) for e in m.results]


def peers(ms: Iterable[pb.PeerInfo]) -> list[Peer]:
    return [peer(m) for m in ms]


def counts(m: pb.PeerCounts) -> PeerCounts:
    return PeerCounts(outbound=m.outbound, inbound=m.inbound, dialing=m.dialing)


def peer_status(m: pb.PeerStatus) -> PeerStatus:
    return PeerStatus(
        peer=peer(m.peer),
        bytes_sent=m.bytes_sent,
        bytes_received=m.bytes_received,
        send_rate=m.send_rate,
        recv_rate=m.recv_rate,
        channels=tuple(
            ChannelStatus(
                id=c.id,
                send_queue_capacity=c.send_queue_capacity,
                send_queue_size=c.send_queue_size,
                priority=c.priority,
                recently_sent=c.recently_sent,
            )
            for c in m.channels
        ),
        duration_seconds=m.duration_seconds,
    )
