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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import Event
from sinks.graph.dialects import Dialect
from sinks.state import RunFacts, TaskKey, TaskState, fold


def task_execution_id(run_id: str, task_id: str) -> str:
    """The id orchestrators already use for a task's node: ``<run_id>-<task_id>``."""
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


def unpack(packed: list[Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The map a packed row stands for (the inverse of ``pack``)."""
    return {
        f: unpack(v, GROUP_FIELDS[f]) if f in GROUP_FIELDS and v is not None else v
        for f, v in zip(fields, packed, strict=True)
    }


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
    """Parameters of one batch's statements.

    Rows are built packed (``pack``'s lists, in the field tuples' order), which is what
    the statements take; ``runs``, ``events`` and ``attempts`` show them as maps.
    """

    packed_run_rows: list[list[Any]]
    """The batch's runs and the parents they name, in id order (the lock order)."""
    packed_event_rows: list[list[Any]]
    packed_attempt_rows: list[list[Any]]
    chains: list[list[Any]]
    run_ids: list[str]
    parent_ids: list[str]
    """Parents named by the batch that have no event in it."""
    task_execution_keys: list[list[str]]

    def packed_runs(self) -> list[list[Any]]:
        return self.packed_run_rows

    def packed_events(self) -> list[list[Any]]:
        return self.packed_event_rows

    def packed_attempts(self) -> list[list[Any]]:
        return self.packed_attempt_rows

    @property
    def runs(self) -> list[dict[str, Any]]:
        return [unpack(row, RUN_FIELDS) for row in self.packed_run_rows]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [unpack(row, EVENT_FIELDS) for row in self.packed_event_rows]

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return [unpack(row, ATTEMPT_FIELDS) for row in self.packed_attempt_rows]


def batch_rows(events: Iterable[Event], payloads: Mapping[str, str], dialect: Dialect) -> BatchRows:
    """Rows for the new events of a batch, sorted by id (a stable lock order on Neo4j).

    ``payloads`` holds each event's raw value by id: kept on its Event node, it is what a
    re-sent id is compared with and what a rebuild reads the event back from.
    """
    unique = sorted({e.event_id: e for e in events}.values(), key=_event_id)
    ledger = fold(unique)
    time = dialect.time
    run_ids = sorted(ledger.runs)
    named = {f.declaration.parent_run_id for f in ledger.runs.values() if f.declaration}
    parent_ids = sorted(p for p in named if p is not None and p not in ledger.runs)
    runs = [run_row(rid, ledger.runs[rid], dialect) for rid in run_ids]
    runs += [[p, None, None, False] for p in parent_ids]
    runs.sort(key=_first)
    tasks = ledger.tasks
    task_keys = sorted(tasks)
    return BatchRows(
        packed_run_rows=runs,
        packed_event_rows=[event_row(e, payloads[e.event_id], time) for e in unique],
        packed_attempt_rows=[attempt_row(k, tasks[k], time) for k in task_keys],
        chains=chain_rows(unique, dialect),
        run_ids=run_ids,
        parent_ids=parent_ids,
        task_execution_keys=_pairs((k.run_id, k.task_id) for k in task_keys),
    )


def _event_id(event: Event) -> str:
    return event.event_id


def _first(row: list[Any]) -> str:
    return str(row[0])


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


Time = Callable[[datetime], datetime | int]


def run_row(run_id: str, facts: RunFacts, dialect: Dialect) -> list[Any]:
    """A packed ``RUN_FIELDS`` row of one of the batch's own runs."""
    decl, final = facts.declaration, facts.finalization
    declaration = None
    if decl is not None:  # DECLARATION_FIELDS
        declaration = [
            decl.rank, dialect.time(decl.occurred_at), decl.event_id, decl.plan_id,
            decl.parent_run_id, decl.root_run_id, decl.title, decl.owner, decl.total_tasks,
            json_property(decl.attributes),
        ]  # fmt: skip
    finalization = None
    if final is not None:  # FINALIZATION_FIELDS
        finalization = [
            dialect.time(final.occurred_at), final.event_id, final.status, final.cancelled,
            json_property(final.final_result), final.error,
        ]  # fmt: skip
    return [run_id, declaration, finalization, True]


def attempt_row(key: TaskKey, state: TaskState, time: Time) -> list[Any]:
    """A packed ``ATTEMPT_FIELDS`` row."""
    start, result = state.start, state.result
    start_group = None
    if start is not None:  # START_FIELDS
        start_group = [
            time(start.occurred_at), start.event_id, start.title, start.agent_role,
            start.qc_role, start.prompt, list(start.depends_on), json_property(start.attributes),
        ]  # fmt: skip
    result_group = None
    if result is not None:  # RESULT_FIELDS
        rank = result.rank
        result_at = time(result.occurred_at)
        result_group = [
            rank, result_at, result.event_id, result.status,
            result_at if rank == 2 else None,  # endTime: only a terminal result ends it
            result.duration_ms, json_property(result.output), result.error,
            result.tokens_input, result.tokens_output, result.tool_calls, result.qc_passed,
            result.qc_score, result.qc_feedback, list(result.qc_issues),
            list(result.qc_required_fixes),
        ]  # fmt: skip
    run_id, task_id, attempt = key
    execution_id = f"{run_id}-{task_id}"  # task_execution_id
    return [
        f"{execution_id}-{attempt}",
        run_id,
        task_id,
        attempt,
        execution_id,
        start_group,
        result_group,
    ]


def event_row(event: Event, payload: str, time: Time) -> list[Any]:
    """A packed ``EVENT_FIELDS`` row."""
    # The type tag, not isinstance: a check against a pydantic model class goes
    # through ABCMeta and costs more than building the row.
    task_id: str | None = None
    attempt: int | None = None
    status: str | None = None
    if event.type == "task-start":
        task_id, attempt = event.task_id, event.attempt
    elif event.type == "task-result":
        task_id, attempt, status = event.task_id, event.attempt, event.status
    elif event.type == "run-finalized":
        status = event.status
    return [
        event.event_id, event.type, event.run_id, time(event.occurred_at), event.producer, task_id,
        attempt, status, payload,
    ]  # fmt: skip
