"""Fixtures shared by the contract tests: the example run every engineer codes against."""

import json
from typing import Any

import pytest

from support import events


@pytest.fixture(scope="session")
def example_lines() -> list[bytes]:
    """Each non-blank line of ``mimir_run.jsonl``, as the bytes a Kafka value would hold."""
    return events.example_lines()


@pytest.fixture(scope="session")
def example_objects(example_lines: list[bytes]) -> list[dict[str, Any]]:
    """The example lines parsed with the standard library, independent of the models."""
    return [json.loads(line) for line in example_lines]
