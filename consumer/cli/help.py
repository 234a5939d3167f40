"""``--help`` that reads right: a flag shows no value type.

Typer 0.2x prints each option's Python type next to it in the rich help (``<str>``,
``<int range>``), which helps for options that take a value but makes a flag look as if it
took one (``--json <bool>``, even ``--help <bool>``). ``hide_flag_types`` leaves the type
column of flags empty; on a Typer without that column it does nothing.
"""

from __future__ import annotations

from typing import Any

import typer.core


def hide_flag_types() -> None:
    """Patch Typer's option help so that flags (``--json``, ``--help``) show no type."""
    option: Any = getattr(typer.core, "TyperOption", None)
    shown = getattr(option, "display_type_rich", None)
    if shown is None or getattr(shown, "hides_flags", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and not getattr(self, "count", False):
            return None
        result: str | None = shown(self, ctx)
        return result

    display_type_rich.hides_flags = True  # type: ignore[attr-defined]
    option.display_type_rich = display_type_rich
