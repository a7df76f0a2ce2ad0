"""What a person running a reactor sees: the SDK's environment variables leave a node in the same shell alone
(the old ``SWITCHBOARD_*`` names still work, with a warning), a taken name is one line saying what to do, and
an unreachable node is reported instead of retried in silence."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

import switchboard_reactor._unreachable as unreachable_module
from switchboard_reactor import ChannelDescriptor, Reactor, ReconnectPolicy, RegistrationError, StreamStatus
from switchboard_reactor._env import LEGACY_NAMES, TOKEN_ENV_VAR, TRACE_ENV_VAR
from switchboard_reactor.cli import add_connection_arguments

from .conftest import AttachFactory, NodeFactory
from .support.fake_node import FakeNode

README = Path(__file__).resolve().parents[1] / "README.md"
CHANNELS = [ChannelDescriptor(0x70, priority=5)]
LOGGER = "switchboard_reactor"


def run_python(code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (TRACE_ENV_VAR, *LEGACY_NAMES.values())}
    return subprocess.run(
        [sys.executable, "-c", code, *args], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


# ------------------------------------------------------------------ environment variables


def test_no_sdk_variable_is_one_the_node_reads() -> None:
    assert not TRACE_ENV_VAR.startswith("SWITCHBOARD_") and not TOKEN_ENV_VAR.startswith("SWITCHBOARD_")


async def test_a_node_started_with_the_sdk_variables_in_its_environment_starts(
    new_node: NodeFactory, attach: AttachFactory
) -> None:
    node = await new_node("a", env={TRACE_ENV_VAR: "1", TOKEN_ENV_VAR: "some-token"})
    r = await attach(node)  # it started its gateway and took the reactor
    assert r.state == "attached"
    await node.wait_started()


TRACE_PROBE = "import logging, switchboard_reactor; logging.getLogger('switchboard_reactor').debug('probe')"


def test_sb_client_trace_turns_tracing_on_without_a_warning() -> None:
    out = run_python(TRACE_PROBE, env={TRACE_ENV_VAR: "1"})
    assert out.returncode == 0, out.stderr
    assert "switchboard_reactor DEBUG probe" in out.stderr
    assert "Warning" not in out.stderr
    assert "probe" not in run_python(TRACE_PROBE).stderr


def test_the_old_trace_variable_still_works_with_a_warning_naming_the_new_one() -> None:
    out = run_python(TRACE_PROBE, env={"SWITCHBOARD_REACTOR_TRACE": "1"})
    assert out.returncode == 0, out.stderr
    assert "switchboard_reactor DEBUG probe" in out.stderr
    assert "FutureWarning: SWITCHBOARD_REACTOR_TRACE is deprecated" in out.stderr
    assert "Set SB_CLIENT_TRACE instead." in out.stderr


def test_the_token_comes_from_sb_token_and_from_the_old_name_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.delenv("SWITCHBOARD_TOKEN", raising=False)
    monkeypatch.setenv("SB_TOKEN", "new")
    parser = argparse.ArgumentParser()
    add_connection_arguments(parser)
    assert parser.parse_args(["--grpc", "x:1"]).token == "new"

    monkeypatch.delenv("SB_TOKEN")
    monkeypatch.setenv("SWITCHBOARD_TOKEN", "old")
    parser = argparse.ArgumentParser()
    with pytest.warns(FutureWarning, match="SWITCHBOARD_TOKEN is deprecated.*Set SB_TOKEN instead"):
        add_connection_arguments(parser)
    assert parser.parse_args(["--grpc", "x:1"]).token == "old"


# ------------------------------------------------------------------ a taken name


NAME_TAKEN = (
    'reactor "app": the node at {target} refused it: ALREADY_EXISTS: reactor "app" is attached on another stream. '
    'The name "app" is taken on that node (by another process, or by another Reactor in this one): '
    "stop that reactor, or give this one another name."
)


async def test_a_taken_name_says_which_and_what_to_do() -> None:
    node = FakeNode()
    node.refusals.append(StreamStatus(grpc.StatusCode.ALREADY_EXISTS, 'reactor "app" is attached on another stream'))
    with pytest.raises(RegistrationError) as info:
        await Reactor.attach("tcp://127.0.0.1:26999", "app", CHANNELS, transport=node.transport)
    assert str(info.value) == NAME_TAKEN.format(target="127.0.0.1:26999")
    assert info.value.message == 'reactor "app" is attached on another stream'  # the node's own words, unchanged
    assert info.value.hint.startswith('The name "app" is taken')


async def test_a_taken_channel_says_what_to_do_about_the_channel() -> None:
    node = FakeNode()
    node.refusals.append(
        StreamStatus(grpc.StatusCode.ALREADY_EXISTS, 'channel 0x70 of reactor "other" is already owned by reactor "app"')
    )
    with pytest.raises(RegistrationError) as info:
        await Reactor.attach("127.0.0.1:26999", "other", CHANNELS, transport=node.transport)
    assert str(info.value).endswith(
        'already owned by reactor "app". Another reactor on that node holds that channel: '
        "give this reactor channel IDs of its own, or stop the other reactor."
    )


def readme_reactor() -> str:
    text = README.read_text()
    match = re.search(r"<!-- newcomer-test: reactor\.py -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "README.md has no reactor.py block"
    return match.group(1)


async def test_the_readme_reactor_as_a_second_app_prints_one_line_and_exits_1(
    new_node: NodeFactory, attach: AttachFactory
) -> None:
    node = await new_node("a")
    await attach(node)
    target = await node.wait_grpc()
    out = await asyncio.to_thread(run_python, readme_reactor(), target)
    assert out.returncode == 1
    assert out.stderr == "RegistrationError: " + NAME_TAKEN.format(target=target) + "\n"


# ------------------------------------------------------------------ an unreachable node


def unreachable(details: str = "connection refused") -> StreamStatus:
    return StreamStatus(grpc.StatusCode.UNAVAILABLE, details)


async def test_an_unreachable_node_is_reported_at_once_then_periodically_then_reached(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clock that advances 10 s per reading: failures at 0, 10, ... 70 s, reached at 80 s.
    readings = iter(range(0, 1000, 10))
    monkeypatch.setattr(unreachable_module.Unreachable, "_now", staticmethod(lambda: float(next(readings))))
    caplog.set_level(logging.INFO, LOGGER)
    node = FakeNode()
    node.refusals.extend(unreachable() for _ in range(8))
    policy = ReconnectPolicy(initial_backoff_s=0.01, max_backoff_s=0.01, jitter=0.0, connect_timeout_s=10.0)
    r = await Reactor.attach("127.0.0.1:26999", "app", CHANNELS, transport=node.transport, reconnect=policy)
    assert r.state == "attached"  # the retries go on as before
    assert len(node.streams) == 9
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    # At the first failure, then at most every 30 s: the failures at 0, 30 and 60 s.
    assert len(warnings) == 3, warnings
    assert re.fullmatch(
        r'reactor "app": cannot reach the node at 127\.0\.0\.1:26999 \(UNAVAILABLE: connection refused\)\. '
        r"Check that the node is running and that 127\.0\.0\.1:26999 is its grpc\.laddr\. "
        r"Retrying in 10 ms \(giving up in (10|9\.\d) s: ReconnectPolicy\.connect_timeout_s\); "
        r"this is reported again every 30 s while it lasts\.",
        warnings[0],
    ), warnings[0]
    for warning, after in zip(warnings[1:], ("after 4 attempts in 30 s", "after 7 attempts in 60 s")):
        assert re.fullmatch(
            r'reactor "app": still cannot reach the node at 127\.0\.0\.1:26999 ' + after + r" "
            r"\(UNAVAILABLE: connection refused\); retrying in 10 ms \(giving up in [\d.]+ m?s: ReconnectPolicy.connect_timeout_s\)\.",
            warning,
        ), warning
    infos = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.INFO and "reached" in rec.getMessage()]
    assert infos == ['reactor "app": reached the node at 127.0.0.1:26999 after 8 failed attempts in 80 s.']
    await r.close()


async def test_giving_up_on_an_unreachable_node_says_what_to_check() -> None:
    node = FakeNode()
    node.refusals.extend(unreachable() for _ in range(10_000))
    policy = ReconnectPolicy(initial_backoff_s=0.01, max_backoff_s=0.01, jitter=0.0, connect_timeout_s=0.1)
    with pytest.raises(RegistrationError) as info:
        await Reactor.attach("127.0.0.1:26999", "app", CHANNELS, transport=node.transport, reconnect=policy)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert re.fullmatch(
        r'reactor "app": could not attach to the node at 127\.0\.0\.1:26999 \(gave up after \d+ attempts in \d+ ms; '
        r"see ReconnectPolicy.connect_timeout_s\): UNAVAILABLE: connection refused\. "
        r"Check that the node is running and that 127\.0\.0\.1:26999 is its grpc\.laddr\.",
        str(info.value),
    ), str(info.value)


async def test_max_attempts_ends_the_first_attach_with_the_error_too() -> None:
    node = FakeNode()
    node.refusals.extend(unreachable() for _ in range(10))
    policy = ReconnectPolicy(initial_backoff_s=0.001, max_backoff_s=0.001, jitter=0.0, max_attempts=3)
    with pytest.raises(RegistrationError, match=r"gave up after 3 attempts in \d+ ms; see ReconnectPolicy\.max_attempts\)"):
        await Reactor.attach("127.0.0.1:26999", "app", CHANNELS, transport=node.transport, reconnect=policy)
    assert len(node.streams) == 3


async def test_re_attaching_to_an_unreachable_node_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    node = FakeNode()
    policy = ReconnectPolicy(initial_backoff_s=0.005, max_backoff_s=0.005, jitter=0.0)
    r = await Reactor.attach("127.0.0.1:26999", "app", CHANNELS, transport=node.transport, reconnect=policy)
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    node.refusals.extend(unreachable("down") for _ in range(3))
    node.break_stream()
    async with asyncio.timeout(5):
        while len(node.attachments) < 2:
            await asyncio.sleep(0.005)
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith('reactor "app": cannot reach the node at 127.0.0.1:26999 (UNAVAILABLE: down). Check that')
    assert "Retrying in 5 ms;" in warnings[0]
    await r.close()


def test_the_readme_reactor_with_no_node_says_so_on_stderr() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{s.getsockname()[1]}"
    code = readme_reactor()
    # The README's reactor, giving up after 1 s instead of 30 s.
    code = code.replace(
        "async with Reactor.attach(target, \"app\", channels) as r:",
        "async with Reactor.attach(target, \"app\", channels, reconnect=__import__('switchboard_reactor').ReconnectPolicy(connect_timeout_s=1.0)) as r:",
    )
    assert "connect_timeout_s=1.0" in code
    out = run_python(code, target)
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert lines[0].startswith(f'reactor "app": cannot reach the node at {target} (UNAVAILABLE: ')
    assert f"Check that the node is running and that {target} is its grpc.laddr. Retrying in " in lines[0]
    assert lines[-1].startswith(f'RegistrationError: reactor "app": could not attach to the node at {target} (gave up after ')
    assert "Traceback" not in out.stderr
