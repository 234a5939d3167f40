"""Every statement the sink can send to Neo4j passes Neo4j's own linter, as Cypher 5.

No Neo4j server runs here, so Neo4j's parser and semantic analysis
(@neo4j-cypher/language-support, in tools/cypher-lint) stand in for it: zero errors and
zero warnings (deprecations, unknown labels, relationship types or properties). The
statements come from ``sinks.graph.statements.registry``, the only source the engines
send from, so a new statement cannot escape this test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

from contracts import Event, decode_event
from sinks.graph import statements as statements_module
from sinks.graph.dialects import FALKORDB, NEO4J
from sinks.graph.planner import BatchPlanner
from sinks.graph.rows import BatchRows, batch_rows
from sinks.graph.statements import (
    LABELS,
    PROPERTY_KEYS,
    RELATIONSHIP_TYPES,
    Statement,
    registry,
    write_statements,
)

from support.events import example_lines

LINTER = Path(__file__).resolve().parents[3] / "tools" / "cypher-lint"


def _example_events() -> dict[str, tuple[Event, str]]:
    """The example run's events with their payloads, by event id."""
    events = {}
    for line in example_lines():
        event = decode_event(line)
        events[event.event_id] = (event, line.decode())
    return events


def _example_rows() -> BatchRows:
    events = _example_events()
    payloads = {event_id: payload for event_id, (_, payload) in events.items()}
    return batch_rows([event for event, _ in events.values()], payloads, FALKORDB)


def _example_parameters() -> dict[str, Any]:
    rows = _example_rows()
    return {
        "ids": [e["id"] for e in rows.events],
        "runs": rows.packed_runs(),
        "events": rows.packed_events(),
        "attempts": rows.packed_attempts(),
        "runIds": rows.run_ids,
        "taskExecutionKeys": rows.task_execution_keys,
        "chains": rows.chains,
        "parentIds": rows.parent_ids,
        "genericLabel": True,
        "rebuiltRunIds": rows.run_ids,
        "emptiedRunIds": rows.run_ids,
        "absentIds": [e["id"] for e in rows.events],
        "storedPayloads": [[e["id"], e["payload"]] for e in rows.events],
        "runEventCounts": [[run_id, 1] for run_id in rows.run_ids],
    }


def _lint(statements: dict[str, str], parameters: dict[str, Any]) -> dict[str, list[Any]]:
    node = shutil.which("node")
    assert node, "Node.js is needed for the Cypher linter"
    assert (LINTER / "node_modules").is_dir(), (
        f"run `npm ci --prefix {LINTER.relative_to(LINTER.parents[1])}` first"
    )
    request = {
        "statements": statements,
        "labels": list(LABELS),
        "relationshipTypes": list(RELATIONSHIP_TYPES),
        "propertyKeys": list(PROPERTY_KEYS),
        "parameters": parameters,
    }
    done = subprocess.run(
        [node, str(LINTER / "lint.mjs")],
        input=json.dumps(request).encode(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    report: dict[str, list[Any]] = json.loads(done.stdout)
    return report


def test_every_neo4j_statement_is_clean_cypher_5() -> None:
    statements = {s.name: s.text for s in registry(NEO4J)}
    parameters = _example_parameters()
    assert set().union(*(s.params for s in registry(NEO4J))) == set(parameters)

    report = _lint(statements, parameters)

    assert set(report) == set(statements)
    problems = {name: found for name, found in report.items() if found}
    assert problems == {}


def test_the_linter_finds_what_it_should() -> None:
    """The check can fail: a deprecated function, a typo and a syntax error are reported."""
    report = _lint(
        {
            "deprecated": "MATCH (r:Run) WHERE id(r) = 1 RETURN r.id",
            "typo": "MATCH (r:Run) RETURN r.tokensInptu",
            "syntax": "MATCH (r:Run RETURN r",
        },
        {},
    )
    assert any("deprecated" in d["message"] for d in report["deprecated"])
    assert any("tokensInptu" in d["message"] for d in report["typo"])
    assert any(d["severity"] == 1 for d in report["syntax"])


def test_every_row_property_is_in_the_vocabulary() -> None:
    """The vocabulary handed to the linter covers every key the rows carry."""
    rows = _example_rows()
    keys: set[str] = set()
    for table in (rows.runs, rows.events, rows.attempts):
        for row in table:
            keys |= set(row)
            for group in ("declaration", "finalization", "start", "result"):
                if isinstance(row.get(group), dict):
                    keys |= set(row[group])
    assert keys <= set(PROPERTY_KEYS), keys - set(PROPERTY_KEYS)


def test_the_registry_holds_every_statement_the_code_defines_or_plans() -> None:
    """A statement defined in the module, or planned for a batch, but left out of the
    registry would escape the lint: fail instead."""
    registered = {s.text for s in registry(NEO4J)}
    defined = [v for v in vars(statements_module).values() if isinstance(v, Statement)]
    assert defined
    assert {s.text for s in defined} - registered == set()
    batch_statements = write_statements(NEO4J)
    every_field = [getattr(batch_statements, f.name) for f in fields(batch_statements)]
    assert {s.text for s in every_field} <= registered

    planned = BatchPlanner(NEO4J, generic_label=True).calls(_example_events())
    assert {s.name for s, _ in planned} == {s.name for s in write_statements(NEO4J).in_order()}
    assert {s.text for s, _ in planned} <= registered
