"""The generated protobuf modules, for messages carried inside reactor payloads.

>>> from switchboard_reactor.pb import blocksync_pb2
>>> msg = blocksync_pb2.BlocksyncMessage(block_request=blocksync_pb2.BlockRequest(height=1))
>>> msg.SerializeToString()
b'\\n\\x02\\x08\\x01'
"""

from ._gen.switchboard.cometbft.blocksync.v1 import blocksync_pb2
from ._gen.switchboard.cometbft.mempool.v1 import mempool_pb2
from ._gen.switchboard.cometbft.types.v1 import types_pb2
from ._gen.switchboard.gateway.v1 import gateway_pb2, gateway_pb2_grpc

__all__ = ["blocksync_pb2", "gateway_pb2", "gateway_pb2_grpc", "mempool_pb2", "types_pb2"]
