"""Fixtures of the graph sink's tests: a throwaway FalkorDB graph per test, and a sink on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from sinks.graph import GraphSink
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.settings import GraphSettings


@pytest.fixture
async def graph_settings(falkordb_address: tuple[str, int]) -> AsyncIterator[GraphSettings]:
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
async def graph_sink(graph_settings: GraphSettings) -> AsyncIterator[GraphSink]:
    """A started graph sink on the test's graph."""
    sink = GraphSink(graph_settings)
    await sink.start()
    yield sink
    await sink.close()
