"""Fixtures of the graph sink's tests: a started sink on a throwaway graph of each engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings

from support.pipelines import started


@pytest.fixture
async def graph_sink(graph_settings: GraphSettings) -> AsyncIterator[GraphSink]:
    """A started graph sink on the test's graph."""
    async with started(GraphSink(graph_settings)) as sink:
        yield sink


@pytest.fixture
async def falkordb_sink(falkordb_graph: GraphSettings) -> AsyncIterator[GraphSink]:
    """A started graph sink on a fresh FalkorDB graph, for what only FalkorDB does."""
    async with started(GraphSink(falkordb_graph)) as sink:
        yield sink
