"""The import contracts (checked by ``lint-imports`` in .ci/run) cover the whole consumer.

``pyproject.toml`` lists the running consumer's modules by name in its import contracts;
a module added to ``consumer/`` without being listed would escape them.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_every_module_of_the_running_consumer_is_under_the_contracts() -> None:
    modules = {f"consumer.{p.stem}" for p in (ROOT / "consumer").glob("*.py")} - {
        "consumer.__init__"
    }
    core_contracts = [c for c in _contracts() if "the running consumer" in str(c["name"])]
    assert len(core_contracts) == 2
    for contract in core_contracts:
        listed = set(contract["source_modules"])
        assert listed == modules, (
            f"{contract['name']!r}: list {sorted(modules - listed)} in pyproject.toml, "
            f"drop {sorted(listed - modules)}"
        )
