"""Opening the relational ledger for reading, with failures turned into one clear line."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.postgres.engine import create_engine
from sinks.postgres.settings import PostgresSettings

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NO_TABLE = ("no such table", "does not exist", "undefinedtable")


class ReadError(Exception):
    """The ledger cannot be read; the message says why and what to do, in one line."""


@contextlib.asynccontextmanager
async def open_ledger(settings: PostgresSettings) -> AsyncIterator[AsyncEngine]:
    """An engine on the ledger; errors inside the block become ``ReadError``.

    A missing SQLite file is reported instead of being created empty, which is what
    SQLite would otherwise do on first connect.
    """
    _require_sqlite_file(settings)
    shown = settings.display_url()
    engine = create_engine(settings)
    try:
        yield engine
    except (SQLAlchemyError, OSError) as error:
        raise ReadError(_explain(error, shown)) from None
    finally:
        await engine.dispose()


def _require_sqlite_file(settings: PostgresSettings) -> None:
    url = settings.sqlalchemy_url()
    path = url.database
    in_file = url.get_backend_name() == "sqlite" and path and path != ":memory:"
    if in_file and not Path(str(path)).is_file():
        raise ReadError(
            f"no database at {path}: run `runledger demo` or `runledger migrate`, "
            "or point RUNLEDGER_POSTGRES__URL at the ledger"
        )


def _explain(error: Exception, shown: str) -> str:
    cause = getattr(error, "orig", None) or error
    detail = " ".join(str(cause).split()) or type(cause).__name__
    lowered = f"{type(cause).__name__} {detail}".lower()
    if any(marker in lowered for marker in _NO_TABLE) and "database" not in lowered:
        return f"{shown} has no runledger tables: run `runledger migrate`"
    return f"cannot read {shown}: {detail[:300]}"


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """``30m``/``2h``/``7d``/``1w`` ago, or an ISO 8601 date or time (UTC when no offset)."""
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration like 30m, 2h, 7d nor a date like 2025-11-14T15:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
