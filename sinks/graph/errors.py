"""Which graph-engine errors mean "retry later" and which mean "this record can never fit".

Like the relational sink, only errors about the data itself are permanent: Neo4j's
constraint, type and argument errors, and FalkorDB's error replies. FalkorDB's replies
carry no codes, so any reply that is not one of the known server-state replies below
counts as a refusal of the query's values (the batch is split and the record
dead-lettered, never dropped). Refused credentials or permissions (Neo4j's security
errors, FalkorDB's AUTH and NOPERM replies) are configuration errors: the consumer stops
and names the settings to fix. Everything else, network errors and unknown Neo4j codes
included, is transient: retrying is safe.
"""

from __future__ import annotations

import asyncio

import neo4j.exceptions as neo4j_errors
import redis.exceptions as redis_errors

from sinks.base import PermanentSinkError, SinkConfigurationError, SinkError, TransientSinkError

CREDENTIALS_FIX = (
    "authentication or authorization failed: fix RUNLEDGER_GRAPH__USER and "
    "RUNLEDGER_GRAPH__PASSWORD (or the credentials in RUNLEDGER_GRAPH__URI), or grant that "
    "user write access to the graph"
)

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
    if _refused_credentials(error):
        code = getattr(error, "code", None)
        return SinkConfigurationError(f"{CREDENTIALS_FIX} ({code or message})")
    if isinstance(error, neo4j_errors.Neo4jError):
        code = error.code or ""
        if isinstance(error, neo4j_errors.ConstraintError | neo4j_errors.CypherTypeError):
            return PermanentSinkError(f"{code}: {message}")
        if code in PERMANENT_NEO4J_CODES:
            return PermanentSinkError(f"{code}: {message}")
        return TransientSinkError(f"{code}: {message}" if code else message)
    if isinstance(error, redis_errors.ResponseError) and not _transient_reply(error):
        return PermanentSinkError(message)
    return TransientSinkError(message)


def _refused_credentials(error: BaseException) -> bool:
    if isinstance(error, neo4j_errors.TokenExpired):  # a refreshed token will do
        return False
    if isinstance(error, neo4j_errors.AuthError | neo4j_errors.Forbidden):
        return True
    return isinstance(
        error,
        redis_errors.AuthenticationError
        | redis_errors.AuthenticationWrongNumberOfArgsError
        | redis_errors.NoPermissionError,
    )


def _transient_reply(error: redis_errors.ResponseError) -> bool:
    if isinstance(error, redis_errors.ReadOnlyError):
        return True
    return str(error).strip().lower().startswith(TRANSIENT_FALKORDB_REPLIES)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:300]
