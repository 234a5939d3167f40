"""Fixtures of the Helm chart tests: the loaded chart and a render factory.

Everything here is offline: Helm's Go engine through helm-python-sdk, no
cluster, no network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest

from support.helm import CHART_DIR, Rendered, RenderFn, load_values, render_chart


@pytest.fixture(scope="session")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm_python.Chart) -> RenderFn:
    """``render(values)`` or ``render(path)``: the chart rendered with those values."""

    def _render(values: dict[str, Any] | Path | None = None) -> Rendered:
        if isinstance(values, Path):
            values = load_values(values)
        return render_chart(chart, values)

    return _render
