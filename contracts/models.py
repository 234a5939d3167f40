"""Pydantic models of the runledger message contract, schema_version 1.

These models are the single source of truth: the consumer validates with them and the
JSON Schemas that producers in other languages validate against are generated from them
(``contracts.schema_files``). Hence every field carries a ``description`` written for a
producer, and model docstrings end up in those schemas too.
"""

import re
from datetime import datetime
from typing import Annotated, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    Strict,
    StrictBool,
    StrictFloat,
    StringConstraints,
    TypeAdapter,
)

SCHEMA_VERSION: Final = 1
"""The contract major this build reads and writes (``schema_version`` is ``Literal[1]``)."""

MAX_ATTRIBUTES_BYTES: Final = 16 * 1024
"""Upper bound of ``attributes`` as compact UTF-8 JSON; keeps free-form data from
bloating every run row and graph node it is copied to."""

EventType = Literal["run-start", "task-start", "task-result", "run-finalized"]
TaskResultStatus = Literal["success", "failure", "cancelled", "skipped", "waiting"]
RunFinalStatus = Literal["completed", "failed", "cancelled", "partial"]

EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)
"""Every event type of schema_version 1, in contract order (used in error messages)."""

INT64_MAX: Final = 2**63 - 1
"""The widest integer any sink stores (PostgreSQL BIGINT, Neo4j and FalkorDB integers)."""

INT32_MAX: Final = 2**31 - 1
"""Bound of ``attempt``, ``total_tasks``, token counts and ``tool_calls``.

PostgreSQL keeps attempts and task counts in INTEGER columns. Token counts and tool calls
are summed per run over every attempt: with each attempt adding at most ``2 * INT32_MAX``
tokens, a run's sums stay below ``INT64_MAX`` for any run of fewer than 2**31 task
attempts, the same limit the run's INTEGER task counters already set. See
docs/producers.md, "Bounds"."""

JSON_SAFE_INT_MAX: Final = 2**53 - 1
"""Bound of ``duration_ms``: the largest integer every JSON parser reads exactly (RFC 7493,
I-JSON), about 285,000 years of milliseconds."""

MIN_YEAR: Final = 2
"""First year a timestamp may be written in (see ``MAX_YEAR``)."""
MAX_YEAR: Final = 9998
"""Last year a timestamp may be written in. Any offset (at most 23:59) keeps the UTC instant
within years 1..9999, the range every sink stores (Python and the PostgreSQL driver stop
at 9999, year 0 does not exist for them); 0001 and 9999 themselves are refused because an
offset could push the instant over the edge, and a regex cannot see the offset's effect."""


def _integral_number(value: object) -> object:
    """Read ``2.0`` as the integer 2, as JSON Schema's ``integer`` does; nothing else moves.

    JSON has one number type and every JSON Schema validator (ajv, jsonschema, Go's)
    accepts ``2.0`` where ``integer`` is asked, so the decoder does too. Strings such as
    ``"2"``, booleans and ``2.5`` reach the strict integer check below and are refused.
    """
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# Constraints before the validator, or pydantic publishes them as unknown "ge"/"le" keys.
Count = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX), BeforeValidator(_integral_number)]
Attempt = Annotated[int, Strict(), Field(ge=1, le=INT32_MAX), BeforeValidator(_integral_number)]
Milliseconds = Annotated[
    int, Strict(), Field(ge=0, le=JSON_SAFE_INT_MAX), BeforeValidator(_integral_number)
]


def _version_number(value: object) -> object:
    """``schema_version`` is the JSON number 1 (``1.0`` included, as for JSON Schema's
    ``const: 1``); pydantic's ``Literal[1]`` would also take ``true``, which equals 1 in
    Python but not in JSON."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be the number 1")
    return _integral_number(value)


EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=256)]
"""Run, task and plan ids: non-empty, since they become primary keys and graph ids."""

_YEAR: Final = (
    "(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
)
RFC3339_PATTERN: Final = (
    f"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""RFC 3339 ``date-time`` in years 0002..9998, without leap seconds, as a regex.

It is published in the JSON Schema next to ``format: date-time`` (many validators do not
check formats by default) and the decoder applies the very same regex, so a producer's
own validation and runledger agree on every timestamp but impossible calendar dates
(February 30), which only ``format: date-time`` refuses."""

_RFC3339: Final = re.compile(RFC3339_PATTERN)


def _require_timestamp_text(value: object) -> object:
    """Accept only RFC 3339 text in the published pattern, before pydantic reads it.

    pydantic alone accepts epoch numbers (guessing seconds or milliseconds), digit
    strings, ``00:00Z`` without seconds and ``,5`` fractions; the contract demands what
    ``RFC3339_PATTERN`` describes, and a guessed clock would silently corrupt ordering.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        return value
    raise ValueError(
        "must be an RFC 3339 timestamp string with an offset, in years "
        f"{MIN_YEAR:04d}..{MAX_YEAR}, e.g. 2025-11-14T15:36:13.643Z"
    )


def _to_milliseconds(value: datetime) -> datetime:
    """Keep a timestamp to the millisecond: FalkorDB stores epoch milliseconds, so finer
    digits would let two sinks order the same events differently."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_require_timestamp_text),
    AfterValidator(_to_milliseconds),
    Field(json_schema_extra={"pattern": RFC3339_PATTERN}),
]

_ATTRIBUTES_JSON: Final[TypeAdapter[dict[str, JsonValue]]] = TypeAdapter(dict[str, JsonValue])


def _bound_attributes(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """Enforce ``MAX_ATTRIBUTES_BYTES`` on the compact JSON encoding of ``attributes``."""
    size = len(_ATTRIBUTES_JSON.dump_json(value))
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValueError(
            f"encodes to {size} bytes of compact JSON, over the limit of "
            f"{MAX_ATTRIBUTES_BYTES} (16 KiB)"
        )
    return value


Attributes = Annotated[dict[str, JsonValue], AfterValidator(_bound_attributes)]


class _ContractModel(BaseModel):
    """Configuration shared by every model of the contract.

    Unknown fields are kept (``extra="allow"``) so a producer on a newer minor revision
    is not dead-lettered. Models are frozen because an event is a fact: sinks derive
    state from the set of events and must not alter one in passing. The config is
    written inline here (not in a shared variable) so the pydantic mypy plugin sees it.
    """

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        # NaN/Infinity are not JSON and PostgreSQL JSONB would refuse them later.
        allow_inf_nan=False,
        # Payloads may hold prompts and outputs; keep them out of ValidationError text.
        hide_input_in_errors=True,
    )


class TokenUsage(_ContractModel):
    """LLM tokens spent by one task attempt; failed attempts report what they cost too."""

    input: Count = Field(default=0, description="Prompt (input) tokens consumed.")
    output: Count = Field(default=0, description="Completion (output) tokens produced.")


class QualityCheck(_ContractModel):
    """Verdict of the quality-control reviewer on one task attempt."""

    passed: StrictBool | None = Field(
        default=None, description="Whether the attempt passed quality control; null if unknown."
    )
    score: StrictFloat | None = Field(
        default=None, ge=0, le=100, description="Quality score from 0 to 100 inclusive."
    )
    feedback: str | None = Field(default=None, description="Free-text reviewer feedback.")
    issues: list[str] = Field(default=[], description="Problems the reviewer found.")
    required_fixes: list[str] = Field(
        default=[], description="Changes the reviewer requires before the task may pass."
    )


class EventBase(_ContractModel):
    """Envelope carried by every runledger message, whatever its type."""

    schema_version: Annotated[Literal[1], BeforeValidator(_version_number)] = Field(
        description=(
            "Major version of this contract, always 1 here. A consumer rejects a higher "
            "major to its dead-letter topic instead of guessing."
        )
    )
    event_id: EventId = Field(
        description=(
            "Unique id of this event (1..128 characters) and its idempotency key: a "
            "re-sent event must reuse it, a different event must not."
        )
    )
    type: EventType = Field(description="Event type; selects the type-specific fields.")
    run_id: Identifier = Field(
        description=(
            "Run this event belongs to (1..256 characters), e.g. `exec-1763134573643`. "
            "Producers should also use it as the Kafka record key."
        )
    )
    occurred_at: Timestamp = Field(
        description=(
            "When it happened, on the producer's clock: an RFC 3339 timestamp with an "
            "offset, e.g. `2025-11-14T15:36:13.643Z`. Timestamps without offset are rejected."
        )
    )
    producer: str | None = Field(
        default=None, description="Name of the emitting service, for diagnostics."
    )
    attributes: Attributes | None = Field(
        default=None,
        description=(
            "Free-form JSON object stored with the event, at most 16 KiB as compact "
            "UTF-8 JSON. Kept as-is; never used for routing."
        ),
    )


class RunStart(EventBase):
    """A run began. Optional: a run is also created by the first event that names it."""

    type: Literal["run-start"] = Field(description="Always `run-start`.")
    plan_id: Identifier | None = Field(
        default=None, description="Plan this run executes (1..256 characters)."
    )
    parent_run_id: Identifier | None = Field(
        default=None, description="Run that spawned this one, for sub-runs."
    )
    root_run_id: Identifier | None = Field(
        default=None, description="Top-level run of the tree this run belongs to."
    )
    title: str | None = Field(default=None, description="Human-readable run title.")
    owner: str | None = Field(default=None, description="User or team the run belongs to.")
    total_tasks: Count | None = Field(
        default=None,
        description="Number of tasks the plan declares; the ledger counts more if it sees more.",
    )


class TaskStart(EventBase):
    """An attempt of a task began; the task counts as running until a result arrives."""

    type: Literal["task-start"] = Field(description="Always `task-start`.")
    task_id: Identifier = Field(description="Task id, unique within the run (1..256 characters).")
    attempt: Attempt = Field(
        default=1,
        description="1-based attempt number; a retry of the same task sends 2, 3, ...",
    )
    title: str | None = Field(default=None, description="Human-readable task title.")
    agent_role: str | None = Field(default=None, description="Role of the agent doing the task.")
    qc_role: str | None = Field(
        default=None, description="Role of the quality-control reviewer of the task."
    )
    prompt: str | None = Field(default=None, description="Prompt given to the agent.")
    depends_on: list[Identifier] = Field(
        default=[], description="Ids of the tasks of this run that this task depends on."
    )
    plan_id: Identifier | None = Field(
        default=None,
        description="Plan of the run, for producers that send no `run-start`.",
    )
    total_tasks: Count | None = Field(
        default=None,
        description="Declared task count of the run, for producers that send no `run-start`.",
    )
    parent_run_id: Identifier | None = Field(
        default=None,
        description="Parent run, for producers that send no `run-start`.",
    )


class TaskResult(EventBase):
    """Outcome of one task attempt: terminal, or ``waiting`` (paused on something external)."""

    type: Literal["task-result"] = Field(description="Always `task-result`.")
    task_id: Identifier = Field(description="Task id, unique within the run (1..256 characters).")
    attempt: Attempt = Field(
        default=1, description="1-based attempt number this result belongs to."
    )
    status: TaskResultStatus = Field(
        description=(
            "Outcome of the attempt. `waiting` is not terminal; any terminal status "
            "overrides it for the same attempt."
        )
    )
    output: JsonValue = Field(default=None, description="Result produced by the task, any JSON.")
    error: str | None = Field(default=None, description="Error message, typically on failure.")
    duration_ms: Milliseconds | None = Field(
        default=None,
        description="Wall-clock duration of the attempt in milliseconds, at most 2^53 - 1.",
    )
    tokens: TokenUsage | None = Field(default=None, description="Tokens consumed by this attempt.")
    tool_calls: Count | None = Field(
        default=None, description="Number of tool calls made by this attempt."
    )
    qc: QualityCheck | None = Field(
        default=None, description="Quality-control verdict on this attempt."
    )


class RunFinalized(EventBase):
    """The run ended; its status is final from then on, whatever arrives later."""

    type: Literal["run-finalized"] = Field(description="Always `run-finalized`.")
    status: RunFinalStatus | None = Field(
        default=None,
        description=(
            "Final status. When absent: `cancelled` if `cancelled` is true, else `failed` "
            "if any task's latest attempt failed, else `completed`."
        ),
    )
    cancelled: StrictBool = Field(default=False, description="Whether the run was cancelled.")
    final_result: JsonValue = Field(default=None, description="Result of the run, any JSON.")
    error: str | None = Field(default=None, description="Error message if the run failed.")


Event = Annotated[
    RunStart | TaskStart | TaskResult | RunFinalized,
    Field(discriminator="type"),
]
"""Any schema_version 1 message; ``type`` selects the model."""

EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event)
"""Validates raw JSON or Python data into the right ``Event`` model in one pass."""
