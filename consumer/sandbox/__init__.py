"""Engines the demo, the benchmark and the test suite start on this machine.

Nothing here is on the consumer's production path: these modules launch servers
(Apache Kafka and Neo4j from Maven Central jars) on 127.0.0.1 for tests and benchmarks.
"""
