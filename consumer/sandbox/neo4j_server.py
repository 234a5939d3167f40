"""A Neo4j 5 Community server with its Bolt connector on 127.0.0.1, authentication off.

The jars come from Maven Central (``jvm/neo4j.pom.xml``); ``jvm/Neo4jLauncher.java`` is a
single-file Java program (run from source by ``java``) that builds a
``DatabaseManagementService`` in the caller's folder and serves Bolt until stopped.
"""

from __future__ import annotations

from pathlib import Path

from consumer.sandbox.embedded import EmbeddedProcess, free_port, launch
from consumer.sandbox.maven import JVM_FILES, engine_jars, java_binary

HEAP = "-Xmx768m"
PAGE_CACHE_BYTES = 128 * 1024 * 1024
START_TIMEOUT = 180.0


def start_neo4j(folder: Path, port: int | None = None) -> EmbeddedProcess:
    """Start Neo4j with its store in ``folder``; returns once Bolt accepts connections."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    jars = engine_jars("neo4j")
    argv = [
        java_binary(), HEAP, "-XX:+UseSerialGC",
        "-cp", f"{jars}/*", str(JVM_FILES / "Neo4jLauncher.java"),
        str(folder / "home"), str(port), str(PAGE_CACHE_BYTES),
    ]  # fmt: skip
    return launch("neo4j", argv, port, folder / "neo4j.log", timeout=START_TIMEOUT, cwd=folder)
