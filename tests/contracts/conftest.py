"""Fixtures shared by the contract tests: the example run every engineer codes against."""

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def example_lines() -> list[bytes]:
    """Each non-blank line of ``mimir_run.jsonl``, as the bytes a Kafka value would hold."""
    text = (EXAMPLES_DIR / "mimir_run.jsonl").read_text(encoding="utf-8")
    return [line.encode() for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def example_objects(example_lines: list[bytes]) -> list[dict[str, Any]]:
    """The example lines parsed with the standard library, independent of the models."""
    return [json.loads(line) for line in example_lines]
