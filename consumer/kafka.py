"""aiokafka client options from settings: brokers, security (SASL, TLS) and fetch limits."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.helpers import create_ssl_context

from consumer.kafka_auth import token_provider
from consumer.settings import KafkaSettings


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
