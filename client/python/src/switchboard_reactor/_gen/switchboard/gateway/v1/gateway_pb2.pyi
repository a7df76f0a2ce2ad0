from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OverflowPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OVERFLOW_POLICY_UNSPECIFIED: _ClassVar[OverflowPolicy]
    OVERFLOW_POLICY_BLOCK: _ClassVar[OverflowPolicy]
    OVERFLOW_POLICY_DROP_NEWEST: _ClassVar[OverflowPolicy]
    OVERFLOW_POLICY_DROP_OLDEST: _ClassVar[OverflowPolicy]
    OVERFLOW_POLICY_DISCONNECT_PEER: _ClassVar[OverflowPolicy]

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_UNKNOWN_PEER: _ClassVar[ErrorReason]
    ERROR_REASON_PEER_REMOVED: _ClassVar[ErrorReason]
    ERROR_REASON_CHANNEL_NOT_REGISTERED: _ClassVar[ErrorReason]
    ERROR_REASON_MESSAGE_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_CHANNEL_NOT_SUPPORTED_BY_PEER: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ADDRESS: _ClassVar[ErrorReason]
    ERROR_REASON_PEER_DATA_FULL: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_FIELD: _ClassVar[ErrorReason]
    ERROR_REASON_NOT_REGISTERED: _ClassVar[ErrorReason]
    ERROR_REASON_NODE_NOT_RUNNING: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_COMMANDS: _ClassVar[ErrorReason]
OVERFLOW_POLICY_UNSPECIFIED: OverflowPolicy
OVERFLOW_POLICY_BLOCK: OverflowPolicy
OVERFLOW_POLICY_DROP_NEWEST: OverflowPolicy
OVERFLOW_POLICY_DROP_OLDEST: OverflowPolicy
OVERFLOW_POLICY_DISCONNECT_PEER: OverflowPolicy
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_UNKNOWN_PEER: ErrorReason
ERROR_REASON_PEER_REMOVED: ErrorReason
ERROR_REASON_CHANNEL_NOT_REGISTERED: ErrorReason
ERROR_REASON_MESSAGE_TOO_LARGE: ErrorReason
ERROR_REASON_CHANNEL_NOT_SUPPORTED_BY_PEER: ErrorReason
ERROR_REASON_INVALID_ADDRESS: ErrorReason
ERROR_REASON_PEER_DATA_FULL: ErrorReason
ERROR_REASON_INVALID_FIELD: ErrorReason
ERROR_REASON_NOT_REGISTERED: ErrorReason
ERROR_REASON_NODE_NOT_RUNNING: ErrorReason
ERROR_REASON_TOO_MANY_COMMANDS: ErrorReason

class AttachRequest(_message.Message):
    __slots__ = ("register", "ack", "credit", "command", "batch")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    register: Register
    ack: Ack
    credit: Credit
    command: Command
    batch: RequestBatch
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., credit: _Optional[_Union[Credit, _Mapping]] = ..., command: _Optional[_Union[Command, _Mapping]] = ..., batch: _Optional[_Union[RequestBatch, _Mapping]] = ...) -> None: ...

class RequestBatch(_message.Message):
    __slots__ = ("ack", "credit", "commands")
    ACK_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    credit: Credit
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ..., credit: _Optional[_Union[Credit, _Mapping]] = ..., commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ...) -> None: ...

class AttachResponse(_message.Message):
    __slots__ = ("registered", "events", "result", "results")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    registered: Registered
    events: EventBatch
    result: CommandResult
    results: ResultBatch
    def __init__(self, registered: _Optional[_Union[Registered, _Mapping]] = ..., events: _Optional[_Union[EventBatch, _Mapping]] = ..., result: _Optional[_Union[CommandResult, _Mapping]] = ..., results: _Optional[_Union[ResultBatch, _Mapping]] = ...) -> None: ...

class ResultBatch(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CommandResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CommandResult, _Mapping]]] = ...) -> None: ...

class ChannelDescriptor(_message.Message):
    __slots__ = ("id", "priority", "send_queue_capacity", "recv_buffer_capacity", "recv_message_capacity", "overflow_policy")
    ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    SEND_QUEUE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RECV_BUFFER_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    RECV_MESSAGE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_POLICY_FIELD_NUMBER: _ClassVar[int]
    id: int
    priority: int
    send_queue_capacity: int
    recv_buffer_capacity: int
    recv_message_capacity: int
    overflow_policy: OverflowPolicy
    def __init__(self, id: _Optional[int] = ..., priority: _Optional[int] = ..., send_queue_capacity: _Optional[int] = ..., recv_buffer_capacity: _Optional[int] = ..., recv_message_capacity: _Optional[int] = ..., overflow_policy: _Optional[_Union[OverflowPolicy, str]] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("reactor_name", "channels", "session_token", "initial_credit", "batch_results")
    REACTOR_NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INITIAL_CREDIT_FIELD_NUMBER: _ClassVar[int]
    BATCH_RESULTS_FIELD_NUMBER: _ClassVar[int]
    reactor_name: str
    channels: _containers.RepeatedCompositeFieldContainer[ChannelDescriptor]
    session_token: str
    initial_credit: Credit
    batch_results: bool
    def __init__(self, reactor_name: _Optional[str] = ..., channels: _Optional[_Iterable[_Union[ChannelDescriptor, _Mapping]]] = ..., session_token: _Optional[str] = ..., initial_credit: _Optional[_Union[Credit, _Mapping]] = ..., batch_results: _Optional[bool] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ("session_token", "resumed", "resume_refused_reason", "node_info", "next_event_seq", "limits")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    RESUME_REFUSED_REASON_FIELD_NUMBER: _ClassVar[int]
    NODE_INFO_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    resumed: bool
    resume_refused_reason: str
    node_info: NodeInfo
    next_event_seq: int
    limits: Limits
    def __init__(self, session_token: _Optional[str] = ..., resumed: _Optional[bool] = ..., resume_refused_reason: _Optional[str] = ..., node_info: _Optional[_Union[NodeInfo, _Mapping]] = ..., next_event_seq: _Optional[int] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_batch_commands", "max_batch_payload_bytes", "max_control_request_bytes", "max_message_bytes")
    MAX_BATCH_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_PAYLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTROL_REQUEST_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_batch_commands: int
    max_batch_payload_bytes: int
    max_control_request_bytes: int
    max_message_bytes: int
    def __init__(self, max_batch_commands: _Optional[int] = ..., max_batch_payload_bytes: _Optional[int] = ..., max_control_request_bytes: _Optional[int] = ..., max_message_bytes: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("event_seq",)
    EVENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    event_seq: int
    def __init__(self, event_seq: _Optional[int] = ...) -> None: ...

class Credit(_message.Message):
    __slots__ = ("messages", "bytes")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    messages: int
    bytes: int
    def __init__(self, messages: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class NodeInfo(_message.Message):
    __slots__ = ("node_id", "listen_addr", "network", "version", "channels", "moniker", "p2p_version", "block_version", "app_version", "tx_index", "rpc_address")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LISTEN_ADDR_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    MONIKER_FIELD_NUMBER: _ClassVar[int]
    P2P_VERSION_FIELD_NUMBER: _ClassVar[int]
    BLOCK_VERSION_FIELD_NUMBER: _ClassVar[int]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    TX_INDEX_FIELD_NUMBER: _ClassVar[int]
    RPC_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    listen_addr: str
    network: str
    version: str
    channels: bytes
    moniker: str
    p2p_version: int
    block_version: int
    app_version: int
    tx_index: str
    rpc_address: str
    def __init__(self, node_id: _Optional[str] = ..., listen_addr: _Optional[str] = ..., network: _Optional[str] = ..., version: _Optional[str] = ..., channels: _Optional[bytes] = ..., moniker: _Optional[str] = ..., p2p_version: _Optional[int] = ..., block_version: _Optional[int] = ..., app_version: _Optional[int] = ..., tx_index: _Optional[str] = ..., rpc_address: _Optional[str] = ...) -> None: ...

class PeerInfo(_message.Message):
    __slots__ = ("peer_id", "connection_id", "outbound", "persistent", "unconditional", "remote_address", "socket_address", "node_info")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTBOUND_FIELD_NUMBER: _ClassVar[int]
    PERSISTENT_FIELD_NUMBER: _ClassVar[int]
    UNCONDITIONAL_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SOCKET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NODE_INFO_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    connection_id: str
    outbound: bool
    persistent: bool
    unconditional: bool
    remote_address: str
    socket_address: str
    node_info: NodeInfo
    def __init__(self, peer_id: _Optional[str] = ..., connection_id: _Optional[str] = ..., outbound: _Optional[bool] = ..., persistent: _Optional[bool] = ..., unconditional: _Optional[bool] = ..., remote_address: _Optional[str] = ..., socket_address: _Optional[str] = ..., node_info: _Optional[_Union[NodeInfo, _Mapping]] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "on_start", "init_peer", "add_peer", "receive", "remove_peer", "on_stop")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ON_START_FIELD_NUMBER: _ClassVar[int]
    INIT_PEER_FIELD_NUMBER: _ClassVar[int]
    ADD_PEER_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_FIELD_NUMBER: _ClassVar[int]
    REMOVE_PEER_FIELD_NUMBER: _ClassVar[int]
    ON_STOP_FIELD_NUMBER: _ClassVar[int]
    seq: int
    on_start: OnStart
    init_peer: InitPeer
    add_peer: AddPeer
    receive: Receive
    remove_peer: RemovePeer
    on_stop: OnStop
    def __init__(self, seq: _Optional[int] = ..., on_start: _Optional[_Union[OnStart, _Mapping]] = ..., init_peer: _Optional[_Union[InitPeer, _Mapping]] = ..., add_peer: _Optional[_Union[AddPeer, _Mapping]] = ..., receive: _Optional[_Union[Receive, _Mapping]] = ..., remove_peer: _Optional[_Union[RemovePeer, _Mapping]] = ..., on_stop: _Optional[_Union[OnStop, _Mapping]] = ...) -> None: ...

class OnStart(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OnStop(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InitPeer(_message.Message):
    __slots__ = ("peer",)
    PEER_FIELD_NUMBER: _ClassVar[int]
    peer: PeerInfo
    def __init__(self, peer: _Optional[_Union[PeerInfo, _Mapping]] = ...) -> None: ...

class AddPeer(_message.Message):
    __slots__ = ("connection_id", "peer_id")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ...) -> None: ...

class Receive(_message.Message):
    __slots__ = ("connection_id", "peer_id", "channel_id", "message")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    channel_id: int
    message: bytes
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., channel_id: _Optional[int] = ..., message: _Optional[bytes] = ...) -> None: ...

class RemovePeer(_message.Message):
    __slots__ = ("connection_id", "peer_id", "reason")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    reason: str
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("request_id", "send", "try_send", "broadcast", "stop_peer_for_error", "stop_peer_gracefully", "mark_peer_as_good", "dial_peers", "get_peer_data", "set_peer_data", "list_peers", "num_peers", "get_peer")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    TRY_SEND_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    STOP_PEER_FOR_ERROR_FIELD_NUMBER: _ClassVar[int]
    STOP_PEER_GRACEFULLY_FIELD_NUMBER: _ClassVar[int]
    MARK_PEER_AS_GOOD_FIELD_NUMBER: _ClassVar[int]
    DIAL_PEERS_FIELD_NUMBER: _ClassVar[int]
    GET_PEER_DATA_FIELD_NUMBER: _ClassVar[int]
    SET_PEER_DATA_FIELD_NUMBER: _ClassVar[int]
    LIST_PEERS_FIELD_NUMBER: _ClassVar[int]
    NUM_PEERS_FIELD_NUMBER: _ClassVar[int]
    GET_PEER_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    send: Send
    try_send: TrySend
    broadcast: Broadcast
    stop_peer_for_error: StopPeerForError
    stop_peer_gracefully: StopPeerGracefully
    mark_peer_as_good: MarkPeerAsGood
    dial_peers: DialPeers
    get_peer_data: GetPeerData
    set_peer_data: SetPeerData
    list_peers: ListPeers
    num_peers: NumPeers
    get_peer: GetPeer
    def __init__(self, request_id: _Optional[int] = ..., send: _Optional[_Union[Send, _Mapping]] = ..., try_send: _Optional[_Union[TrySend, _Mapping]] = ..., broadcast: _Optional[_Union[Broadcast, _Mapping]] = ..., stop_peer_for_error: _Optional[_Union[StopPeerForError, _Mapping]] = ..., stop_peer_gracefully: _Optional[_Union[StopPeerGracefully, _Mapping]] = ..., mark_peer_as_good: _Optional[_Union[MarkPeerAsGood, _Mapping]] = ..., dial_peers: _Optional[_Union[DialPeers, _Mapping]] = ..., get_peer_data: _Optional[_Union[GetPeerData, _Mapping]] = ..., set_peer_data: _Optional[_Union[SetPeerData, _Mapping]] = ..., list_peers: _Optional[_Union[ListPeers, _Mapping]] = ..., num_peers: _Optional[_Union[NumPeers, _Mapping]] = ..., get_peer: _Optional[_Union[GetPeer, _Mapping]] = ...) -> None: ...

class Send(_message.Message):
    __slots__ = ("connection_id", "peer_id", "channel_id", "message", "timeout_ms")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    channel_id: int
    message: bytes
    timeout_ms: int
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., channel_id: _Optional[int] = ..., message: _Optional[bytes] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class TrySend(_message.Message):
    __slots__ = ("connection_id", "peer_id", "channel_id", "message")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    channel_id: int
    message: bytes
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., channel_id: _Optional[int] = ..., message: _Optional[bytes] = ...) -> None: ...

class Broadcast(_message.Message):
    __slots__ = ("channel_id", "message")
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    channel_id: int
    message: bytes
    def __init__(self, channel_id: _Optional[int] = ..., message: _Optional[bytes] = ...) -> None: ...

class StopPeerForError(_message.Message):
    __slots__ = ("connection_id", "peer_id", "reason", "no_reconnect")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NO_RECONNECT_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    reason: str
    no_reconnect: bool
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., reason: _Optional[str] = ..., no_reconnect: _Optional[bool] = ...) -> None: ...

class StopPeerGracefully(_message.Message):
    __slots__ = ("connection_id", "peer_id", "flush")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    flush: bool
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., flush: _Optional[bool] = ...) -> None: ...

class MarkPeerAsGood(_message.Message):
    __slots__ = ("connection_id", "peer_id")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ...) -> None: ...

class DialPeers(_message.Message):
    __slots__ = ("addresses", "persistent")
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    PERSISTENT_FIELD_NUMBER: _ClassVar[int]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    persistent: bool
    def __init__(self, addresses: _Optional[_Iterable[str]] = ..., persistent: _Optional[bool] = ...) -> None: ...

class GetPeerData(_message.Message):
    __slots__ = ("connection_id", "peer_id", "key")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    key: str
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class SetPeerData(_message.Message):
    __slots__ = ("connection_id", "peer_id", "key", "value")
    CONNECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    connection_id: str
    peer_id: str
    key: str
    value: bytes
    def __init__(self, connection_id: _Optional[str] = ..., peer_id: _Optional[str] = ..., key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...

class ListPeers(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NumPeers(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPeer(_message.Message):
    __slots__ = ("peer_id",)
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    def __init__(self, peer_id: _Optional[str] = ...) -> None: ...

class CommandError(_message.Message):
    __slots__ = ("code", "message", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: ErrorReason
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[_Union[ErrorReason, str]] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("request_id", "error", "send", "broadcast", "done", "peer_data", "peers", "num_peers", "peer")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SEND_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    PEER_DATA_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    NUM_PEERS_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    error: CommandError
    send: SendResult
    broadcast: BroadcastResult
    done: Empty
    peer_data: PeerDataResult
    peers: PeerList
    num_peers: PeerCounts
    peer: PeerStatus
    def __init__(self, request_id: _Optional[int] = ..., error: _Optional[_Union[CommandError, _Mapping]] = ..., send: _Optional[_Union[SendResult, _Mapping]] = ..., broadcast: _Optional[_Union[BroadcastResult, _Mapping]] = ..., done: _Optional[_Union[Empty, _Mapping]] = ..., peer_data: _Optional[_Union[PeerDataResult, _Mapping]] = ..., peers: _Optional[_Union[PeerList, _Mapping]] = ..., num_peers: _Optional[_Union[PeerCounts, _Mapping]] = ..., peer: _Optional[_Union[PeerStatus, _Mapping]] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendResult(_message.Message):
    __slots__ = ("queued",)
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    queued: bool
    def __init__(self, queued: _Optional[bool] = ...) -> None: ...

class BroadcastResult(_message.Message):
    __slots__ = ("results",)
    class Entry(_message.Message):
        __slots__ = ("peer_id", "queued")
        PEER_ID_FIELD_NUMBER: _ClassVar[int]
        QUEUED_FIELD_NUMBER: _ClassVar[int]
        peer_id: str
        queued: bool
        def __init__(self, peer_id: _Optional[str] = ..., queued: _Optional[bool] = ...) -> None: ...
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BroadcastResult.Entry]
    def __init__(self, results: _Optional[_Iterable[_Union[BroadcastResult.Entry, _Mapping]]] = ...) -> None: ...

class PeerDataResult(_message.Message):
    __slots__ = ("found", "value")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    value: bytes
    def __init__(self, found: _Optional[bool] = ..., value: _Optional[bytes] = ...) -> None: ...

class PeerList(_message.Message):
    __slots__ = ("peers",)
    PEERS_FIELD_NUMBER: _ClassVar[int]
    peers: _containers.RepeatedCompositeFieldContainer[PeerInfo]
    def __init__(self, peers: _Optional[_Iterable[_Union[PeerInfo, _Mapping]]] = ...) -> None: ...

class PeerCounts(_message.Message):
    __slots__ = ("outbound", "inbound", "dialing")
    OUTBOUND_FIELD_NUMBER: _ClassVar[int]
    INBOUND_FIELD_NUMBER: _ClassVar[int]
    DIALING_FIELD_NUMBER: _ClassVar[int]
    outbound: int
    inbound: int
    dialing: int
    def __init__(self, outbound: _Optional[int] = ..., inbound: _Optional[int] = ..., dialing: _Optional[int] = ...) -> None: ...

class ChannelStatus(_message.Message):
    __slots__ = ("id", "send_queue_capacity", "send_queue_size", "priority", "recently_sent")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEND_QUEUE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    SEND_QUEUE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    RECENTLY_SENT_FIELD_NUMBER: _ClassVar[int]
    id: int
    send_queue_capacity: int
    send_queue_size: int
    priority: int
    recently_sent: int
    def __init__(self, id: _Optional[int] = ..., send_queue_capacity: _Optional[int] = ..., send_queue_size: _Optional[int] = ..., priority: _Optional[int] = ..., recently_sent: _Optional[int] = ...) -> None: ...

class PeerStatus(_message.Message):
    __slots__ = ("peer", "bytes_sent", "bytes_received", "send_rate", "recv_rate", "channels", "duration_seconds")
    PEER_FIELD_NUMBER: _ClassVar[int]
    BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    SEND_RATE_FIELD_NUMBER: _ClassVar[int]
    RECV_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    peer: PeerInfo
    bytes_sent: int
    bytes_received: int
    send_rate: int
    recv_rate: int
    channels: _containers.RepeatedCompositeFieldContainer[ChannelStatus]
    duration_seconds: int
    def __init__(self, peer: _Optional[_Union[PeerInfo, _Mapping]] = ..., bytes_sent: _Optional[int] = ..., bytes_received: _Optional[int] = ..., send_rate: _Optional[int] = ..., recv_rate: _Optional[int] = ..., channels: _Optional[_Iterable[_Union[ChannelStatus, _Mapping]]] = ..., duration_seconds: _Optional[int] = ...) -> None: ...

class GetNodeInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNodeInfoResponse(_message.Message):
    __slots__ = ("node_info",)
    NODE_INFO_FIELD_NUMBER: _ClassVar[int]
    node_info: NodeInfo
    def __init__(self, node_info: _Optional[_Union[NodeInfo, _Mapping]] = ...) -> None: ...

class GetNetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNetInfoResponse(_message.Message):
    __slots__ = ("listening", "listeners", "n_peers", "peers")
    LISTENING_FIELD_NUMBER: _ClassVar[int]
    LISTENERS_FIELD_NUMBER: _ClassVar[int]
    N_PEERS_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    listening: bool
    listeners: _containers.RepeatedScalarFieldContainer[str]
    n_peers: int
    peers: _containers.RepeatedCompositeFieldContainer[PeerStatus]
    def __init__(self, listening: _Optional[bool] = ..., listeners: _Optional[_Iterable[str]] = ..., n_peers: _Optional[int] = ..., peers: _Optional[_Iterable[_Union[PeerStatus, _Mapping]]] = ...) -> None: ...

class ListPeersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPeersResponse(_message.Message):
    __slots__ = ("peers",)
    PEERS_FIELD_NUMBER: _ClassVar[int]
    peers: _containers.RepeatedCompositeFieldContainer[PeerStatus]
    def __init__(self, peers: _Optional[_Iterable[_Union[PeerStatus, _Mapping]]] = ...) -> None: ...

class DialPeersRequest(_message.Message):
    __slots__ = ("addresses",)
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class DialOutcome(_message.Message):
    __slots__ = ("address", "connected", "error")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    address: str
    connected: bool
    error: str
    def __init__(self, address: _Optional[str] = ..., connected: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class DialPeersResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[DialOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[DialOutcome, _Mapping]]] = ...) -> None: ...

class StopPeerRequest(_message.Message):
    __slots__ = ("peer_id", "reason")
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    peer_id: str
    reason: str
    def __init__(self, peer_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class StopPeerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
