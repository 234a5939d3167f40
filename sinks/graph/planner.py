"""Which statements a batch needs, with their parameters (engine-independent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts import Event
from sinks.graph.dialects import Dialect
from sinks.graph.engine import Call
from sinks.graph.rows import batch_rows
from sinks.graph.statements import Statement, write_statements


def _call(statement: Statement, **values: Any) -> Call:
    return statement, statement.bind(values)


class BatchPlanner:
    """Builds a batch's calls: merges for the new events, then refreshes of what they touch."""

    def __init__(self, dialect: Dialect, generic_label: bool) -> None:
        self._dialect = dialect
        self._generic_label = generic_label
        self._statements = write_statements(dialect)

    def calls(self, events: Sequence[Event], existing: frozenset[str]) -> list[Call]:
        """The calls writing the events not in ``existing``; none when all are duplicates."""
        new = [e for e in events if e.event_id not in existing]
        if not new:
            return []
        rows = batch_rows(new, self._dialect)
        s, label = self._statements, self._generic_label
        calls = [
            _call(s.merge_runs, runs=rows.packed_runs(), genericLabel=label),
            _call(s.merge_events, events=rows.packed_events()),
        ]
        if rows.attempts:
            calls += [
                _call(s.merge_attempts, attempts=rows.packed_attempts(), genericLabel=label),
                _call(s.refresh_tasks, taskExecutionKeys=rows.task_execution_keys),
                _call(
                    s.link_dependencies,
                    startedTaskExecutionKeys=rows.started_task_execution_keys,
                ),
                _call(s.link_dependents, taskExecutionKeys=rows.task_execution_keys),
            ]
        calls += [
            _call(s.refresh_runs, runIds=rows.run_ids),
            _call(s.link_plans, runIds=rows.run_ids),
            _call(s.link_parents, runIds=rows.run_ids),
            _call(s.delete_bare_runs, parentIds=rows.parent_ids),
            _call(s.link_chains, chains=rows.chains),
        ]
        return calls
