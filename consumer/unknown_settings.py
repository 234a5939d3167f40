"""Find ``RUNLEDGER_*`` variables that no setting reads: a typo must not pass silently.

pydantic-settings ignores variables it has no field for, so ``RUNLEDGER_KAFKA__BOOTSTRAP_SERVER``
(one letter short) would leave the consumer on its default broker without a word. The
known names come from the same models the configuration reference is generated from;
the environment and the ``.env`` file are both checked. Only names are reported, never
values (they may be secrets).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from consumer.settings_catalog import variables

PREFIX = "RUNLEDGER_"


def unknown_variables(environ: Mapping[str, str], env_file: Path = Path(".env")) -> list[str]:
    """One message per unknown variable, with the closest known name when there is one."""
    known = variables()
    names = {name.upper() for name in environ}
    if env_file.is_file():
        names |= {name.upper() for name in dotenv_values(env_file)}
    messages = []
    for name in sorted(n for n in names if n.startswith(PREFIX) and n not in known):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        messages.append(f"{name} is not a runledger setting and is ignored{hint}")
    return messages
