"""Structured logs: JSON lines by default, readable text on a terminal. Never secrets.

Lines about a record carry ``sink``, ``topic``, ``partition``, ``offset`` and, when the
record says it, ``run_id``. Secrets stay out in two ways:

* settings are logged through ``masked_settings``: ``SecretStr`` values masked, and every
  URL masked by parsing it (``mask_url``), never by a pattern, so a password with a
  space, ``@``, ``:``, ``/``, ``%`` or any other character is hidden whole;
* every secret of the settings loaded at start-up is registered (``register_secrets``:
  the value, and for a URL its password in raw and percent-encoded forms), and a last
  processor replaces any of them wherever it shows up, e.g. in a driver's error message.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import structlog
from pydantic import BaseModel, SecretStr
from pydantic_core import to_jsonable_python
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from consumer.settings import LogSettings

MASK = "***"
_SECRET_QUERY_KEYS = re.compile(r"pass|secret|token|key", re.IGNORECASE)
_MIN_SECRET_CHARS = 4  # shorter secrets are masked in settings, not searched for in text
_secrets: set[str] = set()
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
    """structlog processor: hide registered secrets and URL passwords in every string."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_text(value)
    return event


def redact_text(text: str) -> str:
    """Replace every registered secret, then mask each whitespace-free URL in ``text``."""
    for secret in sorted(_secrets, key=len, reverse=True):  # longest first: no partial left
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = " ".join(mask_url(word) if "://" in word else word for word in text.split(" "))
    return text


def register_secrets(model: BaseModel) -> None:
    """Remember the secrets of a settings model, so that no log line can show them.

    A URL's password is remembered as written and percent-encoded both ways, since a
    driver may echo either form.
    """
    _secrets.update(s for s in _secret_values(model) if len(s) >= _MIN_SECRET_CHARS)


def _secret_values(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        yield from _url_password_forms(secret) if "://" in secret else _encodings(secret)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_values(getattr(value, name))
    elif isinstance(value, str) and "://" in value:
        yield from _url_password_forms(value)


def _url_password_forms(url: str) -> list[str]:
    if "://" not in url:
        return []
    userinfo = _userinfo(url)
    password = userinfo.partition(":")[2] if userinfo and ":" in userinfo else ""
    if not password:
        return []
    return [password, *_encodings(unquote(password))]


def _encodings(secret: str) -> list[str]:
    """A secret as written and as a URL or a driver may percent-encode it."""
    return [
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote(secret, safe=" +"),
    ]


def _userinfo(url: str) -> str | None:
    """What stands between ``://`` and the last ``@`` (a raw ``@`` may be in a password)."""
    rest = url.partition("://")[2]
    return rest.rpartition("@")[0] if "@" in rest else None


def mask_url(url: str) -> str:
    """A URL safe to log: password and secret-looking query values masked, by parsing.

    SQLAlchemy's parser reads a password with spaces, ``:`` and ``/`` (and percent
    escapes); only a raw ``@`` makes it ambiguous, and then everything between ``://``
    and the last ``@`` but the user name is masked, which hides too much, never too little.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _mask_userinfo(url)
    if url.partition("://")[2].count("@") > 1:
        return _mask_userinfo(url)
    secret_keys = [k for k in parsed.query if _SECRET_QUERY_KEYS.search(k)]
    if secret_keys:
        parsed = parsed.update_query_dict(dict.fromkeys(secret_keys, MASK))
    return parsed.render_as_string(hide_password=True).replace("%2A%2A%2A", MASK)


def _mask_userinfo(url: str) -> str:
    userinfo = _userinfo(url)
    if userinfo is None or ":" not in userinfo:
        return url
    scheme, _, rest = url.partition("://")
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:{MASK}@{rest[len(userinfo) + 1 :]}"


def masked_settings(model: BaseModel) -> dict[str, Any]:
    """A settings model as plain data to log: secrets masked, URLs shown without passwords.

    A secret that is a URL (e.g. ``RUNLEDGER_POSTGRES__URL``) is shown with only its
    password masked, so an operator still sees which host and database are used.
    """
    register_secrets(model)
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
