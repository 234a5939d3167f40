"""The suite runs from any clone: nothing it reads lies outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from support import events

ROOT = Path(__file__).resolve().parents[1]
# A path climbing out of the repository: ``parents[N]`` past the root, or ``../``.
ESCAPE = re.compile(r"""["']\.\./|"shared"\s*/|/work/""")


def test_the_example_run_and_its_expected_state_are_inside_the_repository() -> None:
    assert events.EXAMPLES.resolve().is_relative_to(ROOT)
    assert events.example_lines(), "tests/data/mimir_run.jsonl is empty"
    assert events.example_expected()["run"]["run_id"] == events.EXAMPLE_RUN_ID


def test_no_test_reads_a_file_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ESCAPE.search(line)
    ]
    assert not offenders, "tests reading outside the repository:\n" + "\n".join(offenders)
