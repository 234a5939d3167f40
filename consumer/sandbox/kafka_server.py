"""An Apache Kafka broker in KRaft mode (one combined broker and controller) on 127.0.0.1.

The jars come from Maven Central (``jvm/kafka.pom.xml``). The log directory lives in the
caller's folder, so a broker stopped and started again on the same folder and ports keeps
its topics, records and committed offsets, as a real cluster does.
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from consumer.sandbox.embedded import (
    LOCALHOST,
    EmbeddedEngineError,
    EmbeddedProcess,
    free_port,
    launch,
)
from consumer.sandbox.maven import engine_jars, java_binary

HEAP = "-Xmx512m"
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class KafkaPorts:
    """The client (PLAINTEXT) and controller listeners."""

    broker: int
    controller: int


def server_properties(folder: Path, ports: KafkaPorts) -> str:
    """A single-node KRaft configuration for tests: everything replicated once."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{LOCALHOST}:{ports.controller}",
            f"listeners=PLAINTEXT://{LOCALHOST}:{ports.broker},"
            f"CONTROLLER://{LOCALHOST}:{ports.controller}",
            f"advertised.listeners=PLAINTEXT://{LOCALHOST}:{ports.broker}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={folder / 'data'}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=5",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # As on most production clusters: runledger creates the topics it needs itself.
            "auto.create.topics.enable=false",
            "num.partitions=1",
            "",
        ]
    )


def kafka_command(*main: str, heap: str = "-Xmx256m") -> list[str]:
    """A ``java`` command line running ``main`` with the Kafka jars on the class path."""
    jars = engine_jars("kafka")
    return [
        java_binary(), heap, "-XX:+UseSerialGC",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-cp", f"{jars}/*", *main,
    ]  # fmt: skip


def start_kafka(folder: Path, ports: KafkaPorts | None = None) -> EmbeddedProcess:
    """Start (or restart, when ``folder`` holds a formatted log directory) the broker."""
    folder.mkdir(parents=True, exist_ok=True)
    ports = ports or KafkaPorts(broker=free_port(), controller=free_port())
    config = folder / "server.properties"
    config.write_text(server_properties(folder, ports))
    if not (folder / "data" / "meta.properties").exists():
        _format(config)
    argv = kafka_command("kafka.Kafka", str(config), heap=HEAP)
    argv.insert(3, "-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
    return launch(
        "kafka", argv, ports.broker, folder / "kafka.log", timeout=START_TIMEOUT, cwd=folder
    )


def _format(config: Path) -> None:
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    # One argument with "=": an id may begin with "-", which would read as an option.
    argv = kafka_command(
        "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", f"--config={config}"
    )
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise EmbeddedEngineError(f"formatting Kafka's log directory failed: {completed.stderr}")


def consumer_groups_describe(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """Kafka's own ``kafka-consumer-groups --describe``: lag per (topic, partition)."""
    argv = kafka_command(
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server", bootstrap, "--describe", "--group", group,
    )  # fmt: skip
    completed = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603
    if completed.returncode != 0:
        raise EmbeddedEngineError(f"kafka-consumer-groups failed: {completed.stderr.strip()}")
    lags: dict[tuple[str, int], int] = {}
    for line in completed.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[0] == group and fields[2].isdigit():
            lag = fields[5]
            lags[(fields[1], int(fields[2]))] = int(lag) if lag.isdigit() else -1
    return lags
