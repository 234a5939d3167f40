"""Discovery of sinks through the ``runledger.sinks`` entry-point group.

A third-party sink is a pip install away: its distribution declares
``[project.entry-points."runledger.sinks"] mysink = "mypkg:plugin"`` where ``plugin``
is a ``SinkPlugin``. The built-in sinks register themselves the same way.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from sinks.base import SinkPlugin

ENTRY_POINT_GROUP = "runledger.sinks"


class UnknownSinkError(LookupError):
    """A sink name was asked for that no installed distribution provides."""


def available_sinks() -> list[str]:
    """Names of every installed sink, sorted."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_plugin(name: str) -> SinkPlugin[Any]:
    """The plugin registered as ``name``; ``UnknownSinkError`` names the installed ones."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        plugin = ep.load()
        if not isinstance(plugin, SinkPlugin):
            raise TypeError(f"entry point {ep.value!r} for sink {name!r} is not a SinkPlugin")
        return plugin
    installed = ", ".join(available_sinks()) or "none"
    raise UnknownSinkError(f"unknown sink {name!r} (installed: {installed})")
