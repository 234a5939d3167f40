"""What the user sees when a command fails: one line, the setting to fix, an exit code.

Exit code 2 is a configuration error (a setting, an option, a missing extra: fix and run
again), 1 an environment failure (a server that cannot be reached, a consumer that had to
stop). Never a traceback: the cause's class and first line are enough to act on, and a
secret never appears because messages name variables, not their values.
"""

from __future__ import annotations

import socket

from aiokafka.errors import KafkaError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from consumer.config import ConfigurationError
from consumer.pipeline import PipelineHalted, SinkRefused
from sinks.base import SinkError

CONFIGURATION = 2
FAILURE = 1
# OSErrors that mean "the server is not there", as opposed to a file or directory problem.
_UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror)


def explain(error: BaseException) -> tuple[str, int] | None:
    """The line to print and the exit code, or None for errors that are bugs (traceback)."""
    if isinstance(error, ConfigurationError):
        return f"configuration error: {error}", CONFIGURATION
    if isinstance(error, ArgumentError | NoSuchModuleError):
        return f"configuration error: RUNLEDGER_POSTGRES__URL: {first_line(error)}", CONFIGURATION
    if isinstance(error, SinkError) and not error.retriable:
        return f"configuration error: a sink cannot start: {error}", CONFIGURATION
    if isinstance(error, SinkRefused):
        return f"configuration error: {error}", CONFIGURATION
    if isinstance(error, PipelineHalted):
        return f"error: consumer stopped: {error}", FAILURE
    if isinstance(error, (SQLAlchemyError, *_UNREACHABLE)):
        return f"error: cannot reach the database: {first_line(error)}", FAILURE
    if isinstance(error, KafkaError):
        return f"error: cannot reach Kafka: {first_line(error)}", FAILURE
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"error: {error.strerror or first_line(error)}{where}", FAILURE
    return None


def first_line(error: BaseException) -> str:
    """``Class: first line`` of the error, or of the driver error SQLAlchemy wraps."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"[:300]
