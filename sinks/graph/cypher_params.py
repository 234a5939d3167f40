"""Parameters as Cypher literals, the way FalkorDB takes them (a ``CYPHER k=v ...`` header).

FalkorDB reads parameters from a text header in front of the query. JSON is almost
Cypher: lists, strings, numbers, ``true``/``false``/``null`` read the same, so values are
encoded with the C JSON encoder. Two differences are handled:

* map keys are identifiers in Cypher, not strings: a value holding a map (seen as ``{"``
  in the JSON, which a JSON string cannot contain unescaped) is encoded by the slower
  recursive path instead;
* FalkorDB reads JSON's escapes except ``\\uXXXX``, which JSON uses only for control
  characters; those are passed raw instead (FalkorDB refuses NUL: that record then
  fails as bad data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_CONTROL_ESCAPE = re.compile(r"(\\+)u00([0-1][0-9a-fA-F])")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _unescape_control(match: re.Match[str]) -> str:
    slashes = match.group(1)
    if len(slashes) % 2 == 0:  # an escaped backslash followed by the letters "u00.."
        return match.group(0)
    return slashes[:-1] + chr(int(match.group(2), 16))


def _raw_controls(text: str) -> str:
    return _CONTROL_ESCAPE.sub(_unescape_control, text) if "\\u00" in text else text


def literal(value: Any) -> str:
    """A parameter value (None, bool, int, float, str, list, map) as a Cypher literal."""
    text: str = _json(value)
    if '{"' in text:
        return _literal_with_maps(value)
    return _raw_controls(text)


def _literal_with_maps(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_key(k)}:{_literal_with_maps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal_with_maps(v) for v in value) + "]"
    return _raw_controls(_json(value))


def _key(name: str) -> str:
    if _IDENTIFIER.match(name):
        return name
    if "`" in name or not name:
        raise ValueError(f"map key {name!r} cannot be a Cypher identifier")
    return f"`{name}`"


def header(params: Mapping[str, Any]) -> str:
    """``CYPHER a=... b=... `` for the query's parameters (empty without any)."""
    if not params:
        return ""
    return "CYPHER " + " ".join(f"{_key(k)}={literal(v)}" for k, v in params.items()) + " "
