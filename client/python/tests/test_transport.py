"""GrpcTransport over real gRPC on 127.0.0.1:0, against a small scripted Attach server in this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
import pytest

from switchboard_reactor import (
    ChannelDescriptor,
    ErrorReason,
    Reactor,
    Receive,
    ReconnectPolicy,
    RegistrationError,
    SessionEvent,
    Start,
    Stop,
)
from switchboard_reactor.pb import gateway_pb2 as pb
from switchboard_reactor.transport import normalize_target

CHANNELS = [ChannelDescriptor(0x70, priority=5)]
BIG = 128 * 1024 * 1024

Handler = Callable[[AsyncIterator[pb.AttachRequest], Any], AsyncIterator[pb.AttachResponse]]


async def serve(handler: Handler) -> tuple[Any, str]:
    server: Any = grpc.aio.server(options=[("grpc.max_send_message_length", BIG), ("grpc.max_receive_message_length", BIG)])
    rpc = grpc.stream_stream_rpc_method_handler(
        handler, request_deserializer=pb.AttachRequest.FromString, response_serializer=pb.AttachResponse.SerializeToString
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("switchboard.gateway.v1.ReactorGatewayService", {"Attach": rpc}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def registered(token: str = "t1", resumed: bool = False) -> pb.AttachResponse:
    return pb.AttachResponse(
        registered=pb.Registered(session_token=token, resumed=resumed, node_info=pb.NodeInfo(node_id="ab" * 20), next_event_seq=1)
    )


def batch(*events: pb.Event) -> pb.AttachResponse:
    return pb.AttachResponse(events=pb.EventBatch(events=list(events)))


async def test_the_token_goes_as_bearer_metadata_and_the_stream_ends_cleanly_after_stop() -> None:
    seen: list[str] = []

    async def attach(requests: AsyncIterator[pb.AttachRequest], context: Any) -> AsyncIterator[pb.AttachResponse]:
        seen.append(dict(context.invocation_metadata()).get("authorization", ""))
        first = await requests.__anext__()
        assert first.register.reactor_name == "app"
        yield registered()
        yield batch(pb.Event(seq=1, on_start=pb.OnStart()), pb.Event(seq=2, on_stop=pb.OnStop()))

    server, target = await serve(attach)
    try:
        async with Reactor.attach(target, "app", CHANNELS, token="s3cret-token") as r:
            assert [e async for e in r.events()] == [Start(), Stop()]
            await r.wait_finished()
            assert r.state == "finished"
        assert seen == ["Bearer s3cret-token"]
    finally:
        await server.stop(None)


async def test_a_refusal_status_and_its_reason_trailer_become_a_registration_error() -> None:
    async def attach(requests: AsyncIterator[pb.AttachRequest], context: Any) -> AsyncIterator[pb.AttachResponse]:
        context.set_trailing_metadata((("switchboard-error-reason", "ERROR_REASON_NODE_NOT_RUNNING"),))
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid credentials")
        yield registered()  # never reached

    server, target = await serve(attach)
    try:
        with pytest.raises(RegistrationError) as info:
            await Reactor.attach(target, "app", CHANNELS)
        assert info.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert info.value.message == "missing or invalid credentials"
        assert info.value.reason == ErrorReason.NODE_NOT_RUNNING
    finally:
        await server.stop(None)


async def test_a_status_mid_stream_leads_to_a_resume_with_the_token() -> None:
    tokens: list[str] = []

    async def attach(requests: AsyncIterator[pb.AttachRequest], context: Any) -> AsyncIterator[pb.AttachResponse]:
        first = await requests.__anext__()
        tokens.append(first.register.session_token)
        if len(tokens) == 1:
            yield registered("tok")
            yield batch(pb.Event(seq=1, on_start=pb.OnStart()))
            await asyncio.sleep(0.05)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        else:
            yield registered("tok", resumed=True)
            yield batch(pb.Event(seq=1, on_start=pb.OnStart()), pb.Event(seq=2, on_stop=pb.OnStop()))

    server, target = await serve(attach)
    try:
        policy = ReconnectPolicy(initial_backoff_s=0.01, max_backoff_s=0.01, max_attempts=20)
        async with Reactor.attach(target, "app", CHANNELS, reconnect=policy) as r:
            events = [e async for e in r.events()]
        assert events == [Start(), SessionEvent(resumed=True), Stop()]  # event 1 resent, dropped as a duplicate
        assert tokens == ["", "tok"]
    finally:
        await server.stop(None)


async def test_messages_larger_than_grpcs_default_limit_arrive() -> None:
    big = bytes(5 * 1024 * 1024)  # grpc's default receive limit is 4 MiB

    async def attach(requests: AsyncIterator[pb.AttachRequest], context: Any) -> AsyncIterator[pb.AttachResponse]:
        await requests.__anext__()
        yield registered()
        recv = pb.Receive(connection_id="c", peer_id="p", channel_id=0x70, message=big)
        yield batch(pb.Event(seq=1, receive=recv), pb.Event(seq=2, on_stop=pb.OnStop()))

    server, target = await serve(attach)
    try:
        async with Reactor.attach(target, "app", CHANNELS) as r:
            events = [e async for e in r.events()]
        assert isinstance(events[0], Receive) and events[0].message == big
    finally:
        await server.stop(None)


def test_targets_are_normalised() -> None:
    assert normalize_target("127.0.0.1:1") == "127.0.0.1:1"
    assert normalize_target("tcp://[::1]:26670") == "[::1]:26670"


