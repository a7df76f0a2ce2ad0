"""The checked-in generated code is exactly what scripts/generate.py produces from proto/ now."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "generate.py"


def test_generated_code_matches_the_protos() -> None:
    spec = importlib.util.spec_from_file_location("switchboard_generate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    problems = module.check()
    assert problems == [], "generated code is stale; run: python client/python/scripts/generate.py"


def test_generated_modules_import_inside_the_package() -> None:
    from switchboard_reactor.pb import blocksync_pb2, gateway_pb2, gateway_pb2_grpc, mempool_pb2, types_pb2

    assert blocksync_pb2.BlocksyncMessage.DESCRIPTOR.full_name == "switchboard.cometbft.blocksync.v1.BlocksyncMessage"
    header = types_pb2.Block.DESCRIPTOR.fields_by_name["header"].message_type
    assert header is not None and header.full_name == "switchboard.cometbft.types.v1.Header"
    assert mempool_pb2.DESCRIPTOR.package == "switchboard.cometbft.mempool.v1"
    assert gateway_pb2.DESCRIPTOR.services_by_name["ReactorGatewayService"].methods_by_name["Attach"].client_streaming
    assert hasattr(gateway_pb2_grpc, "ReactorGatewayServiceStub")
