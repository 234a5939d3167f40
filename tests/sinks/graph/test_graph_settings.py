"""The graph sink is chosen like any sink, and its engine by the URI's scheme."""

from __future__ import annotations

import pytest

from consumer.config import ConfigurationError, build_sinks, load, load_settings
from sinks.graph import GraphSink
from sinks.graph.settings import DEFAULT_URI, GraphSettings


async def test_selected_by_settings_and_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNLEDGER_SINKS", "postgres,graph")
    monkeypatch.setenv("RUNLEDGER_GRAPH__URI", "neo4j+s://graph.example:7687")
    monkeypatch.setenv("RUNLEDGER_GRAPH__USER", "neo4j")
    monkeypatch.setenv("RUNLEDGER_GRAPH__PASSWORD", "s3cret")
    monkeypatch.setenv("RUNLEDGER_GRAPH__DATABASE", "ledger")

    names = load_settings().sinks
    sinks = build_sinks(names)
    try:
        assert names == ["postgres", "graph"]
        graph = sinks[1]
        assert isinstance(graph, GraphSink)
        assert graph.name == "graph"
        assert graph.engine.dialect.name == "neo4j"
    finally:
        for sink in sinks:
            await sink.close()


def test_defaults_to_the_embedded_falkordb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNLEDGER_GRAPH__URI", raising=False)
    settings = GraphSettings()
    assert settings.uri == DEFAULT_URI == "falkordb://127.0.0.1:6379/runledger"
    assert settings.engine == "falkordb"
    address = settings.falkordb_address()
    assert (address.host, address.port, address.graph, address.tls) == (
        "127.0.0.1",
        6379,
        "runledger",
        False,
    )


@pytest.mark.parametrize(
    ("uri", "engine"),
    [
        ("neo4j://db:7687", "neo4j"),
        ("neo4j+s://db:7687", "neo4j"),
        ("bolt://db:7687", "neo4j"),
        ("bolt+s://db:7687", "neo4j"),
        ("falkordb://db:6379/g", "falkordb"),
        ("falkordbs://db:6380/g", "falkordb"),
    ],
)
def test_the_scheme_picks_the_engine(uri: str, engine: str) -> None:
    assert GraphSettings(uri=uri).engine == engine


def test_a_bad_uri_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(GraphSettings, uri="http://db:7474")
    message = str(caught.value)
    assert message.startswith("RUNLEDGER_GRAPH__URI: ")
    assert "neo4j://" in message
    assert "\n" not in message


def test_tls_options_conflicting_with_a_secure_scheme_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="sets TLS itself"):
        load(GraphSettings, uri="neo4j+s://db:7687", tls_ca_file="/etc/ca.pem")


def test_credentials_never_show_in_the_displayed_uri() -> None:
    settings = GraphSettings(uri="falkordb://user:hunter2@db:6379/g", password="other")
    assert "hunter2" not in settings.display_uri()
    assert "other" not in repr(settings)
    address = settings.falkordb_address()
    assert (address.username, address.password, address.graph) == ("user", "other", "g")


def test_the_graph_name_falls_back_to_the_database_setting() -> None:
    settings = GraphSettings(uri="falkordb://db:6379", database="ledger")
    assert settings.falkordb_address().graph == "ledger"
