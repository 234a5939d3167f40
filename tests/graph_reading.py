"""Read back what the graph sink wrote (Neo4j or FalkorDB), for comparing whole graphs."""

from __future__ import annotations

from typing import Any

from sinks.graph import GraphSink

from support import graph_query

GraphState = dict[str, Any]
NEXT_EVENT = "MATCH (:Event {id: $id})-[:NEXT]->(e:Event) RETURN e.id"


async def query(sink: GraphSink, cypher: str, **params: Any) -> list[list[Any]]:
    """Rows of a read query on the sink's graph (tests only)."""
    return await graph_query(sink, cypher, params)


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
