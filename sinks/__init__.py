"""Where events land: the ``Sink`` interface, the registry and the built-in sinks."""

from sinks.base import (
    PermanentSinkError,
    Sink,
    SinkError,
    SinkPlugin,
    SinkRecord,
    TransientSinkError,
    WriteResult,
)

__all__ = [
    "PermanentSinkError",
    "Sink",
    "SinkError",
    "SinkPlugin",
    "SinkRecord",
    "TransientSinkError",
    "WriteResult",
]
