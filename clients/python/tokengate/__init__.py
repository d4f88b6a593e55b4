"""TokenGate's Python client: a blocking client for tokengated's Unix-socket protocol.

``tokengate.pb`` is the generated protobuf module of proto/tokengate/v1/tokengate.proto (the
messages, enums and envelope); ``Client`` speaks the framing, deadlines and status codes.
"""

from tokengate.client import METHOD, Client, StatusCode, TokenGateError, default_socket_path
from tokengate.v1 import tokengate_pb2 as pb

__all__ = ["Client", "StatusCode", "TokenGateError", "default_socket_path", "METHOD", "pb"]
