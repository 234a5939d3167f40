"""Fixtures of the graph sink's tests: a throwaway FalkorDB graph per test, and a sink on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings


@pytest.fixture
async def graph_sink(graph_settings: GraphSettings) -> AsyncIterator[GraphSink]:
    """A started graph sink on the test's graph."""
    sink = GraphSink(graph_settings)
    await sink.start()
    yield sink
    await sink.close()
