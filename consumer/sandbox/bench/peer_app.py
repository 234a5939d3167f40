"""The peer, run in a process of its own: Quix Streams' ``PostgreSQLSink`` on the same topic.

What a team would write with a general stream framework: every event a row, upserted
on ``event_id`` into one table (columns added as new fields appear), at-least-once, one
process. Started by ``consumer.sandbox.bench.peer`` as
``python -m consumer.sandbox.bench.peer_app BOOTSTRAP TOPIC DSN TABLE COUNT``; it prints one JSON
line: the events and the seconds from the first message to the final flush.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from quixstreams import Application
from quixstreams.sinks.community.postgresql import PostgreSQLSink


def main(bootstrap: str, topic: str, dsn: str, table: str, count: int) -> None:
    url = urlsplit(dsn)
    first: list[float] = []

    def note_first(value: Any) -> None:
        if not first:
            first.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="runledger-bench-quix-") as state:
        app = Application(
            broker_address=bootstrap,
            consumer_group=f"bench-peer-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            state_dir=state,
            loglevel="WARNING",
            use_changelog_topics=False,
        )
        sink = PostgreSQLSink(
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            dbname=url.path.lstrip("/"),
            user=url.username or "postgres",
            password=url.password or "",
            table_name=table,
            primary_key_columns="event_id",
            upsert_on_primary_key=True,
            include_metadata=False,
        )
        sdf = app.dataframe(app.topic(topic, value_deserializer="json"))
        sdf.update(note_first).sink(sink)
        app.run(count=count, collect=False)
    print(json.dumps({"events": count, "seconds": time.perf_counter() - first[0]}))


if __name__ == "__main__":
    bootstrap, topic, dsn, table, count = sys.argv[1:6]
    main(bootstrap, topic, dsn, table, int(count))
