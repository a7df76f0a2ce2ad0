from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from switchboard_reactor import ChannelDescriptor, Reactor, ReconnectPolicy

from .support.switchboard_node import SwitchboardNode, init_homes, kill_all

NodeFactory = Callable[..., Awaitable[SwitchboardNode]]
AttachFactory = Callable[..., Awaitable[Reactor]]

#: The scenarios' default channel: 0x70, priority 5, send queue 100.
APP_CHANNELS = (ChannelDescriptor(0x70, priority=5, send_queue_capacity=100),)
#: Quick re-attaching for tests.
TEST_RECONNECT = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.4, max_attempts=60, connect_timeout_s=15.0)


@pytest.fixture(scope="session")
def home_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One ``switchboard init`` per node name for the whole run; each test copies the homes it needs."""
    return init_homes(tmp_path_factory.mktemp("templates"), ["a", "b", "c"])


@pytest.fixture
async def new_node(tmp_path: Path, home_templates: dict[str, Path]) -> AsyncIterator[NodeFactory]:
    """Starts nodes in fresh copies of the template homes; stops every one of them at teardown."""
    created: list[SwitchboardNode] = []

    async def factory(
        moniker: str,
        *extra: str,
        reactors: str = "app",
        persistent_peers: str = "",
        env: Mapping[str, str] | None = None,
    ) -> SwitchboardNode:
        node = SwitchboardNode.from_template(home_templates[moniker], tmp_path, moniker)
        created.append(node)
        node.start(*extra, reactors=reactors, persistent_peers=persistent_peers, env=env)
        return node

    try:
        yield factory
    finally:

        async def stop(n: SwitchboardNode) -> None:
            if n.started:
                await n.stop()
            else:
                n.kill()  # still waiting for its reactors: it would not honour SIGTERM until it gives up

        await asyncio.gather(*(stop(n) for n in created), return_exceptions=True)
        kill_all()


@pytest.fixture
async def attach(new_node: NodeFactory) -> AsyncIterator[AttachFactory]:
    """Attaches reactors (default: ``app`` on 0x70); closes them at teardown, before the nodes stop."""
    opened: list[Reactor] = []

    async def factory(
        target: str | SwitchboardNode,
        name: str = "app",
        channels: Sequence[ChannelDescriptor] = APP_CHANNELS,
        **options: Any,
    ) -> Reactor:
        if isinstance(target, SwitchboardNode):
            target = await target.wait_grpc()
        options.setdefault("reconnect", TEST_RECONNECT)
        r = await Reactor.attach(target, name, channels, **options)
        opened.append(r)
        return r

    try:
        yield factory
    finally:
        await asyncio.gather(*(r.close() for r in opened), return_exceptions=True)
