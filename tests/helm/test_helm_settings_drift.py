"""Every ``RUNLEDGER_*`` variable the chart sets is one runledger reads.

pydantic-settings ignores an unknown variable, so a chart that sets a renamed or
misspelled setting would deploy fine and silently run on the default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.settings_catalog import variables

from support.helm import Rendered, RenderFn, ci_files


def _runledger_variables(rendered: Rendered) -> set[str]:
    """The RUNLEDGER_* names of every ConfigMap, and of every container's own env list."""
    names: set[str] = set()
    for config_map in rendered.of_kind("ConfigMap"):
        names.update(config_map.get("data") or {})
    for kind in ("Deployment", "Job"):
        for workload in rendered.of_kind(kind):
            pod = workload["spec"]["template"]["spec"]
            for container in pod["containers"] + pod.get("initContainers", []):
                names.update(var["name"] for var in container.get("env", []))
    return {name for name in names if name.startswith("RUNLEDGER_")}


@pytest.mark.parametrize("values", ci_files(), ids=lambda path: path.stem)
def test_the_chart_sets_only_variables_runledger_reads(render: RenderFn, values: Path) -> None:
    set_by_chart = _runledger_variables(render(values))
    assert set_by_chart, "no RUNLEDGER_* variable found: the test would prove nothing"
    assert set_by_chart - variables() == set()
