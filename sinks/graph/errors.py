"""Which graph-engine errors mean "retry later", "this record can never fit" or "fix the
configuration".

Neo4j (``Neo.<classification>.<category>.<title>`` codes):

* data errors (type, argument, arithmetic) are permanent: the batch is split and the
  record dead-lettered;
* a uniqueness violation is a race between two writers creating the same node, which a
  retry resolves (the second attempt finds the node), so it is transient, as are
  ``TransientError``, ``DatabaseError``, transaction and cluster errors, and the network;
* every other client error (authentication, authorisation, no such database, a statement
  the server rejects) is a misconfiguration: retrying cannot help, so the sink stops with
  a message naming the setting.

FalkorDB's replies carry no codes, so any reply that is not one of the known server-state
replies below counts as a refusal of the query's values (permanent), an authentication
reply as a misconfiguration, and everything else as transient.
"""

from __future__ import annotations

import asyncio

import neo4j.exceptions as neo4j_errors
import redis.exceptions as redis_errors

from sinks.base import PermanentSinkError, SinkError, SinkMisconfigured, TransientSinkError

# Neo4j status codes (Neo.ClientError.<category>.<title>) that blame the data.
PERMANENT_NEO4J_CODES = frozenset(
    {
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

# Everything a graph engine or its driver raises: what ``classify`` is given.
ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    neo4j_errors.Neo4jError,
    neo4j_errors.DriverError,
    redis_errors.RedisError,
    *NETWORK_ERRORS,
)


# Client-error categories that a retry can resolve (a race, a leader switch, a timeout).
TRANSIENT_NEO4J_CATEGORIES = frozenset({"Transaction", "Cluster"})


def classify(error: BaseException) -> SinkError:
    """Wrap an engine failure as a transient, permanent or configuration sink error."""
    message = _one_line(error)
    if isinstance(error, neo4j_errors.Neo4jError):
        return _classify_neo4j(error, message)
    if isinstance(error, redis_errors.AuthenticationError | redis_errors.AuthorizationError):
        return SinkMisconfigured(
            f"FalkorDB refused the credentials ({message}): check the user and password "
            "in RUNLEDGER_GRAPH__URI or RUNLEDGER_GRAPH__PASSWORD"
        )
    if (
        isinstance(error, redis_errors.ResponseError)
        and "unknown command 'graph." in message.lower()
    ):
        return SinkMisconfigured(
            "RUNLEDGER_GRAPH__URI points at a Redis server without the FalkorDB module "
            f"({message[:80]}): point it at FalkorDB or Neo4j"
        )
    if isinstance(error, redis_errors.ResponseError) and not _transient_reply(error):
        return PermanentSinkError(message)
    return TransientSinkError(message)


def _classify_neo4j(error: neo4j_errors.Neo4jError, message: str) -> SinkError:
    code = error.code or ""
    described = f"{code}: {message}" if code else message
    if code in PERMANENT_NEO4J_CODES or isinstance(error, neo4j_errors.CypherTypeError):
        return PermanentSinkError(described)
    if not code.startswith("Neo.ClientError.") or isinstance(error, neo4j_errors.ConstraintError):
        return TransientSinkError(described)
    category = code.removeprefix("Neo.ClientError.")
    if (
        category in TRANSIENT_NEO4J_CATEGORIES
        or category.split(".")[0] in TRANSIENT_NEO4J_CATEGORIES
    ):
        return TransientSinkError(described)
    if category.startswith("Security."):
        return SinkMisconfigured(
            f"Neo4j refused us ({described}): check RUNLEDGER_GRAPH__USER and "
            "RUNLEDGER_GRAPH__PASSWORD, and the user's privileges"
        )
    if category == "Database.DatabaseNotFound":
        return SinkMisconfigured(f"{described}: check RUNLEDGER_GRAPH__DATABASE")
    return SinkMisconfigured(f"Neo4j rejected runledger's statement ({described})")


def _transient_reply(error: redis_errors.ResponseError) -> bool:
    if isinstance(error, redis_errors.ReadOnlyError | redis_errors.NoPermissionError):
        return True
    return str(error).strip().lower().startswith(TRANSIENT_FALKORDB_REPLIES)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:300]
