"""Graph figures: placeholder until the graph sink lands."""

from __future__ import annotations

from typing import Any


async def measure(bench: Any, topic: str, records: Any, round_: int) -> None:
    """Nothing to measure yet."""
