"""The one place Kafka clients are built from settings: brokers, security, limits.

Every consumer, producer and admin client of runledger (the pipelines, the dead-letter
reader and replay, ``publish``, the demo and the benchmark) comes from here, so each one
honours the SASL and TLS settings the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from consumer.kafka_auth import token_provider
from consumer.settings import KafkaSettings

log = structlog.get_logger("runledger.kafka")


def connection_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Options shared by consumers, producers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers,
        "client_id": kafka.client_id,
        "security_protocol": kafka.security_protocol,
    }
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None,
            certfile=str(kafka.ssl_certfile) if kafka.ssl_certfile else None,
            keyfile=str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None,
            password=kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None,
        )
    provider = token_provider(kafka) if kafka.security_protocol.startswith("SASL_") else None
    if provider is not None:
        options["sasl_mechanism"] = "OAUTHBEARER"
        options["sasl_oauth_token_provider"] = provider
    elif kafka.security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = (
            kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
        )
    return options


def consumer_options(kafka: KafkaSettings, sink: str) -> dict[str, Any]:
    """A manually committing consumer in the sink's own group, starting at the earliest record."""
    return {
        **connection_options(kafka),
        "group_id": kafka.group_id(sink),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_bytes": kafka.max_batch_bytes,
        "max_partition_fetch_bytes": kafka.max_partition_fetch_bytes,
        "session_timeout_ms": kafka.session_timeout_ms,
        "max_poll_interval_ms": kafka.max_poll_interval_ms,
        "isolation_level": "read_committed",
    }


def producer_options(kafka: KafkaSettings) -> dict[str, Any]:
    """A durable producer: every write acknowledged by all in-sync replicas.

    Not idempotent (some Kafka-protocol brokers refuse InitProducerId): a dead letter
    sent twice after a retry carries the same original coordinates, so it is harmless.
    """
    return {**connection_options(kafka), "acks": "all", "linger_ms": 5}


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions in order, or none when the brokers have no such topic.

    ``partitions_for_topic`` answers only for topics the client already tracks, and a
    consumer that ``assign``s partitions tracks none; aiokafka has no public call that
    adds one, so this asks its client as its own producer does (``partitions_for``).
    """
    if topic not in await consumer.topics():
        return []
    found: set[int] = await consumer._client._wait_on_metadata(topic)
    return [TopicPartition(topic, p) for p in sorted(found)]


def new_consumer(
    kafka: KafkaSettings, sink: str | None = None, **overrides: Any
) -> AIOKafkaConsumer:
    """The sink's group consumer; without ``sink``, a group-less reader from its earliest record."""
    if sink is not None:
        options = consumer_options(kafka, sink)
    else:
        options = {
            **connection_options(kafka),
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_partition_fetch_bytes": kafka.max_partition_fetch_bytes,
        }
    return AIOKafkaConsumer(**{**options, **overrides})


def new_producer(kafka: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    """A durable producer (``producer_options``), with ``overrides`` such as size limits."""
    return AIOKafkaProducer(**{**producer_options(kafka), **overrides})


@contextlib.asynccontextmanager
async def admin_client(kafka: KafkaSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client, closed on exit."""
    admin = AIOKafkaAdminClient(**connection_options(kafka))
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topics(
    kafka: KafkaSettings,
    topics: Sequence[str],
    partitions: int = 1,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create the topics that do not exist yet (another client creating one too is fine)."""
    async with admin_client(kafka) as admin:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(t, partitions, 1, topic_configs=dict(configs or {}))
            for t in topics
            if t not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("created topics", topics=[t.name for t in missing])
