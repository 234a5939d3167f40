"""``runledger reconcile`` on a real ledger, graph and topic: in sync exits 0, a silent change to
one run is reported with its run id and exits 1 (for a CronJob), a lone source is a usage error."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from sqlalchemy import update

from sinks.graph import GraphSink
from sinks.graph.settings import GraphSettings
from sinks.postgres import PostgresSink
from sinks.postgres.settings import PostgresSettings
from sinks.postgres.tables import runs

from support.events import run_id_of, valid_stream
from support.graph import count_graph_events, query
from support.kafka import keyed_by_run, produce
from support.pipelines import Flow, consuming, make_settings
from support.postgres import count_events, wait_for_events
from support.processes import runledger
from support.waiting import wait_until


async def _published(flow: Flow, seed: int) -> tuple[list[bytes], list[str]]:
    """A stream of 15 runs published to the flow's topic: its values and its run ids."""
    values = valid_stream(runs=15, seed=seed)
    await produce(flow.bootstrap, flow.topic, keyed_by_run(values))
    return values, sorted({run_id_of(v) for v in values})


async def test_reconcile_reports_drift_by_run_and_exits_non_zero(
    flow: Flow,
    tmp_path: Path,
) -> None:
    values, run_ids = await _published(flow, seed=83)
    async with consuming(make_settings(flow.bootstrap, flow.topic), [PostgresSink(flow.postgres)]):
        await wait_for_events(flow.engine, len(set(values)))
    env = {
        "RUNLEDGER_KAFKA__BOOTSTRAP_SERVERS": flow.bootstrap,
        "RUNLEDGER_KAFKA__TOPIC": flow.topic,
        "RUNLEDGER_POSTGRES__URL": flow.postgres.url.get_secret_value(),
        "COLUMNS": "200",
    }

    async def reconcile(*args: str) -> tuple[int, str, str]:
        result = await runledger("reconcile", "--sink", "postgres", *args, env=env, cwd=tmp_path)
        return result.code, result.stdout, result.stderr

    code, out, err = await reconcile("--with-topic")
    assert code == 0, err
    assert f"in sync: {len(run_ids)} run(s) agree across postgres, topic:{flow.topic}" in out

    drifted = run_ids[3]
    async with flow.engine.begin() as conn:  # a silent loss the consumer never saw
        await conn.execute(
            update(runs)
            .where(runs.c.run_id == drifted)
            .values(tokens_total=runs.c.tokens_total - 1)
        )
    code, out, err = await reconcile("--with-topic")
    assert code == 1, err
    assert drifted in out
    assert f"DRIFT: 1 of {len(run_ids)} run(s) differ" in out
    code, out, _ = await reconcile("--with-topic", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["drifted_runs"] == [drifted]
    assert [(d["run_id"], d["what"]) for d in report["drifts"]] == [(drifted, "tokens_total")]

    code, out, err = await reconcile()
    assert code == 2
    assert err.strip().startswith("runledger: reconciliation compares at least two sources")
    assert "Traceback" not in err


async def test_reconcile_compares_the_ledger_with_the_graph(
    flow: Flow,
    graph_settings: GraphSettings,
    tmp_path: Path,
) -> None:
    values, run_ids = await _published(flow, seed=89)
    graph = GraphSink(graph_settings)
    try:
        settings = make_settings(flow.bootstrap, flow.topic)
        async with consuming(settings, [PostgresSink(flow.postgres), GraphSink(graph_settings)]):

            async def written() -> bool:
                wanted = len(set(values))
                return (
                    await count_events(flow.engine) == wanted
                    and await count_graph_events(graph) == wanted
                )

            await wait_until(written, what="the stream written into both sinks")
        env = {
            "RUNLEDGER_SINKS": "postgres,graph",
            "RUNLEDGER_POSTGRES__URL": flow.postgres.url.get_secret_value(),
            "RUNLEDGER_GRAPH__URI": graph_settings.uri,
            "COLUMNS": "200",
        }

        result = await runledger("reconcile", env=env, cwd=tmp_path)
        assert result.code == 0, result.stderr
        assert f"in sync: {len(run_ids)} run(s) agree across postgres, graph" in result.stdout

        drifted = run_ids[5]
        await query(  # a silent change the consumer never made
            graph,
            "MATCH (r:Run {id: $id}) SET r.tokensTotal = r.tokensTotal + 7",
            write=True,
            id=drifted,
        )
        result = await runledger("reconcile", "--json", env=env, cwd=tmp_path)
        assert result.code == 1, result.stderr
        report = json.loads(result.stdout)
        assert report["drifted_runs"] == [drifted]
        assert [(d["run_id"], d["what"]) for d in report["drifts"]] == [(drifted, "tokens_total")]
        result = await runledger("reconcile", env=env, cwd=tmp_path)
        assert result.code == 1, result.stderr
        assert drifted in result.stdout
        assert f"DRIFT: 1 of {len(run_ids)} run(s) differ across postgres, graph" in result.stdout
    finally:
        await graph.close()


async def test_an_unreachable_graph_is_one_line_not_a_traceback(
    postgres_settings: PostgresSettings, tmp_path: Path
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = {
        "RUNLEDGER_SINKS": "postgres,graph",
        "RUNLEDGER_POSTGRES__URL": postgres_settings.url.get_secret_value(),
        "RUNLEDGER_GRAPH__URI": f"falkordb://127.0.0.1:{port}/nowhere",
    }
    result = await runledger("reconcile", env=env, cwd=tmp_path)
    assert result.code == 1
    assert result.stderr.startswith("runledger: error: cannot read 'graph': ConnectionError")
    assert "Traceback" not in result.stderr
