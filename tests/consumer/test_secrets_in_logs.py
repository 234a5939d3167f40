"""No form of a database password reaches the logs, whatever characters it holds.

``runledger run`` is started as a user would (environment only) against the real
PostgreSQL (which trusts local connections, so any password connects) and the real
broker; its whole output is then searched for the password, raw and percent-encoded.
"""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy.engine import make_url

from consumer.logging import mask_url, redact_text, register_secrets
from sinks.postgres.settings import PostgresSettings

from support.processes import ConsumerProcess, consumer_env

AWKWARD = ["pass word", "p@ss:w/rd%x", "pässwörd€ 🙂", "a b@c:d/e%f€", "%41%zz"]


def _forms(password: str) -> set[str]:
    return {password, quote(password, safe=""), quote_plus(password), quote(password)}


def _url_with(base: str, password: str, *, encoded: bool) -> str:
    url = make_url(base)
    secret = quote(password, safe="") if encoded else password
    host = f"{url.host}:{url.port}" if url.port else str(url.host)
    return f"postgresql://{url.username}:{secret}@{host}/{url.database}"


@pytest.mark.parametrize("password", AWKWARD)
def test_a_url_is_masked_by_parsing_it(password: str) -> None:
    for encoded in (True, False):
        url = _url_with("postgresql://app@db:5432/ledger", password, encoded=encoded)
        shown = mask_url(url)
        assert not any(form in shown for form in _forms(password) if len(form) > 1), shown
        assert shown.startswith("postgresql://app:***@"), shown
        if encoded or "@" not in password:  # a raw "@" is ambiguous: more is masked
            assert shown == "postgresql://app:***@db:5432/ledger"


def test_a_registered_secret_is_hidden_in_any_text() -> None:
    password = "a b@c:d/e%f€"
    register_secrets(PostgresSettings(url="postgresql://app@db/ledger", password=password))
    for form in _forms(password):
        assert redact_text(f"connect failed for {form} at db") == "connect failed for *** at db"


@pytest.mark.parametrize(
    ("password", "encoded", "override"),
    [
        ("pass word", False, False),  # the reported case: a space, raw in the URL
        ("p@ss:w/rd%x€", True, False),
        ("pässwörd€ 🙂", False, False),
        ("a b@c:d/e%f€", False, True),  # RUNLEDGER_POSTGRES__PASSWORD
    ],
)
async def test_runledger_run_never_logs_the_password(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    tmp_path: Path,
    password: str,
    encoded: bool,
    override: bool,
) -> None:
    base = postgres_settings.url.get_secret_value()
    env = consumer_env(kafka_bootstrap, topic, postgres_settings, f"sec-{uuid.uuid4().hex[:6]}")
    if override:
        env["RUNLEDGER_POSTGRES__PASSWORD"] = password
    else:
        env["RUNLEDGER_POSTGRES__URL"] = _url_with(base, password, encoded=encoded)
    consumer = ConsumerProcess(env, tmp_path, "run.log").start()
    try:
        await consumer.logged('"pipeline started"', what="runledger run started its pipeline")
        consumer.signal(signal.SIGTERM)
        assert await consumer.wait(30) == 0
    finally:
        consumer.kill()

    text = consumer.output()
    leaked = sorted(form for form in _forms(password) if form in text)
    assert not leaked, f"password {leaked} in the log"
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    configured = next(line for line in lines if line["event"] == "sink configured")
    database = make_url(base).database
    assert configured["settings"]["url"] == (
        f"postgresql://postgres:***@127.0.0.1:5432/{database}"
        if not override
        else base  # no password in the URL itself
    )
    if override:
        assert configured["settings"]["password"] == "***"
