"""The peer in the benchmark: Quix Streams into PostgreSQL, on the same topic and database.

A team choosing between runledger and a general stream framework runs both on their
topic; the benchmark does the same, alternating the two in one run so that the ratio
is measured under the same load. Quix Streams is an optional extra
(``pip install 'runledger[bench]'``); without it the peer is reported as not measured,
with that command.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import warnings

INSTALL_HINT = "pip install 'runledger[bench]'"


def peer_available() -> bool:
    """Whether Quix Streams (with its PostgreSQL sink's driver) can be imported.

    Its imports warn of deprecations inside its own dependencies (authlib's, through
    confluent-kafka), which would open the benchmark's output with nothing a user can
    act on.
    """
    try:
        with warnings.catch_warnings(record=True):  # recorded and dropped, not shown
            importlib.import_module("quixstreams.sinks.community.postgresql")
    except ImportError:
        return False
    return True


async def peer_eps(bootstrap: str, topic: str, dsn: str, table: str, count: int) -> float:
    """Events per second of the peer consuming ``count`` events of ``topic`` into ``table``."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "consumer.sandbox.bench.peer_app"),
        *(bootstrap, topic, dsn, table, str(count)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError("the peer (Quix Streams) failed: " + " | ".join(tail))
    figures = json.loads(out.decode().strip().splitlines()[-1])
    return float(figures["events"]) / float(figures["seconds"])
