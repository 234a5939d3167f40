"""Structured logs: JSON lines by default, readable text on a terminal. Never secrets.

Lines about a record carry ``sink``, ``topic``, ``partition``, ``offset`` and, when the
record says it, ``run_id``. Secrets stay out in two ways: settings are logged through
``masked_settings`` (``SecretStr`` values masked, passwords inside URLs masked), and a
last processor masks the password of any ``scheme://user:password@host`` URL that an
error message might carry.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog
from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python

from consumer.settings import LogSettings

MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)")
_SECRET_QUERY_KEYS = re.compile(r"pass|secret|token|key", re.IGNORECASE)
_RUN_ID_SCAN_BYTES = 1_048_576


def configure_logging(settings: LogSettings) -> None:
    """Route structlog and the standard library (aiokafka, alembic) through one renderer."""
    use_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_urls,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # aiokafka logs every reconnect attempt at ERROR; our own lines say what matters.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))


def redact_urls(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask URL passwords in every string value of a line."""
    for key, value in event.items():
        if isinstance(value, str) and "://" in value:
            event[key] = mask_url_passwords(value)
    return event


def mask_url_passwords(text: str) -> str:
    """``postgresql://app:s3cret@db/x`` becomes ``postgresql://app:***@db/x``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def mask_url(url: str) -> str:
    """A URL safe to log: its password and secret-looking query values masked."""
    url = mask_url_passwords(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.query:
        return url
    query = [
        (k, MASK if _SECRET_QUERY_KEYS.search(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def masked_settings(model: BaseModel) -> dict[str, Any]:
    """A settings model as plain data to log: secrets masked, URLs shown without passwords.

    A secret that is a URL (e.g. ``RUNLEDGER_POSTGRES__URL``) is shown with only its
    password masked, so an operator still sees which host and database are used.
    """
    masked = _mask(model.model_dump())
    assert isinstance(masked, dict)
    return masked


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return mask_url(secret) if "://" in secret else (MASK if secret else "")
    if isinstance(value, Mapping):
        return {str(k): _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        return mask_url(value) if "://" in value else value
    return to_jsonable_python(value)


def run_id_hint(value: bytes | None) -> str | None:
    """The ``run_id`` a raw record claims, for log lines about records that failed."""
    if not value or len(value) > _RUN_ID_SCAN_BYTES:
        return None
    try:
        run_id = json.loads(value).get("run_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return run_id[:256] if isinstance(run_id, str) else None
