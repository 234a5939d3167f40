"""Print a pip constraints file pinning every direct dependency to its declared lower bound.

``pip install -c <(python .ci/lower_bounds.py) .`` then resolves the oldest versions
pyproject.toml claims to support (what ``uv pip install --resolution lowest-direct``
does), so a lower bound that is too low fails CI instead of a user's install.
Reads the runtime dependencies and the extras named on the command line.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def lower_bounds(extras: list[str]) -> dict[str, str]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins: dict[str, str] = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if match and match.group(1) != project["name"]:
            pins[match.group(1).lower()] = match.group(3)
    return pins


if __name__ == "__main__":
    for name, version in sorted(lower_bounds(sys.argv[1:]).items()):
        print(f"{name}=={version}")
