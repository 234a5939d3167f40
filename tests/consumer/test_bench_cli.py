"""``runledger bench`` at a tiny size: every figure is measured and reported, nothing timed.

Speed itself is proved by running the benchmark, not here: this only checks that one
run against the real services fills in every figure the issue names, in the table and
in ``--json``, and cleans up after itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

RUNLEDGER = Path(sys.executable).with_name("runledger")
SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"

THROUGHPUTS = (
    "raw_eps",
    "per_event_eps",
    "sink_ceiling_eps",
    "sink_ceiling_small_runs_eps",
    "sink_ceiling_large_runs_eps",
    "e2e_postgres_eps",
    "peer_eps",
    "graph_eps",
    "graph_per_event_eps",
    "graph_sink_ceiling_eps",
    "e2e_both_eps",
    "neo4j_graph_eps",
    "neo4j_graph_per_event_eps",
    "neo4j_graph_sink_ceiling_eps",
    "neo4j_e2e_both_eps",
)
TINY = ["--events", "400", "--repeat", "1", "--per-event-sample", "40"]
TINY += ["--latency-seconds", "1", "--backlog", "600", "--postgres-url", SERVER]


# ``runledger`` as installed without the ``bench`` extra: Quix Streams cannot be imported.
WITHOUT_PEER = (
    "import sys; sys.modules['quixstreams'] = None; sys.argv[0] = 'runledger'; "
    "from consumer.cli import main; main()"
)


def _bench(
    kafka_bootstrap: str, *args: str, without_peer: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap}
    command = [sys.executable, "-c", WITHOUT_PEER] if without_peer else [str(RUNLEDGER)]
    return subprocess.run(
        [*command, "bench", *TINY, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


async def _bench_databases() -> list[str]:
    conn = await asyncpg.connect(SERVER)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'runledger_bench_%'"
        )
    finally:
        await conn.close()
    return [row["datname"] for row in rows]


async def test_bench_json_has_every_figure(kafka_bootstrap: str) -> None:
    before = set(await _bench_databases())
    done = _bench(kafka_bootstrap, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)

    for name in THROUGHPUTS:
        assert figures[name] > 0, name
        assert len(figures["samples"][name]) == 1, name
    for name in (
        "e2e_postgres_vs_peer",
        "e2e_postgres_vs_sink_ceiling",
        "large_runs_vs_small_runs",
        "both_vs_slower_alone",
        "neo4j_both_vs_slower_alone",
    ):
        assert figures[name] > 0, name
    assert 0 <= figures["p50_event_age_s"] <= figures["p99_event_age_s"]
    assert figures["offered_load_eps"] > 0
    assert figures["backlog_handled"] >= 600
    assert 20 < figures["peak_rss_mb"] < 4096
    assert set(figures["targets"]) == {
        "e2e_postgres_vs_peer >= 1.5",
        "e2e_postgres_vs_sink_ceiling >= 0.9",
        "large_runs_vs_small_runs >= 0.8",
        "graph_eps >= 10000",
        "both_vs_slower_alone >= 0.8",
        "peak_rss_mb <= 200",
        "p99_event_age_s < 1",
    }
    assert all(check["met"] in (True, False) for check in figures["targets"].values())
    assert set(await _bench_databases()) == before  # the scratch database was dropped


def test_bench_table_names_every_target_and_how_to_get_the_peer(kafka_bootstrap: str) -> None:
    done = _bench(kafka_bootstrap, "--skip-neo4j", "--backlog", "0", without_peer=True)
    assert done.returncode == 0, done.stderr[-2000:]
    table = " ".join(done.stdout.split())
    assert "not measured" in table
    assert "pip install 'runledger[bench]'" in table
    for target in ("e2e_postgres_vs_peer >= 1.5", "graph_eps >= 10000", "peak_rss_mb <= 200"):
        assert target in table, target
    assert "FalkorDB" in table
    assert "Neo4j" in table


def test_bench_without_postgres_is_one_clear_error(kafka_bootstrap: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RUNLEDGER_POSTGRES__URL"}
    done = subprocess.run(
        [str(RUNLEDGER), "bench", "--events", "10", "--skip-graph"],
        env={**env, "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "needs PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
