"""Turn a batch of events into the parameter lists of the write statements.

The batch is pre-folded with ``sinks.state`` (one row per run and per task attempt, each
merge group already reduced to its winner within the batch), so every ``UNWIND`` meets
each node once and the statements only have to merge the batch's winners with what is
stored.

Rows are built as maps and sent *packed*: as lists in the order of the field tuples
below, which the statements read by position (``Packed``). Field names then
cross the wire once per statement instead of once per row, which makes the parameters
of a batch several times smaller and cheaper to encode and parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts import Event, RunFinalized, TaskResult, TaskStart
from sinks.graph.dialects import Dialect
from sinks.state import RunFacts, TaskKey, TaskState, fold


def task_execution_id(run_id: str, task_id: str) -> str:
    """The id orchestrators already use for a task's node: ``<run_id>-<task_id>``.

    ``link_dependencies`` builds the same id in Cypher (``te.runId + '-' + depId``).
    """
    return f"{run_id}-{task_id}"


def task_attempt_id(run_id: str, task_id: str, attempt: int) -> str:
    """Unique per run given the task execution id: the attempt number ends it."""
    return f"{task_execution_id(run_id, task_id)}-{attempt}"


def json_property(value: Any) -> str | None:
    """Graph properties hold no maps: strings stay as they are, other JSON is encoded."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


DECLARATION_FIELDS = (
    "declaredRank", "declaredAt", "declaredEventId", "planId", "parentRunId", "rootRunId",
    "title", "owner", "tasksDeclared", "attributes",
)  # fmt: skip
FINALIZATION_FIELDS = (
    "endTime", "finalizedEventId", "finalStatus", "cancelled", "finalResult", "error",
)  # fmt: skip
START_FIELDS = (
    "startTime", "startEventId", "title", "agentRole", "qcRole", "prompt", "dependsOn",
    "attributes",
)  # fmt: skip
RESULT_FIELDS = (
    "resultRank", "resultAt", "resultEventId", "status", "endTime", "duration", "output",
    "error", "tokensInput", "tokensOutput", "toolCalls", "qcPassed", "qcScore", "qcFeedback",
    "qcIssues", "qcRequiredFixes",
)  # fmt: skip
RUN_FIELDS = ("id", "declaration", "finalization", "own")
EVENT_FIELDS = (
    "id", "type", "runId", "occurredAt", "producer", "taskId", "attemptNumber", "status",
    "payload",
)  # fmt: skip
ATTEMPT_FIELDS = ("id", "runId", "taskId", "attemptNumber", "taskExecutionId", "start", "result")
CHAIN_FIELDS = ("runId", "firstAt", "firstId", "lastAt", "lastId")
GROUP_FIELDS = {
    "declaration": DECLARATION_FIELDS,
    "finalization": FINALIZATION_FIELDS,
    "start": START_FIELDS,
    "result": RESULT_FIELDS,
}
"""Fields that hold a merge group: a packed map of its own, or null."""


def pack(row: dict[str, Any], fields: tuple[str, ...]) -> list[Any]:
    """``row`` as a list in ``fields`` order (merge groups packed the same way)."""
    return [
        pack(row[f], GROUP_FIELDS[f]) if f in GROUP_FIELDS and row[f] is not None else row[f]
        for f in fields
    ]


@dataclass(frozen=True)
class Packed:
    """Cypher reading a packed row: ``Packed("row", EVENT_FIELDS).runId`` is ``row[2]``.

    Statements read fields by position instead of rebuilding maps: FalkorDB builds a map
    per row slowly, so a map is only built where one is set, when it is set.
    """

    variable: str
    fields: tuple[str, ...]

    def __getattr__(self, name: str) -> str:
        if name.startswith("_") or name not in self.fields:
            raise AttributeError(name)
        return f"{self.variable}[{self.fields.index(name)}]"

    def group(self, name: str) -> Packed:
        """The merge group in field ``name`` (a packed list, or null)."""
        return Packed(getattr(self, name), GROUP_FIELDS[name])

    def entries(self) -> str:
        """``f: row[i], ...``: the entries of the row's map (nested groups stay packed)."""
        return ", ".join(f"{f}: {getattr(self, f)}" for f in self.fields)


@dataclass(frozen=True)
class BatchRows:
    """Parameters of one batch's statements."""

    runs: list[dict[str, Any]]
    """The batch's runs and the parents they name, in id order (the lock order)."""
    events: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    chains: list[list[Any]]
    run_ids: list[str]
    parent_ids: list[str]
    """Parents named by the batch that have no event in it."""
    task_execution_keys: list[list[str]]
    started_task_execution_keys: list[list[str]]
    """Tasks with a ``task-start`` in the batch: only these can change their dependencies."""

    def packed_runs(self) -> list[list[Any]]:
        return [pack(row, RUN_FIELDS) for row in self.runs]

    def packed_events(self) -> list[list[Any]]:
        return [pack(row, EVENT_FIELDS) for row in self.events]

    def packed_attempts(self) -> list[list[Any]]:
        return [pack(row, ATTEMPT_FIELDS) for row in self.attempts]


def batch_rows(events: Iterable[Event], payloads: Mapping[str, str], dialect: Dialect) -> BatchRows:
    """Rows for the new events of a batch, sorted by id (a stable lock order on Neo4j).

    ``payloads`` holds each event's raw value by id: kept on its Event node, it is what a
    re-sent id is compared with and what a rebuild reads the event back from.
    """
    unique = sorted({e.event_id: e for e in events}.values(), key=lambda e: e.event_id)
    ledger = fold(unique)
    run_ids = sorted(ledger.runs)
    named = {f.declaration.parent_run_id for f in ledger.runs.values() if f.declaration}
    parent_ids = sorted(p for p in named if p is not None and p not in ledger.runs)
    runs = [run_row(rid, ledger.runs[rid], dialect) for rid in run_ids]
    runs += [{"id": p, "declaration": None, "finalization": None, "own": False} for p in parent_ids]
    task_keys = sorted(ledger.tasks)
    return BatchRows(
        runs=sorted(runs, key=lambda row: str(row["id"])),
        events=[event_row(e, payloads[e.event_id], dialect) for e in unique],
        attempts=[attempt_row(k, ledger.tasks[k], dialect) for k in task_keys],
        chains=chain_rows(unique, dialect),
        run_ids=run_ids,
        parent_ids=parent_ids,
        task_execution_keys=_pairs((k.run_id, k.task_id) for k in task_keys),
        started_task_execution_keys=_pairs(
            (k.run_id, k.task_id) for k in task_keys if ledger.tasks[k].start
        ),
    )


def _pairs(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Distinct (run id, task id) pairs in order, as lists (what both engines take)."""
    return [list(pair) for pair in sorted(set(pairs))]


def chain_rows(new_events: Iterable[Event], dialect: Dialect) -> list[list[Any]]:
    """Per run, where its new events start and end in chain order (``occurredAt``, ``id``)."""
    bounds: dict[str, tuple[Event, Event]] = {}
    for event in new_events:
        key = (event.occurred_at, event.event_id)
        first, last = bounds.get(event.run_id, (event, event))
        if key < (first.occurred_at, first.event_id):
            first = event
        if key > (last.occurred_at, last.event_id):
            last = event
        bounds[event.run_id] = (first, last)
    return [
        [run_id, dialect.time(first.occurred_at), first.event_id,
         dialect.time(last.occurred_at), last.event_id]
        for run_id, (first, last) in sorted(bounds.items())
    ]  # fmt: skip


def run_row(run_id: str, facts: RunFacts, dialect: Dialect) -> dict[str, Any]:
    decl, final = facts.declaration, facts.finalization
    declaration = None
    if decl is not None:
        declaration = {
            "declaredRank": decl.rank,
            "declaredAt": dialect.time(decl.occurred_at),
            "declaredEventId": decl.event_id,
            "planId": decl.plan_id,
            "parentRunId": decl.parent_run_id,
            "rootRunId": decl.root_run_id,
            "title": decl.title,
            "owner": decl.owner,
            "tasksDeclared": decl.total_tasks,
            "attributes": json_property(decl.attributes),
        }
    finalization = None
    if final is not None:
        finalization = {
            "endTime": dialect.time(final.occurred_at),
            "finalizedEventId": final.event_id,
            "finalStatus": final.status,
            "cancelled": final.cancelled,
            "finalResult": json_property(final.final_result),
            "error": final.error,
        }
    return {"id": run_id, "declaration": declaration, "finalization": finalization, "own": True}


def attempt_row(key: TaskKey, state: TaskState, dialect: Dialect) -> dict[str, Any]:
    start, result = state.start, state.result
    start_group = None
    if start is not None:
        start_group = {
            "startTime": dialect.time(start.occurred_at),
            "startEventId": start.event_id,
            "title": start.title,
            "agentRole": start.agent_role,
            "qcRole": start.qc_role,
            "prompt": start.prompt,
            "dependsOn": list(start.depends_on),
            "attributes": json_property(start.attributes),
        }
    result_group = None
    if result is not None:
        result_group = {
            "resultRank": result.rank,
            "resultAt": dialect.time(result.occurred_at),
            "resultEventId": result.event_id,
            "status": result.status,
            "endTime": dialect.time(result.ended_at) if result.ended_at else None,
            "duration": result.duration_ms,
            "output": json_property(result.output),
            "error": result.error,
            "tokensInput": result.tokens_input,
            "tokensOutput": result.tokens_output,
            "toolCalls": result.tool_calls,
            "qcPassed": result.qc_passed,
            "qcScore": result.qc_score,
            "qcFeedback": result.qc_feedback,
            "qcIssues": list(result.qc_issues),
            "qcRequiredFixes": list(result.qc_required_fixes),
        }
    return {
        "id": task_attempt_id(*key),
        "runId": key.run_id,
        "taskId": key.task_id,
        "attemptNumber": key.attempt,
        "taskExecutionId": task_execution_id(key.run_id, key.task_id),
        "start": start_group,
        "result": result_group,
    }


def event_row(event: Event, payload: str, dialect: Dialect) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": event.event_id,
        "type": event.type,
        "runId": event.run_id,
        "occurredAt": dialect.time(event.occurred_at),
        "producer": event.producer,
        "taskId": None,
        "attemptNumber": None,
        "status": None,
        "payload": payload,
    }
    if isinstance(event, TaskStart | TaskResult):
        row["taskId"] = event.task_id
        row["attemptNumber"] = event.attempt
    if isinstance(event, TaskResult | RunFinalized):
        row["status"] = event.status
    return row
