"""TokenGate's Python client: a blocking ``tokengate.Client`` and an asyncio
``tokengate.aio.Client`` for tokengated's Unix-socket protocol, with a method per RPC of the
service, pipelining on one connection, the fail-open/closed gate policy and an on-disk spool for
``log_usage_or_spool``.

``tokengate.pb`` is the generated protobuf module of proto/tokengate/v1/tokengate.proto (the
messages, enums and envelope).
"""

from tokengate._protocol import (METHOD, METHODS, ClientMetrics, GatePolicy, LogUsageOutcome, RpcMethod, StatusCode,
                                 TokenGateError, default_socket_path, make_event_id)
from tokengate.client import Client
from tokengate.v1 import tokengate_pb2 as pb

__all__ = ["Client", "ClientMetrics", "GatePolicy", "LogUsageOutcome", "RpcMethod", "StatusCode", "TokenGateError",
           "default_socket_path", "make_event_id", "METHOD", "METHODS", "pb"]
__version__ = "0.2.0"
