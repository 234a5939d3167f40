"""The graph sink's graph for tests, read alike from Neo4j and FalkorDB."""

from __future__ import annotations

from typing import Any

import neo4j
import neo4j.time
from redis.exceptions import ResponseError

from sinks.graph import GraphSink
from sinks.graph.falkordb_engine import FalkorDBEngine
from sinks.graph.neo4j_engine import Neo4jEngine

GraphState = dict[str, Any]


def _plain(value: Any) -> Any:
    """A Neo4j value as FalkorDB returns it: times as epoch milliseconds, nodes as dicts."""
    if isinstance(value, neo4j.time.DateTime):
        return round(value.to_native().timestamp() * 1000)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


async def query(
    sink: GraphSink, cypher: str, *, write: bool = False, **params: Any
) -> list[list[Any]]:
    """Rows of a query on the sink's graph, whichever engine; none before the first write.

    Values come back alike from both engines (times as epoch milliseconds), so one
    assertion serves both. ``write`` allows a statement that changes the graph."""
    engine = sink.engine
    if isinstance(engine, Neo4jEngine):
        routing = neo4j.RoutingControl.WRITE if write else neo4j.RoutingControl.READ
        records, _, _ = await engine.driver.execute_query(
            cypher, params, database_=engine.database, routing_=routing
        )
        return [[_plain(v) for v in record.values()] for record in records]
    assert isinstance(engine, FalkorDBEngine)
    graph = await engine.connect()
    try:
        if write:
            result = await graph.query(cypher, params or None)
        else:
            result = await graph.ro_query(cypher, params or None)
    except ResponseError as error:
        if "empty key" in str(error):  # nothing written yet
            return []
        raise
    return [list(row) for row in result.result_set]


async def clear_graph(sink: GraphSink) -> None:
    """Delete every node and relationship."""
    await query(sink, "MATCH (n) DETACH DELETE n", write=True)


async def count_graph_events(sink: GraphSink) -> int:
    ((count,),) = await query(sink, "MATCH (e:Event) RETURN count(e)")
    return int(count)


async def stored_graph_event_ids(sink: GraphSink) -> set[str]:
    return {row[0] for row in await query(sink, "MATCH (e:Event) RETURN e.id")}


async def read_graph(sink: GraphSink) -> GraphState:
    """Every node (labels, properties) and relationship (start id, type, end id)."""
    nodes = await query(sink, "MATCH (n) RETURN n.id, labels(n), properties(n)")
    rels = await query(sink, "MATCH (a)-[r]->(b) RETURN a.id, type(r), b.id")
    by_id: dict[str, Any] = {}
    for node_id, labels, props in nodes:
        key = f"{'/'.join(sorted(labels))}:{node_id}"
        assert key not in by_id, f"two nodes {key}"
        by_id[key] = dict(props)
    return {"nodes": by_id, "relationships": sorted(tuple(r) for r in rels)}


async def event_chain(sink: GraphSink, run_id: str) -> list[str]:
    """Event ids from the run's STARTS_WITH along NEXT (fails on a fork or a cycle)."""
    starts = await query(
        sink, "MATCH (:Run {id: $id})-[:STARTS_WITH]->(e:Event) RETURN e.id", id=run_id
    )
    assert len(starts) <= 1, f"{run_id} has {len(starts)} STARTS_WITH edges"
    chain = [starts[0][0]] if starts else []
    while chain:
        nxt = await query(
            sink, "MATCH (:Event {id: $id})-[:NEXT]->(e:Event) RETURN e.id", id=chain[-1]
        )
        assert len(nxt) <= 1, f"{chain[-1]} has {len(nxt)} NEXT edges"
        if not nxt:
            break
        assert nxt[0][0] not in chain, "the chain has a cycle"
        chain.append(nxt[0][0])
    return chain
