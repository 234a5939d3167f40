"""Which graph-engine errors mean "retry later" and which mean "this record can never fit".

Like the relational sink, only errors about the data itself are permanent: Neo4j's
constraint, type and argument errors, and FalkorDB's error replies. FalkorDB's replies
carry no codes, so any reply that is not one of the known server-state replies below
counts as a refusal of the query's values (the batch is split and the record
dead-lettered, never dropped). Everything else, network errors and unknown Neo4j codes
included, is transient: retrying is safe.
"""

from __future__ import annotations

import asyncio

import neo4j.exceptions as neo4j_errors
import redis.exceptions as redis_errors

from sinks.base import PermanentSinkError, SinkError, TransientSinkError

# Neo4j status codes (Neo.ClientError.<category>.<title>) that blame the data.
PERMANENT_NEO4J_CODES = frozenset(
    {
        "Neo.ClientError.Schema.ConstraintValidationFailed",
        "Neo.ClientError.Statement.TypeError",
        "Neo.ClientError.Statement.ArgumentError",
        "Neo.ClientError.Statement.ArithmeticError",
        "Neo.ClientError.Statement.EntityNotFound",
        "Neo.ClientError.Statement.PropertyNotFound",
    }
)

# How FalkorDB's replies about the server's state (not the query's values) begin. Only
# the start is compared: a data error quotes the query around the fault, user data included.
TRANSIENT_FALKORDB_REPLIES = (
    "query timed out",
    "max pending queries",
    "oom ",
    "loading ",
    "busy ",
    "readonly ",
    "tryagain",
    "masterdown",
    "clusterdown",
)

NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError, ConnectionError)


def classify(error: BaseException) -> SinkError:
    """Wrap an engine failure as a transient or permanent sink error."""
    message = _one_line(error)
    if isinstance(error, neo4j_errors.Neo4jError):
        code = error.code or ""
        if isinstance(error, neo4j_errors.ConstraintError | neo4j_errors.CypherTypeError):
            return PermanentSinkError(f"{code}: {message}")
        if code in PERMANENT_NEO4J_CODES:
            return PermanentSinkError(f"{code}: {message}")
        return TransientSinkError(f"{code}: {message}" if code else message)
    if (
        isinstance(error, redis_errors.ResponseError)
        and "unknown command 'graph." in message.lower()
    ):
        return PermanentSinkError(
            "RUNLEDGER_GRAPH__URI points at a Redis server without the FalkorDB module "
            f"({message[:80]}): point it at FalkorDB or Neo4j"
        )
    if isinstance(error, redis_errors.ResponseError) and not _transient_reply(error):
        return PermanentSinkError(message)
    return TransientSinkError(message)


def _transient_reply(error: redis_errors.ResponseError) -> bool:
    if isinstance(error, redis_errors.ReadOnlyError | redis_errors.NoPermissionError):
        return True
    return str(error).strip().lower().startswith(TRANSIENT_FALKORDB_REPLIES)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:300]
