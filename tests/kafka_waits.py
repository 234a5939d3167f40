"""Conditions on the broker for ``wait_until``: "not yet" while the broker is still setting up.

On a fresh Apache Kafka the first group lookup answers "coordinator not available" while
``__consumer_offsets`` is being created; a condition polled with ``wait_until`` must read
that as "not committed yet", not fail the test.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError

from delivery_support import committed_offsets


async def committed_now(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """The group's committed positions, or none while the broker cannot tell yet."""
    try:
        return await committed_offsets(bootstrap, group_id, topic)
    except KafkaError as error:
        if not error.retriable:
            raise
        return {}
