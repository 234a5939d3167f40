"""Which database errors mean "retry later", "this record can never fit" or "fix the settings".

Only errors about the data itself are permanent (SQLSTATE classes 22 data exception,
23 integrity violation, 54 program limit exceeded). Authentication and authorization
failures (class 28, 42501 insufficient privilege) and a missing database (3D000) are
configuration errors: the consumer stops and names the setting to fix instead of
retrying forever. Everything else, including errors we do not recognise and client-side
timeouts, is transient: retrying is safe, dropping data is not.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

from sinks.base import PermanentSinkError, SinkError, SinkMisconfigured, TransientSinkError

PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})
_URL = "RUNLEDGER_POSTGRES__URL"
_FIXES = {
    "28": f"authentication failed: fix the user and password in {_URL} "
    "(or RUNLEDGER_POSTGRES__USER / RUNLEDGER_POSTGRES__PASSWORD)",
    "3D000": f"the database does not exist: fix the database name in {_URL} or create it",
    "42501": f"permission denied: grant the user of {_URL} the privileges in "
    "docs/delivery.md (schema usage, SELECT/INSERT/UPDATE on the ledger tables)",
}


class SchemaNotReadyError(TransientSinkError):
    """The database is reachable but the schema is behind: run `runledger migrate`."""


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a driver error wrapped by SQLAlchemy, if it has one."""
    orig = getattr(error, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None), error):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def classify(error: BaseException) -> SinkError:
    """Wrap a database failure as a transient or permanent sink error."""
    message = _one_line(error)
    code = sqlstate(error)
    fix = _FIXES.get(code or "") or _FIXES.get((code or "")[:2])
    if code is not None and fix is not None:
        return SinkMisconfigured(f"{fix} (SQLSTATE {code}: {message})")
    if code is not None and code[:2] in PERMANENT_SQLSTATE_CLASSES:
        return PermanentSinkError(f"SQLSTATE {code}: {message}")
    orig = getattr(error, "orig", None)
    if isinstance(orig, sqlite3.IntegrityError | sqlite3.DataError):
        return PermanentSinkError(message)
    if isinstance(error, sa_exc.StatementError) and not isinstance(error, sa_exc.DBAPIError):
        return PermanentSinkError(message)  # a value the driver could not even encode
    return TransientSinkError(f"SQLSTATE {code}: {message}" if code else message)


def _one_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    first = text[0] if text else type(orig).__name__
    return f"{type(orig).__name__}: {first}"[:300]
