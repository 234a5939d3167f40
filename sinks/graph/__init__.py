"""The graph sink: the run ledger as a graph in Neo4j, or FalkorDB for the embedded default."""

from sinks.base import SinkPlugin
from sinks.graph.settings import GraphSettings
from sinks.graph.sink import GraphSink

plugin: SinkPlugin[GraphSettings] = SinkPlugin(
    name="graph",
    settings_type=GraphSettings,
    factory=GraphSink,
    description="Run, TaskExecution, Plan and Event nodes in Neo4j or FalkorDB",
)

__all__ = ["GraphSettings", "GraphSink", "plugin"]
