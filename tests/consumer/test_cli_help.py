"""Every ``--help`` reads as plain text: flags take no value, no reStructuredText markup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from consumer.cli.app import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "runledger")
def test_help_shows_no_value_type_on_flags_and_no_backticks(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "`" not in result.output


def test_options_that_take_a_value_still_say_so() -> None:
    result = CliRunner().invoke(app, ["runs", "list", "--help"], env={"COLUMNS": "200"})

    line = next(x for x in result.output.splitlines() if "--page" in x)
    assert "int" in line.lower()
