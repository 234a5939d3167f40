"""The checked-in JSON Schemas are current and usable by producers in other languages.

``jsonschema`` stands in for a TypeScript or Go validator here: if the example run passes
and bad messages fail with it, a producer validating against these files before sending
will not feed the dead-letter topic.
"""

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from contracts import DecodeError, decode_event
from contracts.schema_files import SCHEMA_DIR, main, render_schemas, write_schemas

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_NAMES = [
    "event.v1.schema.json",
    "run-start.v1.schema.json",
    "task-start.v1.schema.json",
    "task-result.v1.schema.json",
    "run-finalized.v1.schema.json",
]


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return schema


def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(name))


def test_checked_in_schemas_match_the_models() -> None:
    rendered = render_schemas()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.schema.json")}
    stale = sorted(
        name for name in rendered.keys() | on_disk.keys() if rendered.get(name) != on_disk.get(name)
    )
    assert not stale, (
        f"contracts/schemas is out of date with the models ({', '.join(stale)}); "
        "run `python -m contracts.schema_files` and commit the result"
    )


def test_one_file_for_the_union_and_one_per_type() -> None:
    assert sorted(render_schemas()) == sorted(SCHEMA_NAMES)


def test_rendering_is_deterministic_and_newline_terminated() -> None:
    first, second = render_schemas(), render_schemas()
    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_files_are_valid_standalone_2020_12_schemas(name: str) -> None:
    schema = _schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:runledger:contracts:{name.removesuffix('.schema.json')}"
    assert "schema_version 1" in schema["title"]


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schemas_allow_additional_properties(name: str) -> None:
    """Forward compatibility: a field added by a newer producer must not fail validation."""
    schema = _schema(name)
    objects = [schema, *schema.get("$defs", {}).values()]
    models = [o for o in objects if o.get("type") == "object" and "properties" in o]
    assert models
    assert all(model["additionalProperties"] is True for model in models)


def test_every_property_is_described() -> None:
    for name in SCHEMA_NAMES:
        schema = _schema(name)
        objects = [schema, *schema.get("$defs", {}).values()]
        for model in (o for o in objects if "properties" in o):
            for prop, definition in model["properties"].items():
                assert definition.get("description"), f"{name}: {prop} has no description"


def test_examples_validate_against_the_union_schema(
    example_objects: list[dict[str, Any]],
) -> None:
    validator = _validator("event.v1.schema.json")
    for example in example_objects:
        errors = [error.message for error in validator.iter_errors(example)]
        assert errors == [], example["event_id"]


def test_examples_validate_against_their_type_schema(
    example_objects: list[dict[str, Any]],
) -> None:
    for example in example_objects:
        validator = _validator(f"{example['type']}.v1.schema.json")
        assert validator.is_valid(example), example["event_id"]


def test_unknown_fields_validate(example_objects: list[dict[str, Any]]) -> None:
    example = {**example_objects[2], "trace_id": "abc", "tokens": {"input": 1, "cached": 9}}
    assert _validator("event.v1.schema.json").is_valid(example)


_DELETE = object()


def _set(document: dict[str, Any], path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        document = document[key]
    if value is _DELETE:
        del document[leaf]
    else:
        document[leaf] = value


BAD_TASK_RESULTS = [
    ("status", "done"),
    ("status", _DELETE),
    ("task_id", _DELETE),
    ("task_id", ""),
    ("attempt", 0),
    ("tokens.input", -1),
    ("qc.score", 101),
    ("event_id", ""),
    ("run_id", 42),
    ("occurred_at", "2025-11-14T15:36:18.700"),
    ("occurred_at", 1763134578),
    ("schema_version", 2),
    ("schema_version", _DELETE),
    ("type", "task-progress"),
    ("type", _DELETE),
]


@pytest.mark.parametrize(
    ("path", "value"),
    BAD_TASK_RESULTS,
    ids=[f"{p}={'<deleted>' if v is _DELETE else repr(v)}" for p, v in BAD_TASK_RESULTS],
)
def test_bad_messages_fail_both_the_schema_and_decoding(
    example_objects: list[dict[str, Any]], path: str, value: object
) -> None:
    bad = copy.deepcopy(example_objects[2])  # a task-result with tokens and qc
    _set(bad, path, value)
    assert not _validator("event.v1.schema.json").is_valid(bad)
    if bad.get("type") == "task-result":
        assert not _validator("task-result.v1.schema.json").is_valid(bad)
    with pytest.raises(DecodeError):
        decode_event(json.dumps(bad).encode())


def test_write_then_check_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dir", str(tmp_path)]) == 0
    assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == render_schemas()
    assert "wrote:" in capsys.readouterr().out
    assert main(["--check", "--dir", str(tmp_path)]) == 0

    (tmp_path / "task-result.v1.schema.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "task-progress.v1.schema.json").write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "stale:" in captured.out
    assert "task-result.v1.schema.json" in captured.out
    assert "task-progress.v1.schema.json" in captured.out
    assert "python -m contracts.schema_files" in captured.err

    actions = write_schemas(tmp_path)
    assert actions[tmp_path / "task-result.v1.schema.json"] == "wrote"
    assert actions[tmp_path / "task-progress.v1.schema.json"] == "removed"
    assert actions[tmp_path / "event.v1.schema.json"] == "unchanged"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SCHEMA_NAMES)


def test_module_is_runnable() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "contracts.schema_files", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
